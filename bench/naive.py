"""Scenario 4, versus a naive middleware: on the same large query, in-process, like with like.

- ``naive``: `asyncpg` `fetch` of every row, `json.dumps([dict(row) ...], default=str)`, the
  string cut to 95,000 characters (what a quick proxy would do).
- ``executor``: the gateway's `Database.run` (read-only transaction, EXPLAIN cost check,
  cursor streaming into the bounded encoder).

Each measurement runs in a fresh child process (`python -m bench.naive VARIANT SQL REPEATS`
with the DSN in $SQLGATEWAY_BENCH_DSN, one JSON line out), so its peak RSS (VmHWM reset after the warm-up) belongs to that one query.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
import time
from typing import Any

import asyncpg

from bench.large import QUERIES
from bench.memory import MIB, PeakSampler, hwm_bytes, reset_hwm, rss_bytes
from bench.point import executor_settings
from bench.stats import Spread, markdown_table, ratio, rotated
from sqlgateway.db.executor import Database, QueryPlan

VARIANTS = ("naive", "executor")
NAIVE_MAX_CHARS = 95_000
DSN_VARIABLE = "SQLGATEWAY_BENCH_DSN"


async def _naive(conn: asyncpg.Connection, sql: str) -> int:
    rows = await conn.fetch(sql)
    body = json.dumps([dict(row) for row in rows], default=str)[:NAIVE_MAX_CHARS]
    return len(body)


async def _child(dsn: str, variant: str, sql: str, repeats: int) -> dict[str, Any]:
    ordered = "ORDER BY" in sql.upper()
    if variant == "naive":
        conn = await asyncpg.connect(dsn)

        async def once(text: str) -> int:
            return await _naive(conn, text)

        close = conn.close
    else:
        database = await Database.connect(dsn, executor_settings(dsn, 1))

        async def once(text: str) -> int:
            return len((await database.run(QueryPlan(text, has_order_by=ordered))).body)

        close = database.close
    try:
        await once("SELECT * FROM claims LIMIT 1")  # warm-up: connection, codecs, imports
        gc.collect()
        pid = os.getpid()
        rss_before = rss_bytes(pid)
        times_ms = []
        if reset_hwm(pid):
            started = time.perf_counter()
            size = await once(sql)
            times_ms.append((time.perf_counter() - started) * 1000)
            peak = max(hwm_bytes(pid), rss_bytes(pid))
        else:  # fall back on sampling from a thread (a little slower)
            with PeakSampler(pid) as sampler:
                started = time.perf_counter()
                size = await once(sql)
                times_ms.append((time.perf_counter() - started) * 1000)
            assert sampler.result is not None
            peak = sampler.result.peak
        for _ in range(repeats - 1):
            started = time.perf_counter()
            await once(sql)
            times_ms.append((time.perf_counter() - started) * 1000)
    finally:
        await close()
    return {
        "times_ms": times_ms,
        "rss_growth_mib": max(0, peak - rss_before) / MIB,
        "rss_before_mib": rss_before / MIB,
        "body_chars": size,
    }


def _measure(dsn: str, variant: str, sql: str, repeats: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.naive", variant, sql, str(repeats)],
        env={**os.environ, DSN_VARIABLE: dsn},  # not on the command line: it may hold a password
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench.naive {variant} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run_naive_comparison(
    *, databases: dict[int, str], rounds: int, repeats: int, queries: tuple[str, ...]
) -> dict[str, Any]:
    runs = {
        (claims, name, variant): []
        for claims in databases
        for name in queries
        for variant in VARIANTS
    }  # type: dict[tuple[int, str, str], list[dict[str, Any]]]
    for round_index in range(rounds):
        for claims, dsn in databases.items():
            for name in queries:
                for variant in rotated(VARIANTS, round_index):
                    runs[claims, name, variant].append(
                        _measure(dsn, variant, QUERIES[name], repeats)
                    )
    result: dict[str, Any] = {"repeats": repeats, "databases": {}}
    for claims in databases:
        per_query: dict[str, Any] = {}
        for name in queries:
            naive, executor = runs[claims, name, "naive"], runs[claims, name, "executor"]
            naive_ms = [Spread.of(m["times_ms"]).median for m in naive]
            executor_ms = [Spread.of(m["times_ms"]).median for m in executor]
            naive_mib = [m["rss_growth_mib"] for m in naive]
            executor_mib = [m["rss_growth_mib"] for m in executor]
            per_query[name] = {
                "sql": QUERIES[name],
                "naive_ms": Spread.of(naive_ms).as_dict(),
                "executor_ms": Spread.of(executor_ms).as_dict(),
                "time_ratio_naive_over_executor": ratio(naive_ms, executor_ms).as_dict(),
                "naive_rss_growth_mib": Spread.of(naive_mib).as_dict(),
                "executor_rss_growth_mib": Spread.of(executor_mib).as_dict(),
                "memory_ratio_naive_over_executor": ratio(
                    naive_mib, [max(m, 0.01) for m in executor_mib]
                ).as_dict(),
                "runs": {"naive": naive, "executor": executor},
            }
        result["databases"][str(claims)] = per_query
    return result


def render(result: dict[str, Any]) -> str:
    rows = []
    for claims, per_query in result["databases"].items():
        for entry in per_query.values():
            rows.append(
                [
                    f"{int(claims):,}",
                    f"`{entry['sql']}`",
                    Spread(**entry["naive_ms"]).render(1),
                    Spread(**entry["executor_ms"]).render(1),
                    Spread(**entry["time_ratio_naive_over_executor"]).render(1) + "×",
                    Spread(**entry["naive_rss_growth_mib"]).render(1),
                    Spread(**entry["executor_rss_growth_mib"]).render(2),
                    Spread(**entry["memory_ratio_naive_over_executor"]).render(0) + "×",
                ]
            )
    return (
        "In-process, fresh child process per measurement; ms = median of "
        f"{result['repeats']} runs per round; memory = peak RSS growth during the first run "
        "(executor memory floored at 0.01 MiB for the ratio).\n\n"
        + markdown_table(
            [
                "claims",
                "query",
                "naive ms",
                "executor ms",
                "time naive/executor",
                "naive MiB",
                "executor MiB",
                "memory naive/executor",
            ],
            rows,
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="one measurement of scenario 4 (internal)")
    parser.add_argument("variant", choices=VARIANTS)
    parser.add_argument("sql")
    parser.add_argument("repeats", type=int)
    args = parser.parse_args()
    result = asyncio.run(_child(os.environ[DSN_VARIABLE], args.variant, args.sql, args.repeats))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
