"""Scenario 3, large results through the gateway over HTTP: time to the truncated answer and
the gateway server's peak RSS growth while it answers.

Every (round, query) gets a fresh server process, warmed up with a point lookup, so its
memory peak belongs to that one query. The first large request runs under the RSS sampler
(and a VmHWM reset); `repeats` more requests on the same server are timed without it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.gateway import HOST, GatewayProcess
from bench.http_load import fetch, query_request
from bench.memory import MIB, PeakSampler, rss_bytes
from bench.stats import Spread, markdown_table, rotated, verdict

QUERIES = {
    "unordered": "SELECT * FROM claims",
    "ordered": "SELECT * FROM claims ORDER BY description",
}
TARGET_MS = 20.0
TARGET_MIB = 16.0


async def _large_once(dsn: str, log_dir: Path, sql: str, repeats: int) -> dict[str, Any]:
    with GatewayProcess(dsn, log_dir, "large") as gateway:
        host = f"{HOST}:{gateway.port}"
        warm, _ = await fetch(
            HOST, gateway.port, query_request(host, gateway.api_key, "SELECT * FROM claims LIMIT 1")
        )
        if warm.status != 200:
            raise RuntimeError(f"warm-up failed: {warm.status} {warm.body[:300]!r}")
        request = query_request(host, gateway.api_key, sql)
        rss_before = rss_bytes(gateway.pid)
        with PeakSampler(gateway.pid) as sampler:
            response, first_s = await fetch(HOST, gateway.port, request)
        assert sampler.result is not None
        if response.status != 200:
            raise RuntimeError(f"{sql}: {response.status} {response.body[:300]!r}")
        body = json.loads(response.body)
        times_ms = []
        for _ in range(repeats):
            again, seconds = await fetch(HOST, gateway.port, request)
            if again.status != 200:
                raise RuntimeError(f"{sql}: {again.status} {again.body[:300]!r}")
            times_ms.append(seconds * 1000)
        return {
            "first_ms": first_s * 1000,
            "times_ms": times_ms,
            "server_elapsed_ms": body["elapsed_ms"],
            "rss_growth_mib": sampler.result.growth_mib,
            "rss_before_mib": rss_before / MIB,
            "rss_samples": sampler.result.samples,
            "hwm_reset": sampler.result.hwm_reset,
            "body_bytes": len(response.body),
            "rows": body["row_count"],
            "truncated": body["truncated"],
        }


async def run_large_results(
    *, databases: dict[int, str], log_dir: Path, rounds: int, repeats: int
) -> dict[str, Any]:
    """`databases`: claims → reader DSN."""
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {
        str(claims): {name: [] for name in QUERIES} for claims in databases
    }
    for round_index in range(rounds):
        for claims, dsn in databases.items():
            for name in rotated(list(QUERIES), round_index):
                runs[str(claims)][name].append(
                    await _large_once(dsn, log_dir, QUERIES[name], repeats)
                )
    result: dict[str, Any] = {"repeats": repeats, "databases": {}}
    for claims, per_query in runs.items():
        result["databases"][claims] = {}
        for name, measured in per_query.items():
            times = [t for m in measured for t in m["times_ms"]] or [
                m["first_ms"] for m in measured
            ]
            time_spread = Spread.of(times)
            memory = Spread.of([m["rss_growth_mib"] for m in measured])
            entry: dict[str, Any] = {
                "sql": QUERIES[name],
                "ms": time_spread.as_dict(),
                "first_ms": Spread.of([m["first_ms"] for m in measured]).as_dict(),
                "rss_growth_mib": memory.as_dict(),
                "rows": measured[0]["rows"],
                "body_bytes": measured[0]["body_bytes"],
                "truncated": measured[0]["truncated"],
                "runs": measured,
            }
            if name == "unordered":
                entry["target_met"] = time_spread.median < TARGET_MS and memory.max < TARGET_MIB
            result["databases"][claims][name] = entry
    return result


def render(result: dict[str, Any]) -> str:
    rows = []
    for claims, per_query in result["databases"].items():
        for entry in per_query.values():
            ms, first, memory = (
                Spread(**entry["ms"]),
                Spread(**entry["first_ms"]),
                Spread(**entry["rss_growth_mib"]),
            )
            target = "–"
            if "target_met" in entry:
                target = (
                    f"< {TARGET_MS:.0f} ms, < {TARGET_MIB:.0f} MiB: {verdict(entry['target_met'])}"
                )
            rows.append(
                [
                    f"{int(claims):,}",
                    f"`{entry['sql']}`",
                    ms.render(1),
                    first.render(1),
                    memory.render(2),
                    f"{entry['rows']} / {entry['body_bytes']:,} B",
                    target,
                ]
            )
    return (
        "Fresh gateway server per round and query; time = client-side latency of "
        f"{result['repeats']} repeated requests per round (first request on the server shown "
        "apart); RSS growth = peak RSS of the server during the first request minus its RSS "
        "before (sampled every ~1 ms, and VmHWM after a reset).\n\n"
        + markdown_table(
            [
                "claims",
                "query",
                "ms",
                "first request ms",
                "RSS growth MiB",
                "rows / body",
                "target",
            ],
            rows,
        )
    )
