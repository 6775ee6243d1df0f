"""Scenario 5, memory under concurrency: the gateway server's peak RSS growth for requests
whose SQL builds values, results or statements far larger than the response, alone and n at
once (docs/deployment.md#memory quotes it).

Every (query, n) gets a fresh server process (pool of 10, audit off, as users run it otherwise),
warmed up with small versions of the queries, so its memory peak belongs to those requests;
the n requests are sent at once on n connections, each a distinct statement where the query
has a `{i}` slot. RSS is sampled every ~1 ms from a thread, plus VmHWM after a reset.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from bench.gateway import HOST, GatewayProcess
from bench.http_load import fetch, query_request
from bench.memory import MIB, PeakSampler, rss_bytes
from bench.stats import markdown_table

#: name → SQL; `{i}` (when present) makes each of the n requests a statement of its own.
QUERIES = {
    "json_agg of the largest table (one value)": "SELECT json_agg(e) FROM claim_events e",
    "many 96,000-character values": "SELECT repeat(note, 3000) AS wide FROM claim_events",
    "the same in 4-byte characters": (
        "SELECT repeat('\N{GRINNING FACE}' || note, 3000) AS wide FROM claim_events"
    ),
    "many narrow rows": "SELECT event_id FROM claim_events",
    "SELECT * FROM claims": "SELECT * FROM claims",
    "1,600 timestamp columns (22 KB of SQL)": (
        "SELECT " + ", ".join(["e.created_at"] * 1600) + " FROM claim_events e"
    ),
    "distinct 92 KB statements": (
        "SELECT event_id FROM claim_events WHERE event_id + {i} IN ("
        + ", ".join(str(100_000 + i) for i in range(11_500))
        + ")"
    ),
}
WARM_UP = [
    "SELECT * FROM claims WHERE claim_id = 1",
    "SELECT json_agg(e), max(repeat(e.note, 2)) FROM (SELECT * FROM claim_events LIMIT 2) e",
    "SELECT repeat('\N{GRINNING FACE}' || note, 2) FROM claim_events LIMIT 2",
    "SELECT " + ", ".join(["e.created_at"] * 16) + " FROM claim_events e LIMIT 2",
    "SELECT event_id FROM claim_events WHERE event_id IN (1, 2, 3)",
]
POOL_SIZE = 10


async def _post_all(gateway: GatewayProcess, sqls: list[str]) -> list[int]:
    host = f"{HOST}:{gateway.port}"
    answers = await asyncio.gather(
        *(fetch(HOST, gateway.port, query_request(host, gateway.api_key, sql)) for sql in sqls)
    )
    return [response.status for response, _ in answers]


async def _once(dsn: str, log_dir: Path, sql: str, n: int) -> dict[str, Any]:
    pool = {"pool_min_size": 1, "pool_max_size": POOL_SIZE}
    with GatewayProcess(dsn, log_dir, "memory", **pool) as gateway:
        for warm in WARM_UP:
            [status] = await _post_all(gateway, [warm])
            if status != 200:
                raise RuntimeError(f"warm-up failed ({status}): {warm[:80]}")
        base = rss_bytes(gateway.pid)
        sqls = [sql.replace("{i}", str(i)) for i in range(n)]
        with PeakSampler(gateway.pid) as sampler:
            statuses = await _post_all(gateway, sqls)
        assert sampler.result is not None
        return {
            "base_mib": base / MIB,
            "growth_mib": sampler.result.growth_mib,
            "statuses": statuses,
        }


async def run_memory_under_concurrency(
    *, dsn: str, log_dir: Path, concurrency: tuple[int, ...]
) -> dict[str, Any]:
    results: dict[str, Any] = {"concurrency": list(concurrency), "pool_size": POOL_SIZE}
    results["queries"] = {
        name: {str(n): await _once(dsn, log_dir, sql, n) for n in concurrency}
        for name, sql in QUERIES.items()
    }
    return results


def render(result: dict[str, Any]) -> str:
    levels = [str(n) for n in result["concurrency"]]
    rows = []
    for name, runs in result["queries"].items():
        cells = []
        for n in levels:
            run = runs[n]
            failed = [s for s in run["statuses"] if s != 200]
            cells.append(
                f"{run['growth_mib']:.1f}" + (f" ({len(failed)} × {failed[0]})" if failed else "")
            )
        base = max(run["base_mib"] for run in runs.values())
        rows.append([name, f"{base:.0f}", *cells])
    return (
        f"Peak RSS growth (MiB) of a fresh gateway server (pool of {result['pool_size']}) over "
        "its RSS after warm-up, n requests sent at once; failures in parentheses.\n\n"
        + markdown_table(["request", "base MiB", *(f"n = {n}" for n in levels)], rows)
    )
