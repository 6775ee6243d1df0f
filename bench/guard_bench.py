"""Cost of the SQL guard: check_sql timings, with and without sqlglotc.

    python bench/guard_bench.py            # both modes, a markdown table
    python bench/guard_bench.py --runs 5000

sqlglotc ships no module of its own: it overlays compiled ``.so`` files on sqlglot's modules,
and Python's import system prefers an extension module to a source file of the same name. The
pure-Python run therefore happens in a subprocess that puts a finder first on
``sys.meta_path`` which loads every ``sqlglot`` module from its ``.py`` source.

Besides check_sql itself the table shows check_sql without its re-check of the rendered SQL
(step 8 of sqlgateway/guard/check.py, measured by stubbing it out), and sqlglot's own parse
(tokenize + parse) and generate for the same query: the floor the guard builds on. check_sql
parses twice (once more for the re-check) and generates once.
"""

from __future__ import annotations

import argparse
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]

QUERIES: dict[str, str] = {
    "point lookup": "SELECT * FROM claims WHERE claim_id = 123456",
    "3-table join + GROUP BY": (
        "SELECT p.product, a.region, count(*) AS n, sum(c.amount_claimed) AS total "
        "FROM claims c JOIN policies p ON p.policy_id = c.policy_id "
        "JOIN adjusters a ON a.adjuster_id = c.adjuster_id "
        "WHERE c.status = 'open' GROUP BY p.product, a.region ORDER BY total DESC LIMIT 20"
    ),
    "CTE + window function": (
        "WITH monthly AS (SELECT date_trunc('month', reported_at) AS month, "
        "sum(amount_claimed) AS total FROM claims GROUP BY 1) "
        "SELECT month, total, sum(total) OVER (ORDER BY month) AS running_total, "
        "lag(total) OVER (ORDER BY month) AS previous FROM monthly ORDER BY month"
    ),
    "~2 KB report": """
WITH paid AS (
  SELECT claim_id, sum(amount) AS paid, count(*) AS payments, max(paid_at) AS last_paid
  FROM payments
  WHERE method IN ('check', 'ach', 'wire')
  GROUP BY claim_id
), events AS (
  SELECT DISTINCT ON (claim_id) claim_id, event_type, created_at
  FROM claim_events
  ORDER BY claim_id, created_at DESC
), scored AS (
  SELECT c.claim_id, c.claim_number, c.status, c.loss_type, p.product, a.region,
         c.amount_claimed, coalesce(c.amount_approved, 0) AS approved,
         coalesce(pd.paid, 0) AS paid, pd.payments, pd.last_paid, e.event_type AS last_event,
         c.details ->> 'severity' AS severity,
         (c.details #>> '{vehicle,year}')::int AS vehicle_year,
         CASE WHEN c.amount_claimed > 20000 THEN 'large'
              WHEN c.amount_claimed > 5000 THEN 'medium' ELSE 'small' END AS size_band,
         date_part('day', coalesce(c.closed_at, now()) - c.reported_at) AS days_open,
         row_number() OVER (PARTITION BY a.region ORDER BY c.amount_claimed DESC) AS region_rank,
         percent_rank() OVER (PARTITION BY p.product ORDER BY c.amount_claimed) AS product_pct
  FROM claims c
  JOIN policies p ON p.policy_id = c.policy_id
  JOIN policyholders ph ON ph.policyholder_id = p.policyholder_id
  LEFT JOIN adjusters a ON a.adjuster_id = c.adjuster_id
  LEFT JOIN paid pd ON pd.claim_id = c.claim_id
  LEFT JOIN events e ON e.claim_id = c.claim_id
  WHERE c.reported_at >= now() - interval '365 days'
    AND ph.state IN ('TX', 'MA', 'IL')
    AND c.details ? 'vehicle'
)
SELECT region, product, size_band,
       count(*) AS claims,
       count(*) FILTER (WHERE status = 'open') AS open_claims,
       round(avg(days_open)::numeric, 1) AS avg_days_open,
       sum(amount_claimed) AS claimed,
       sum(approved) AS approved,
       sum(paid) AS paid,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY amount_claimed) AS median_claimed,
       string_agg(claim_number, ', ' ORDER BY amount_claimed DESC)
         FILTER (WHERE region_rank <= 3) AS top_claims,
       max(last_paid) AS last_payment,
       jsonb_agg(DISTINCT severity) AS severities
FROM scored
GROUP BY ROLLUP (region, product, size_band)
HAVING count(*) > 0
ORDER BY region NULLS LAST, product NULLS LAST, size_band NULLS LAST
LIMIT 200
""".strip(),
}


