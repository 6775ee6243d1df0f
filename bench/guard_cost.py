"""Scenario 2, guard cost: microseconds per `check_sql` call, for four kinds of query.

Every call gets a distinct text (a literal varies), as the app's verdict cache would miss.
Each round times `calls` calls of every kind, kinds in rotated order; the statistics are
over all calls of all rounds.

"hot" calls run back to back (the CPU caches hold the parser); "cold" calls (a fifth as many)
each follow 8 MiB of memory writes and some unrelated allocation, as inside the server, where
asyncpg, uvicorn and PostgreSQL run between two guard calls. Cold is what a request pays: a
guard timed inside the running gateway (bench/experiments.py) costs about the cold figure.

"shape cache" calls go through the server's VerdictCache (sqlgateway/guard/verdict_cache.py) with
the same distinct texts: the server checks a query once per shape (plain integers masked) and
then only tokenizes the next text of that shape and puts its integers into the SQL the guard
rendered. That is what a model asking the same question about other ids or amounts pays; a
query the server has not seen pays the check_sql figures.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from bench.stats import Spread, markdown_table, percentile, rotated, verdict
from sqlgateway.guard import GuardPolicy, Verdict, check_sql
from sqlgateway.guard.verdict_cache import VerdictCache

TARGET_MEDIAN_US = 100.0
_EVICT_BYTES = 8 * 1024 * 1024  # twice this machine's L2; size it past yours


def _point(i: int) -> str:
    return f"SELECT * FROM claims WHERE claim_id = {i}"


def _join(i: int) -> str:
    return (
        "SELECT p.product, a.region, count(*) AS claims, sum(c.amount_claimed) AS claimed "
        "FROM claims AS c JOIN policies AS p ON p.policy_id = c.policy_id "
        "JOIN adjusters AS a ON a.adjuster_id = c.adjuster_id "
        f"WHERE c.amount_claimed > {i} GROUP BY p.product, a.region ORDER BY claims DESC"
    )


def _cte_window(i: int) -> str:
    return (
        "WITH monthly AS (SELECT date_trunc('month', reported_at) AS month, "
        "sum(amount_claimed) AS total FROM claims "
        f"WHERE amount_claimed > {i} GROUP BY 1) "
        "SELECT month, total, sum(total) OVER (ORDER BY month) AS running, "
        "rank() OVER (ORDER BY total DESC) AS rank FROM monthly ORDER BY month"
    )


def _large(i: int) -> str:
    """About 2 KB: a report a model might write, with CASEs, IN lists and a subquery."""
    loss_types = ", ".join(
        f"'{t}'"
        for t in (
            "collision",
            "glass",
            "theft",
            "vandalism",
            "liability",
            "storm",
            "fire",
            "water_damage",
        )
    )
    cases = ",\n  ".join(
        f"sum(CASE WHEN c.status = '{s}' THEN c.amount_claimed ELSE 0 END) AS {s}_amount"
        for s in ("submitted", "under_review", "approved", "denied", "paid", "closed", "reopened")
    )
    return (
        "SELECT ph.state, p.product, c.loss_type,\n"
        "  count(*) AS claims,\n"
        "  count(DISTINCT c.policy_id) AS policies,\n"
        f"  {cases},\n"
        "  avg(c.amount_approved) FILTER (WHERE c.amount_approved IS NOT NULL) AS avg_approved,\n"
        "  max(c.closed_at - c.reported_at) AS slowest,\n"
        "  min(c.reported_at) AS first_reported, max(c.reported_at) AS last_reported,\n"
        "  round(100.0 * count(*) FILTER (WHERE c.status = 'denied') / count(*), 1) AS denied_pct\n"
        "FROM claims AS c\n"
        "JOIN policies AS p ON p.policy_id = c.policy_id\n"
        "JOIN policyholders AS ph ON ph.policyholder_id = p.policyholder_id\n"
        "LEFT JOIN adjusters AS a ON a.adjuster_id = c.adjuster_id\n"
        f"WHERE c.loss_type IN ({loss_types})\n"
        "  AND c.reported_at >= TIMESTAMPTZ '2024-01-01 00:00:00+00'\n"
        "  AND c.reported_at < TIMESTAMPTZ '2026-07-01 00:00:00+00'\n"
        f"  AND c.amount_claimed BETWEEN {i} AND {i + 250000}\n"
        "  AND (a.region IS NULL OR a.region IN ('northeast', 'southeast', 'midwest', 'west'))\n"
        "  AND p.policy_id IN (SELECT policy_id FROM payments AS pay JOIN claims AS c2\n"
        "      ON c2.claim_id = pay.claim_id WHERE pay.method IN ('ach', 'wire')\n"
        "      AND pay.amount > 100 AND coalesce(c2.adjuster_id, 0) > 0)\n"
        "GROUP BY ph.state, p.product, c.loss_type\n"
        "HAVING count(*) > 3 AND sum(c.amount_claimed) > 1000\n"
        "ORDER BY ph.state, p.product, claims DESC, c.loss_type\n"
        "LIMIT 200"
    )


QUERIES: dict[str, tuple[str, Callable[[int], str]]] = {
    "point": ("point lookup", _point),
    "join": ("3-table join + GROUP BY", _join),
    "cte_window": ("CTE + window function", _cte_window),
    "large": ("~2 KB report query", _large),
}
TARGETED = ("point", "join", "cte_window")


class _Evictor:
    """Pushes the parser out of the CPU caches, roughly as a server's other work does."""

    def __init__(self) -> None:
        self._buffer = bytearray(_EVICT_BYTES)
        self._ones = b"\1" * (_EVICT_BYTES // 64)

    def __call__(self) -> None:
        self._buffer[::64] = self._ones
        {str(i): i for i in range(3000)}  # allocator and interpreter churn


def _time_calls(
    texts: list[str], check: Callable[[str], Verdict], evict: _Evictor | None
) -> list[float]:
    clock = time.thread_time_ns  # CPU time: not inflated when the OS runs something else
    times = []
    for text in texts:
        if evict is not None:
            evict()
        started = clock()
        check(text)
        times.append((clock() - started) / 1000)
    return times


def run_guard_cost(*, rounds: int, calls: int) -> dict[str, Any]:
    policy = GuardPolicy()

    def guard(sql: str) -> Verdict:
        return check_sql(sql, policy)

    cached = VerdictCache(guard, 1000)
    evict = _Evictor()
    cold_calls = max(10, calls // 5)
    for _, make in QUERIES.values():  # warm-up, and prove every query is accepted
        for i in range(50):
            text = make(10_000_000 + i)
            assert cached(text) == guard(text)
    if cached.hits == 0:
        raise RuntimeError("the verdict cache never hit: the shape-cache column would be wrong")
    samples: dict[str, list[float]] = {name: [] for name in QUERIES}
    cold: dict[str, list[float]] = {name: [] for name in QUERIES}
    shaped: dict[str, list[float]] = {name: [] for name in QUERIES}
    round_medians: dict[str, list[float]] = {name: [] for name in QUERIES}
    serial = 0
    for round_index in range(rounds):
        for name in rotated(list(QUERIES), round_index):
            make = QUERIES[name][1]
            texts = [make(serial + i) for i in range(calls + cold_calls)]
            serial += len(texts)
            times = _time_calls(texts[:calls], guard, None)
            cold[name] += _time_calls(texts[calls:], guard, evict)
            shaped[name] += _time_calls(texts[calls:], cached, evict)
            samples[name] += times
            round_medians[name].append(Spread.of(times).median)
    result: dict[str, Any] = {"calls_per_round": calls, "cold_calls_per_round": cold_calls}
    result["queries"] = {}
    for name, (label, make) in QUERIES.items():
        spread = Spread.of(samples[name])
        result["queries"][name] = {
            "label": label,
            "chars": len(make(123)),
            "us_per_call": spread.as_dict(),
            "p99_us": percentile(samples[name], 0.99),
            "cold_us_per_call": Spread.of(cold[name]).as_dict(),
            "shape_cache_cold_us_per_call": Spread.of(shaped[name]).as_dict(),
            "round_medians_us": round_medians[name],
            "target_median_us": TARGET_MEDIAN_US if name in TARGETED else None,
            "target_met": spread.median < TARGET_MEDIAN_US if name in TARGETED else None,
        }
    return result


def render(result: dict[str, Any]) -> str:
    rows = []
    for query in result["queries"].values():
        spread = query["us_per_call"]
        target = "–"
        if query["target_met"] is not None:
            target = f"< {TARGET_MEDIAN_US:.0f}: {verdict(query['target_met'])}"
        rows.append(
            [
                query["label"],
                str(query["chars"]),
                f"{spread['median']:,.0f}",
                f"{spread['min']:,.0f}",
                f"{query['p99_us']:,.0f}",
                f"{spread['max']:,.0f}",
                f"{query['cold_us_per_call']['median']:,.0f}",
                f"{query['shape_cache_cold_us_per_call']['median']:,.0f}",
                target,
            ]
        )
    return (
        f"CPU time per call; {result['calls_per_round']} hot calls (back to back) and "
        f"{result['cold_calls_per_round']} cold calls (caches evicted before each, as in the "
        "server) per query and round, distinct texts; the same cold calls again through the "
        "server's shape cache (a literal varies, the shape was seen before). Target on the "
        "hot median of check_sql, a query seen for the first time.\n\n"
        + markdown_table(
            [
                "query",
                "chars",
                "median µs",
                "min µs",
                "p99 µs",
                "max µs",
                "cold median µs",
                "shape cache, cold median µs",
                "target (median)",
            ],
            rows,
        )
    )
