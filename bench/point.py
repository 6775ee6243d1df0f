"""Scenario 1, point lookups: the gateway over HTTP against the raw driver, same SQL.

Variants (each round runs every one once, in rotated order, `requests` lookups each at the
same concurrency, every lookup a different claim id so the app's verdict cache never hits):

- ``healthz``: the load client against GET /healthz: the client's own ceiling.
- ``gateway``: POST /query, default settings (EXPLAIN cost check on) but the audit trail
  off (SQLGATEWAY_AUDIT_SINK=none, as in every variant here; `audit.py` measures it).
- ``gateway_named``: the same server and the same lookup as the named query ``lookupClaim``
  (``POST /queries/lookupClaim`` with ``{"claim_id": …}``; schema docs with only the named
  lookups, so no sensitive-column check on either path): no guard parse of model SQL, the
  value bound. ``gateway_named/gateway`` is what a named query saves over free SQL when the
  server's verdict cache hits (same SQL but for its integers: no parse on /query either).
- ``gateway_number`` and ``gateway_named_number``: the same server, the lookup by claim
  number (``WHERE claim_number = 'CLM-0001234'``, the question users ask most), through
  /query and as the named query ``lookupClaimNumber``. A string literal is not an integer,
  so the verdict cache misses and /query parses every statement: what a named query saves
  on a lookup the cache cannot help.
- ``gateway_nocost``: the same with SQLGATEWAY_MAX_PLAN_COST=0 and _MAX_PLAN_ROWS=0.
- ``gateway_2w``: as ``gateway`` with ``--workers 2`` (SQLGATEWAY_WORKERS=2), each worker with
  half the pool, so the same number of connections: how users run it on a 2-core machine.
- ``floor``: `floor_app.py`, a bare ASGI app on the same uvicorn stack that runs the SQL with
  the ``raw`` code and answers the rows: what HTTP alone costs, the ceiling of any gateway
  written on this stack. ``gateway/floor`` is the gateway's own cost; ``floor/raw`` the stack's.
- ``executor``: `Database.run` in the harness process: the executor without HTTP or guard.
- ``raw``: asyncpg, a pool of the same size, `BEGIN READ ONLY; SET LOCAL statement_timeout`
  (one round trip), `fetch`, `ROLLBACK`: the least a read-only gateway has to do.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import psutil

from bench.gateway import HOST, GatewayProcess
from bench.http_load import LoadResult, build_request, named_request, query_request, run_load
from bench.postgres import CpuMeter
from bench.stats import Spread, markdown_table, percentile, ratio, rotated, verdict
from sqlgateway.db.executor import Database, QueryPlan
from sqlgateway.settings import Settings

VARIANTS = (
    "healthz",
    "gateway",
    "gateway_named",
    "gateway_number",
    "gateway_named_number",
    "gateway_nocost",
    "gateway_2w",
    "floor",
    "executor",
    "raw",
)
LABELS = {
    "healthz": "client ceiling: GET /healthz",
    "gateway": "gateway HTTP (cost check on)",
    "gateway_named": "gateway HTTP, named query (same server)",
    "gateway_number": "gateway HTTP, by claim number (same server)",
    "gateway_named_number": "gateway HTTP, named query by claim number (same server)",
    "gateway_nocost": "gateway HTTP (cost check off)",
    "gateway_2w": "gateway HTTP, 2 workers × half the pool",
    "floor": "HTTP floor: bare ASGI app + raw asyncpg",
    "executor": "executor in-process (Database.run)",
    "raw": "raw asyncpg",
}
#: Variants served by a process (tree) whose CPU is counted in the "gateway server" column.
SERVED = (
    "healthz",
    "gateway",
    "gateway_named",
    "gateway_number",
    "gateway_named_number",
    "gateway_nocost",
    "gateway_2w",
    "floor",
)
FLOOR_COMMAND = [sys.executable, "-m", "bench.floor_app"]
TARGET_RATIO = 0.7
STATEMENT_TIMEOUT_MS = 25_000


def lookup_sql(claim_id: int) -> str:
    return f"SELECT * FROM claims WHERE claim_id = {claim_id}"


def claim_number(claim_id: int) -> str:
    return f"CLM-{claim_id:07d}"


def number_lookup_sql(claim_id: int) -> str:
    return f"SELECT * FROM claims WHERE claim_number = '{claim_number(claim_id)}'"


#: The same lookups as named queries (bench_docs writes them into a schema docs file).
NAMED_LOOKUP = "lookupClaim"
NAMED_NUMBER_LOOKUP = "lookupClaimNumber"
NAMED_LOOKUP_DOCS = f"""\
# Written by bench/point.py: the point lookups as named queries, and nothing else (no
# tables, so no sensitive-column check on either path).
queries:
  - name: {NAMED_LOOKUP}
    description: One claim by its id.
    sql: SELECT * FROM claims WHERE claim_id = :claim_id
    parameters:
      claim_id:
        type: integer
        description: The claim's id.
        minimum: 1
  - name: {NAMED_NUMBER_LOOKUP}
    description: One claim by its claim number.
    sql: SELECT * FROM claims WHERE claim_number = :claim_number
    parameters:
      claim_number:
        type: string
        description: The claim number, CLM- and 7 digits.
        pattern: ^CLM-[0-9]{{7}}$
