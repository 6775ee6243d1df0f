"""Scenario 1c, MCP: `run_query` point lookups over /mcp against the same lookups over /query,
on one gateway server, in the same rounds.

Variants (each round runs every one once, in rotated order, `requests` lookups each at the
same concurrency, every lookup a different claim id, as in `point.py`):

- ``query``: POST /query with the harness's light HTTP client (`http_load.py`).
- ``mcp``: POST /mcp, `tools/call` of `run_query`, protocol revision 2026-07-28 (the `_meta`
  envelope and the `MCP-Protocol-Version`, `Mcp-Method` and `Mcp-Name` headers), built as
  bytes before the clock starts and sent by the same light client: the gateway's own cost of
  MCP, next to /query's.
- ``mcp_handshake``: the same call as a client of the handshake era sends it once initialized
  (2025-11-25, no envelope, `MCP-Protocol-Version: 2025-11-25`): what today's TypeScript hosts
  (Claude, Cursor, VS Code) send.
- ``mcp_sdk``: the official MCP Python SDK's `Client` over Streamable HTTP (one client, the
  calls concurrent), as an agent would call: what a real MCP client costs on its own side
  (the harness column) and what throughput it then gets.

The gateway runs as `serve` does (audit off, as in `point.py`); its CPU per call is the figure
held to at most 1.25× that of /query (`TARGET_CPU_RATIO`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx2
import orjson
import psutil
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from bench.gateway import HOST, GatewayProcess
from bench.http_load import LoadResult, build_request, query_request, run_load
from bench.point import LookupSqls, VariantRuns, variant_table
from bench.postgres import CpuMeter
from bench.stats import Spread, markdown_table, ratio, rotated, verdict

VARIANTS = ("query", "mcp", "mcp_handshake", "mcp_sdk")
LABELS = {
    "query": "POST /query (light client)",
    "mcp": "MCP run_query, 2026-07-28 (light client)",
    "mcp_handshake": "MCP run_query, 2025-11-25 stateless (light client)",
    "mcp_sdk": "MCP run_query, official Python SDK client",
}
MODERN = "2026-07-28"
HANDSHAKE = "2025-11-25"
TARGET_CPU_RATIO = 1.25
ONE_ROW = b'"row_count":1,'


def mcp_request(host: str, api_key: str, sql: str, request_id: int, version: str) -> bytes:
    """One `tools/call` of run_query as a client of `version` sends it."""
    params: dict[str, Any] = {"name": "run_query", "arguments": {"sql": sql}}
    headers = {
        "Authorization": f"Bearer {api_key}",
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": version,
    }
    if version == MODERN:
        params["_meta"] = {
            "io.modelcontextprotocol/protocolVersion": version,
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"},
        }
        headers |= {"Mcp-Method": "tools/call", "Mcp-Name": "run_query"}
    body = {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}
    return build_request("POST", "/mcp", host, body=orjson.dumps(body), headers=headers)


async def sdk_lookups(client: Client, sqls: Sequence[str], concurrency: int) -> LoadResult:
    """`call_tool("run_query")` for each of `sqls`, `concurrency` at a time on one client."""
    result = LoadResult(elapsed_s=0.0)
    pending = list(reversed(sqls))

    async def worker() -> None:
        while pending:
            sql = pending.pop()
            sent = time.perf_counter()
            answer = await client.call_tool("run_query", {"sql": sql})
            result.latencies_s.append(time.perf_counter() - sent)
            structured = answer.structured_content or {}
            if answer.is_error or structured.get("row_count") != 1:
                result.errors += 1
                result.first_error = result.first_error or str(answer.content)[:300]

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.elapsed_s = time.perf_counter() - started
    return result


async def run_mcp_lookups(
    *,
    dsn: str,
    claims: int,
    postmaster: psutil.Process,
    log_dir: Path,
    rounds: int,
    requests: int,
    concurrency: int,
    pool_size: int,
    seed: int = 14,
) -> dict[str, Any]:
    lookups = LookupSqls(claims, requests * (rounds + 1) * len(VARIANTS), seed)
    pool = {"pool_min_size": pool_size, "pool_max_size": pool_size}
    with GatewayProcess(dsn, log_dir, "mcp", **pool) as gateway:
        host = f"{HOST}:{gateway.port}"
        harness = psutil.Process()
        limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        http = httpx2.AsyncClient(
            headers={"Authorization": f"Bearer {gateway.api_key}"}, limits=limits, timeout=60
        )
        transport = streamable_http_client(f"http://{host}/mcp", http_client=http)
        async with http, Client(transport) as client:
            protocol = client.protocol_version
            ids = iter(range(1, 10**9))

            async def run_variant(variant: str, n: int) -> tuple[LoadResult, dict[str, float]]:
                sqls = lookups.next(n)
                if variant == "query":
                    raws = [query_request(host, gateway.api_key, sql) for sql in sqls]
                elif variant != "mcp_sdk":
                    version = MODERN if variant == "mcp" else HANDSHAKE
                    raws = [mcp_request(host, gateway.api_key, s, next(ids), version) for s in sqls]
                meter = CpuMeter(
                    {"client": [harness], "gateway": gateway.process, "postgres": postmaster}
                )
                meter.start()
                if variant == "mcp_sdk":
                    result = await sdk_lookups(client, sqls, concurrency)
                else:
                    result = await run_load(
                        HOST, gateway.port, raws, concurrency=concurrency, expect=ONE_ROW
                    )
                cpu = meter.stop()
                if result.errors:
                    raise RuntimeError(f"{variant}: {result.errors} failed: {result.first_error}")
                return result, cpu

            for variant in VARIANTS:  # warm-up
                await run_variant(variant, max(100, requests // 5))
            runs = {variant: VariantRuns() for variant in VARIANTS}
            for round_index in range(rounds):
                for variant in rotated(VARIANTS, round_index):
                    result, cpu = await run_variant(variant, requests)
                    runs[variant].add(result, cpu)
        stack = gateway.implementations()
    return _summarise(runs, requests, concurrency, pool_size, stack, protocol)


def _gateway_cpu(runs: VariantRuns) -> list[float]:
    return [cpu["gateway"] for cpu in runs.cpu_ms_per_request]


def _summarise(
    runs: dict[str, VariantRuns],
    requests: int,
    concurrency: int,
    pool_size: int,
    stack: str,
    sdk_protocol: str | None,
) -> dict[str, Any]:
    query = runs["query"]
    ratios = {
        "gateway CPU per call, mcp/query": ratio(_gateway_cpu(runs["mcp"]), _gateway_cpu(query)),
        "gateway CPU per call, mcp_handshake/query": ratio(
            _gateway_cpu(runs["mcp_handshake"]), _gateway_cpu(query)
        ),
        "gateway CPU per call, mcp_sdk/query": ratio(
            _gateway_cpu(runs["mcp_sdk"]), _gateway_cpu(query)
        ),
        "throughput, mcp/query": ratio(runs["mcp"].throughput, query.throughput),
        "throughput, mcp_handshake/query": ratio(
            runs["mcp_handshake"].throughput, query.throughput
        ),
        "throughput, mcp_sdk/query": ratio(runs["mcp_sdk"].throughput, query.throughput),
        "client CPU per call, mcp_sdk/query": ratio(
            [c["client"] for c in runs["mcp_sdk"].cpu_ms_per_request],
            [c["client"] for c in query.cpu_ms_per_request],
        ),
    }
    cpu_ratio = ratios["gateway CPU per call, mcp/query"].median
    handshake_ratio = ratios["gateway CPU per call, mcp_handshake/query"].median
    return {
        "requests": requests,
        "concurrency": concurrency,
        "pool_size": pool_size,
        "gateway_server": stack,
        "sdk_protocol": sdk_protocol,
        "variants": {
            name: {
                "throughput_rps": Spread.of(r.throughput).as_dict(),
                "p50_ms": Spread.of(r.p50_ms).as_dict(),
                "p99_ms": Spread.of(r.p99_ms).as_dict(),
                "cpu_ms_per_request": r.cpu_medians(),
            }
            for name, r in runs.items()
        },
        "ratios": {name: spread.as_dict() for name, spread in ratios.items()},
        "target_cpu_ratio": TARGET_CPU_RATIO,
        "target_met": max(cpu_ratio, handshake_ratio) <= TARGET_CPU_RATIO,
        "_spreads": {
            name: (Spread.of(r.throughput), Spread.of(r.p50_ms), Spread.of(r.p99_ms))
            for name, r in runs.items()
        },
        "_ratios": ratios,
    }


def render(summary: dict[str, Any]) -> str:
    table = variant_table(summary, LABELS, VARIANTS)
    rows = [[name, spread.render(3)] for name, spread in summary["_ratios"].items()]
    for row in rows[:2]:
        met = summary["_ratios"][row[0]].median <= TARGET_CPU_RATIO
        row[0] += f" (target ≤ {TARGET_CPU_RATIO}: {verdict(met)})"
    return (
        f"{summary['requests']} lookups per variant and round, {summary['concurrency']} "
        f"concurrent calls, one gateway server ({summary['gateway_server']}, pool of "
        f"{summary['pool_size']}, audit off) for every variant; the SDK client negotiated "
        f"{summary['sdk_protocol']}. Median (min–max) over rounds; CPU ms/req = CPU time each "
        "process group used during the run / calls.\n\n"
        + table
        + "\n\nSame-round ratios, median (min–max):\n\n"
        + markdown_table(["ratio", "value"], rows)
    )