class SourceOnlyFinder(importlib.abc.MetaPathFinder):
    """Load every ``sqlglot`` module from its ``.py`` file, never a compiled overlay."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "sqlglot" and not fullname.startswith("sqlglot."):
            return None
        name = fullname.rpartition(".")[2]
        for entry in path if path is not None else sys.path:
            package = os.path.join(entry or ".", name)
            if os.path.isfile(os.path.join(package, "__init__.py")):
                return importlib.util.spec_from_file_location(
                    fullname,
                    os.path.join(package, "__init__.py"),
                    submodule_search_locations=[package],
                )
            if os.path.isfile(package + ".py"):
                return importlib.util.spec_from_file_location(fullname, package + ".py")
        return None


def measure(function: Callable[[], object], runs: int) -> dict[str, float]:
    """median/min/max of `runs` calls, in microseconds, after a warm-up."""
    for _ in range(max(50, runs // 10)):
        function()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        samples.append((time.perf_counter() - start) * 1e6)
    return {
        "median": statistics.median(samples),
        "min": min(samples),
        "max": max(samples),
    }


def _skip_recheck(*args: object) -> None:
    return None


def worker(runs: int) -> dict[str, object]:
    """Time the queries in this process, as it is (compiled or not)."""
    sys.path.insert(0, str(ROOT))
    import sqlglot.tokens

    from sqlgateway.guard import GuardPolicy, check, check_sql
    from sqlgateway.guard.parse import DIALECT

    policy = GuardPolicy()
    results: dict[str, object] = {"sqlglotc": sqlglot.tokens.SQLGLOTC_INSTALLED}
    recheck = check._recheck
    for label, sql in QUERIES.items():
        scaled = runs if len(sql) < 1000 else max(100, runs // 4)
        tree = DIALECT.parse(sql)[0]
        assert tree is not None
        row: dict[str, object] = {"chars": len(sql)}
        row["check_sql"] = measure(partial(check_sql, sql, policy), scaled)
        check._recheck = _skip_recheck
        try:
            row["without re-check"] = measure(partial(check_sql, sql, policy), scaled)
        finally:
            check._recheck = recheck
        row["sqlglot parse"] = measure(partial(DIALECT.parse, sql), scaled)
        row["sqlglot generate"] = measure(partial(DIALECT.generate, tree, copy=False), scaled)
        results[label] = row
    return results


def run_mode(pure: bool, runs: int) -> dict[str, object]:
    command = [sys.executable, __file__, "--worker", "--runs", str(runs)]
    if pure:
        command.append("--pure-python")
    output = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT)
    result: dict[str, object] = json.loads(output.stdout)
    return result


def report(modes: dict[str, dict[str, object]]) -> str:
    lines = [
        "| query | chars | sqlglot | check_sql µs median (min–max) | without re-check "
        "| sqlglot parse | sqlglot generate |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    for label in QUERIES:
        for mode, result in modes.items():
            row = result[label]
            assert isinstance(row, dict)
            full = row["check_sql"]
            lines.append(
                f"| {label} | {row['chars']} | {mode} "
                f"| {full['median']:.0f} ({full['min']:.0f}–{full['max']:.0f}) "
                f"| {row['without re-check']['median']:.0f} "
                f"| {row['sqlglot parse']['median']:.0f} "
                f"| {row['sqlglot generate']['median']:.0f} |"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=2000, help="timed calls per query")
    parser.add_argument("--json", action="store_true", help="print raw results as JSON")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--pure-python", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        if args.pure_python:
            sys.meta_path.insert(0, SourceOnlyFinder())
        print(json.dumps(worker(args.runs)))
        return 0
    modes = {"sqlglotc": run_mode(False, args.runs), "pure Python": run_mode(True, args.runs)}
    for mode, result in modes.items():
        compiled = result["sqlglotc"]
        if compiled != (mode == "sqlglotc"):
            print(f"warning: the {mode} run had sqlglotc={compiled}", file=sys.stderr)
    print(json.dumps(modes, indent=2) if args.json else report(modes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