"""


def bench_docs(directory: Path) -> Path:
    """A schema docs directory holding only the named point lookup."""
    docs = directory / "bench-schema-docs"
    docs.mkdir(exist_ok=True)
    (docs / "bench.yaml").write_text(NAMED_LOOKUP_DOCS)
    return docs


class LookupSqls:
    """Point-lookup SQL texts for distinct random claim ids (ids repeat only after `needed`
    or `claims` of them), so no cache keyed by SQL text ever hits."""

    def __init__(self, claims: int, needed: int, seed: int) -> None:
        self._ids = random.Random(seed).sample(range(1, claims + 1), min(claims, needed))
        self._cursor = 0

    def next(self, n: int) -> list[str]:
        return [lookup_sql(i) for i in self.next_ids(n)]

    def next_ids(self, n: int) -> list[int]:
        ids = [self._ids[(self._cursor + i) % len(self._ids)] for i in range(n)]
        self._cursor += n
        return ids


async def gateway_lookups(
    server: GatewayProcess, sqls: Sequence[str], concurrency: int
) -> LoadResult:
    """POST /query with each of `sqls` over HTTP; a response without one row is an error."""
    host = f"{HOST}:{server.port}"
    raws = [query_request(host, server.api_key, sql) for sql in sqls]
    return await run_load(
        HOST, server.port, raws, concurrency=concurrency, expect=b'"row_count":1,'
    )


async def named_lookups(
    server: GatewayProcess, claim_ids: Sequence[int], concurrency: int, *, by_number: bool
) -> LoadResult:
    """POST /queries/lookupClaim (or lookupClaimNumber) for each of `claim_ids`; a response
    without one row is an error."""
    host = f"{HOST}:{server.port}"
    raws = [
        named_request(host, server.api_key, NAMED_NUMBER_LOOKUP, {"claim_number": claim_number(i)})
        if by_number
        else named_request(host, server.api_key, NAMED_LOOKUP, {"claim_id": i})
        for i in claim_ids
    ]
    return await run_load(
        HOST, server.port, raws, concurrency=concurrency, expect=b'"row_count":1,'
    )


@dataclass
class VariantRuns:
    throughput: list[float] = field(default_factory=list)
    p50_ms: list[float] = field(default_factory=list)
    p99_ms: list[float] = field(default_factory=list)
    cpu_ms_per_request: list[dict[str, float]] = field(default_factory=list)

    def add(self, result: LoadResult, cpu_s: dict[str, float]) -> None:
        n = len(result.latencies_s)
        self.throughput.append(result.throughput)
        self.p50_ms.append(percentile(result.latencies_s, 0.50) * 1000)
        self.p99_ms.append(percentile(result.latencies_s, 0.99) * 1000)
        self.cpu_ms_per_request.append({k: v * 1000 / n for k, v in cpu_s.items()})

    def cpu_medians(self) -> dict[str, float]:
        """Median CPU ms per request of each process group over the rounds."""
        return {
            group: Spread.of([cpu.get(group, 0.0) for cpu in self.cpu_ms_per_request]).median
            for group in ("client", "gateway", "postgres")
        }


async def run_in_process(
    call: Callable[[str], Awaitable[Any]], sqls: Sequence[str], concurrency: int
) -> LoadResult:
    result = LoadResult(elapsed_s=0.0)
    next_index = 0

    async def worker() -> None:
        nonlocal next_index
        while next_index < len(sqls):
            sql = sqls[next_index]
            next_index += 1
            sent = time.perf_counter()
            await call(sql)
            result.latencies_s.append(time.perf_counter() - sent)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.elapsed_s = time.perf_counter() - started
    return result


async def _text_codecs(conn: asyncpg.Connection) -> None:
    """The executor's codecs (numeric and interval as text), so both decode the same way."""
    for name in ("numeric", "interval"):
        await conn.set_type_codec(
            name, schema="pg_catalog", encoder=str, decoder=str, format="text"
        )


