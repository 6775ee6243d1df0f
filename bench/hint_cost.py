"""What the hints cost: `python -m bench.hint_cost [--database-url URL] [--runs N]`.

1. Success path, per query with string literals: the notice (`answer_notices` on the cached
   verdict and catalog), median µs; and what noting comparisons adds to the guard's walk on a
   cache miss (check_sql with and without it, same process, interleaved).
2. A point lookup (no string literal): the notice step returns at once.
3. Error path on adversarial text: CPU time of `hints_for` (other dialects, PostgreSQL rules,
   names), per text: the first call (which builds the dialects' tokenizers), then median, p95
   and maximum over runs. The garbage collector is tuned as in the serving process
   (`tune_collector`): its occasional full collections, which any request may trigger, show
   in the maximum.

The catalog is the demo's, read from a live database (an embedded PostgreSQL in a temporary
directory unless --database-url names a superuser URL of your own).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import asyncpg

from bench.postgres import READER_ROLE, bench_server
from sqlgateway.app import tune_collector
from sqlgateway.catalog.introspect import read_live_tables
from sqlgateway.catalog.model import Catalog, merge
from sqlgateway.catalog.schema_docs import load_schema_docs
from sqlgateway.demo.database import ensure_demo
from sqlgateway.demo.files import demo_docs_dir
from sqlgateway.errors import GatewayError, GuardError, QueryError
from sqlgateway.guard import GuardPolicy, Verdict, check, check_sql
from sqlgateway.hints.explain import Attempt, hints_for
from sqlgateway.hints.notices import answer_notices, joined

WITH_LITERALS = (
    "SELECT count(*) FROM claims WHERE status = 'paid'",
    "SELECT count(*) FROM claims WHERE loss_type = 'flood'",
    "SELECT * FROM claims WHERE claim_number = 'CLM-0000123'",
    "SELECT * FROM claims WHERE claim_number = 'CLM-123'",
    "SELECT count(*) FROM claims c JOIN policies p USING (policy_id) "
    "WHERE p.product = 'auto' AND c.loss_type IN ('collision', 'glass', 'theft')",
    "SELECT count(*) FROM policyholders WHERE state = 'AZ' AND city = 'Phoenix'",
    "SELECT a.region, count(*) FROM claims c JOIN adjusters a USING (adjuster_id) "
    "WHERE c.status IN ('under_review', 'approved') GROUP BY a.region",
    "SELECT * FROM payments WHERE method = 'wire' ORDER BY paid_at DESC LIMIT 5",
    "SELECT count(*) FROM claims WHERE details->>'channel' = 'Mobile'",
    "SELECT count(*) FROM claims WHERE details->'vehicle'->>'make' IN ('Toyota', 'Kia')",
)
POINT = "SELECT * FROM claims WHERE claim_id = 123456"
ADVERSARIAL: dict[str, tuple[str, str | None]] = {
    # label: (text, SQLSTATE of the PostgreSQL error it gets, None: refused by the guard)
    "99,600 chars, T-SQL TOP + long sum": ("SELECT TOP 1 " + "x + " * 24_900 + "1 FROM t", None),
    "2,950 chars of cues (all dialects tried)": (
        "SELECT TOP 1 [a], `b`, ROWNUM, ISNULL(x, 1), strftime('%Y', d), "
        + ", ".join(f"c{i} + 'x'" for i in range(245))
        + " FROM t",
        None,
    ),
    "100 nested parentheses": ("SELECT TOP 1 " + "(" * 100 + "1" + ")" * 100, None),
    "90 nested ARRAY[": ("SELECT " + "ARRAY[" * 90 + "1" + "]" * 90, None),
    "2,000 statements": ("SHOW TABLES; " * 2_000, None),
    "unknown column, 20,000 chars": (
        "SELECT " + ", ".join(f"claim_id + {i}" for i in range(1_600)) + ", stauts FROM claims",
        "42703",
    ),
    "enum literal, 20,000 chars": (
        "SELECT 1 FROM claims WHERE "
        + " OR ".join(f"claim_id = {i}" for i in range(1_200))
        + " OR status = 'Pending'",
        "22P02",
    ),
}
_MESSAGES = {
    "42703": 'column "stauts" does not exist',
    "22P02": 'invalid input value for enum claim_status: "Pending"',
}


@contextmanager
def admin_dsn(url: str | None) -> Iterator[str]:
    if url is not None:
        yield url
        return
    with bench_server() as server:
        yield server.server.admin_dsn()


async def _catalog(dsn: str) -> Catalog:
    conn = await asyncpg.connect(dsn)
    try:
        live = await read_live_tables(conn)
    finally:
        await conn.close()
    return merge(load_schema_docs(demo_docs_dir()), live)


def _timed_us(work: Callable[[], object], runs: int) -> float:
    """Median µs of `work` over `runs` batches of 20 calls."""
    samples = []
    for _ in range(runs):
        started = time.perf_counter_ns()
        for _ in range(20):
            work()
        samples.append((time.perf_counter_ns() - started) / 20 / 1000)
    return statistics.median(samples)


def success_path(catalog: Catalog, runs: int) -> list[str]:
    policy = GuardPolicy()
    lines = ["| query | notice µs (median) | guard µs with noting | without | notice |"]
    lines.append("|---|---:|---:|---:|---|")
    notice_costs = []
    compared = check.compared
    for sql in WITH_LITERALS:
        verdict = check_sql(sql, policy)
        cost = _timed_us(lambda v=verdict: joined(answer_notices(v, catalog)), runs)
        notice_costs.append(cost)
        with_noting, without = [], []
        for _ in range(max(3, runs // 20)):  # interleaved: the machine is noisy
            with_noting.append(_timed_us(lambda s=sql: check_sql(s, policy), 3))
            check.compared = lambda node: None  # type: ignore[assignment]
            try:
                without.append(_timed_us(lambda s=sql: check_sql(s, policy), 3))
            finally:
                check.compared = compared
        said = joined(answer_notices(verdict, catalog)) or ""
        lines.append(
            f"| `{sql[:60]}` | {cost:.1f} | {statistics.median(with_noting):.0f} | "
            f"{statistics.median(without):.0f} | {said[:50]} |"
        )
    lines.append(f"\nmedian over the queries: {statistics.median(notice_costs):.1f} µs")
    point = check_sql(POINT, policy)
    fast = _timed_us(lambda: point.comparisons or point.notes or point.omitted, runs)
    lines.append(f"point lookup: the notice step is {fast * 1000:.0f} ns (no string literal)")
    return lines


def error_path(catalog: Catalog, runs: int) -> list[str]:
    policy = GuardPolicy(star_columns=catalog.star_columns)

    def approve(sql: str) -> Verdict | None:
        try:
            return check_sql(sql, policy)
        except GuardError:
            return None

    lines = [
        "| adversarial text | chars | hints CPU ms: first call | median | p95 | max | hints |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for label, (text, sqlstate) in ADVERSARIAL.items():
        verdict = None
        if sqlstate is None:
            try:
                check_sql(text, policy)
                raise AssertionError(f"{label} was accepted")
            except GatewayError as refused:
                error: GatewayError = refused
        else:
            verdict = check_sql(text, policy)
            error = QueryError(_MESSAGES[sqlstate], sqlstate=sqlstate, position=None)
        attempt = Attempt(text, "postgres", text, verdict)
        started = time.thread_time()
        found = hints_for(error, attempt, catalog, approve)  # the first, untimed below:
        first = (time.thread_time() - started) * 1000  # builds the dialects' tokenizers
        samples = []
        for _ in range(runs):
            started = time.thread_time()
            found = hints_for(error, attempt, catalog, approve)
            samples.append((time.thread_time() - started) * 1000)
        lines.append(
            f"| {label} | {len(text):,} | {first:.1f} | {statistics.median(samples):.1f} | "
            f"{statistics.quantiles(samples, n=20)[-1]:.1f} | {max(samples):.1f} | {len(found)} |"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hint_cost", description=__doc__)
    parser.add_argument("--database-url", help="superuser URL of a PostgreSQL of your own")
    parser.add_argument("--runs", type=int, default=200, help="timed batches per figure (200)")
    options = parser.parse_args(argv)
    with admin_dsn(options.database_url) as admin:
        demo = asyncio.run(
            ensure_demo(admin, database="claims_hint_cost", reader_role=READER_ROLE, claims=1_000)
        )
        catalog = asyncio.run(_catalog(demo.reader_dsn))
    tune_collector()  # as the serving process does once started (sqlgateway/app.py)
    print("\n".join(success_path(catalog, options.runs)))
    print()
    print("\n".join(error_path(catalog, max(20, options.runs // 4))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