async def _no_reset(conn: asyncpg.Connection) -> None:
    """Like the executor: ROLLBACK ends each checkout, so no reset query on release."""


async def raw_pool(dsn: str, pool_size: int) -> asyncpg.Pool:
    return await asyncpg.create_pool(
        dsn,
        min_size=pool_size,
        max_size=pool_size,
        statement_cache_size=0,  # literal one-off SQL, as the executor: no named statements
        init=_text_codecs,
        reset=_no_reset,
        server_settings={"default_transaction_read_only": "on", "IntervalStyle": "iso_8601"},
    )


RAW_BEGIN = f"BEGIN TRANSACTION READ ONLY; SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}"


async def raw_lookup(pool: asyncpg.Pool, sql: str) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        await conn.execute(RAW_BEGIN)
        try:
            return await conn.fetch(sql)
        finally:
            await conn.execute("ROLLBACK")


def executor_settings(dsn: str, pool_size: int, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": dsn,
        "audit_sink": "none",
        "pool_min_size": pool_size,
        "pool_max_size": pool_size,
        "statement_timeout_ms": STATEMENT_TIMEOUT_MS,
    }
    values.update(overrides)
    return Settings(**values)


async def run_point_lookups(
    *,
    dsn: str,
    claims: int,
    postmaster: psutil.Process,
    log_dir: Path,
    rounds: int,
    requests: int,
    concurrency: int,
    pool_size: int,
    seed: int = 1,
) -> dict[str, Any]:
    lookups = LookupSqls(claims, requests * (rounds + 1) * len(VARIANTS), seed)
    pool_env = {"pool_min_size": pool_size, "pool_max_size": pool_size}
    half_pool = {"pool_min_size": pool_size // 2, "pool_max_size": max(1, pool_size // 2)}
    docs = {"schema_docs_dir": bench_docs(log_dir)}
    with (
        GatewayProcess(dsn, log_dir, "point", **docs, **pool_env) as gateway,
        GatewayProcess(
            dsn, log_dir, "point-nocost", max_plan_cost=0, max_plan_rows=0, **pool_env
        ) as gateway_nocost,
        GatewayProcess(dsn, log_dir, "point-2w", workers=2, **half_pool) as gateway_2w,
        GatewayProcess(dsn, log_dir, "floor", command=FLOOR_COMMAND, **pool_env) as floor,
    ):
        database = await Database.connect(dsn, executor_settings(dsn, pool_size))
        pool = await raw_pool(dsn, pool_size)
        harness = psutil.Process()
        servers = {
            "gateway": gateway,
            "gateway_named": gateway,
            "gateway_number": gateway,
            "gateway_named_number": gateway,
            "gateway_nocost": gateway_nocost,
            "gateway_2w": gateway_2w,
            "floor": floor,
            "healthz": gateway,
        }
        healthz = build_request("GET", "/healthz", f"{HOST}:{gateway.port}")

        async def run_variant(variant: str, n: int) -> tuple[LoadResult, dict[str, float]]:
            ids = lookups.next_ids(n)
            sqls = [lookup_sql(i) for i in ids]
            groups: dict[str, Any] = {"client": [harness], "postgres": postmaster}
            server = servers.get(variant)
            if server is not None:
                groups["gateway"] = server.process  # with its worker processes, if any
            meter = CpuMeter(groups)
            meter.start()
            if variant == "healthz":
                assert server is not None
                result = await run_load(HOST, server.port, [healthz] * n, concurrency=concurrency)
            elif variant in ("gateway_named", "gateway_named_number"):
                assert server is not None
                by_number = variant == "gateway_named_number"
                result = await named_lookups(server, ids, concurrency, by_number=by_number)
            elif variant == "gateway_number":
                assert server is not None
                numbers = [number_lookup_sql(i) for i in ids]
                result = await gateway_lookups(server, numbers, concurrency)
            elif server is not None:
                result = await gateway_lookups(server, sqls, concurrency)
            elif variant == "executor":
                result = await run_in_process(
                    lambda sql: database.run(QueryPlan(sql, has_order_by=False)), sqls, concurrency
                )
            else:
                result = await run_in_process(lambda sql: raw_lookup(pool, sql), sqls, concurrency)
            cpu = meter.stop()
            if result.errors:
                raise RuntimeError(
                    f"{variant}: {result.errors} failed, first: {result.first_error}"
                )
            return result, cpu

        try:
            for variant in VARIANTS:  # warm-up: connections, codecs, code paths
                await run_variant(variant, max(100, requests // 5))
            runs = {variant: VariantRuns() for variant in VARIANTS}
            for round_index in range(rounds):
                for variant in rotated(VARIANTS, round_index):
                    result, cpu = await run_variant(variant, requests)
                    runs[variant].add(result, cpu)
        finally:
            await pool.close()
            await database.close()
        server_stack = gateway.implementations()
    summary = _summarise(runs, requests=requests, concurrency=concurrency, pool_size=pool_size)
    summary["gateway_server"] = server_stack
    return summary


def _summarise(
    runs: dict[str, VariantRuns], *, requests: int, concurrency: int, pool_size: int
) -> dict[str, Any]:
    raw = runs["raw"].throughput
    ratios = {
        "gateway/raw": ratio(runs["gateway"].throughput, raw),
        "gateway_named/gateway (named query vs /query, same lookup)": ratio(
            runs["gateway_named"].throughput, runs["gateway"].throughput
        ),
        "gateway_named/raw": ratio(runs["gateway_named"].throughput, raw),
        "gateway_named_number/gateway_number (named vs /query, by claim number)": ratio(
            runs["gateway_named_number"].throughput, runs["gateway_number"].throughput
        ),
        "gateway_nocost/raw": ratio(runs["gateway_nocost"].throughput, raw),
        "gateway_2w/raw": ratio(runs["gateway_2w"].throughput, raw),
        "floor/raw (the stack's ceiling)": ratio(runs["floor"].throughput, raw),
        "gateway/floor (the gateway's own cost)": ratio(
            runs["gateway"].throughput, runs["floor"].throughput
        ),
        "executor/raw": ratio(runs["executor"].throughput, raw),
        "gateway/gateway_nocost": ratio(
            runs["gateway"].throughput, runs["gateway_nocost"].throughput
        ),
        "gateway/healthz": ratio(runs["gateway"].throughput, runs["healthz"].throughput),
    }
    return {
        "requests": requests,
        "concurrency": concurrency,
        "pool_size": pool_size,
        "variants": {
            name: {
                "throughput_rps": Spread.of(r.throughput).as_dict(),
                "p50_ms": Spread.of(r.p50_ms).as_dict(),
                "p99_ms": Spread.of(r.p99_ms).as_dict(),
                "cpu_ms_per_request": r.cpu_medians(),
                "rounds": {"throughput_rps": r.throughput, "p50_ms": r.p50_ms, "p99_ms": r.p99_ms},
            }
            for name, r in runs.items()
        },
        "ratios": {name: spread.as_dict() for name, spread in ratios.items()},
        "target_ratio": TARGET_RATIO,
        "target_met": ratios["gateway/raw"].median >= TARGET_RATIO,
        "_spreads": {
            name: (Spread.of(r.throughput), Spread.of(r.p50_ms), Spread.of(r.p99_ms))
            for name, r in runs.items()
        },
        "_ratios": ratios,
    }


def variant_table(summary: dict[str, Any], labels: dict[str, str], servers: Collection[str]) -> str:
    """Throughput, latency and CPU per process group of each variant in `labels`, in order;
    `servers`: the variants with a gateway server process (the others have no CPU there)."""
    rows = []
    for name, label in labels.items():
        throughput, p50, p99 = summary["_spreads"][name]
        cpu = summary["variants"][name]["cpu_ms_per_request"]
        rows.append(
            [
                label,
                throughput.render(0),
                p50.render(2),
                p99.render(2),
                f"{cpu['client']:.3f}",
                f"{cpu['gateway']:.3f}" if name in servers else "–",
                f"{cpu['postgres']:.3f}",
            ]
        )
    header = ["variant", "req/s", "p50 ms", "p99 ms", "CPU ms/req: harness", "gateway server"]
    return markdown_table([*header, "PostgreSQL"], rows)


def render(summary: dict[str, Any]) -> str:
    labels = {name: LABELS[name] for name in VARIANTS}
    table = variant_table(summary, labels, SERVED)
    ratio_rows = [[name, spread.render(3)] for name, spread in summary["_ratios"].items()]
    gateway_raw = summary["_ratios"]["gateway/raw"]
    ratio_rows[0][0] += f" (target ≥ {TARGET_RATIO}: {verdict(gateway_raw.median >= TARGET_RATIO)})"
    return (
        f"{summary['requests']} lookups per variant and round, {summary['concurrency']} concurrent "
        f"clients, pool of {summary['pool_size']} connections; gateway server: "
        f"{summary['gateway_server']}, one process unless said, audit trail off (SQLGATEWAY_AUDIT_SINK=none; "
        "the audit scenario measures its cost). Median (min–max) over rounds; CPU ms/req = "
        "CPU time each process group used during the run / requests.\n\n"
        + table
        + "\n\nSame-round throughput ratios, median (min–max):\n\n"
        + markdown_table(["ratio", "value"], ratio_rows)
    )
