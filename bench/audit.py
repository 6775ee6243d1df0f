"""Scenario 1b, the audit trail's cost on point lookups: the same gateway with the trail off,
to a JSON Lines file and to PostgreSQL, side by side with the raw driver.

Variants (each round runs every one once, in rotated order, `requests` lookups each at the
same concurrency, every lookup a different claim id, as in `point.py`):

- ``raw``: asyncpg, as in `point.py`.
- ``audit_off``: the gateway as shipped (cost check on), SQLGATEWAY_AUDIT_SINK=none.
- ``audit_jsonl``: the same with SQLGATEWAY_AUDIT_SINK=jsonl, the file in the harness's
  temporary directory.
- ``audit_postgres``: the same with SQLGATEWAY_AUDIT_SINK=postgres, writing to a separate
  audit database on the same embedded server (`ensure_audit_database`, as `serve` sets up the
  demo's), as its own writer role.

With `--baseline <commit>`, three more variants run that commit's gateway from its own source
tree (`baseline.py`), same settings, same rounds:

- ``audit_off_base``: that version with audit off, against this one's audit off: what the
  common path (a point lookup, nothing else) gained or lost between the versions;
- ``audit_jsonl_base``, ``audit_postgres_base``: e.g. the gateway before durable audit
  (e6e5b14), which answered first and wrote the events up to 200 ms later, in batches.

and each variant is compared round by round with its baseline (throughput ratio, p50 and p99
difference in ms).

Each answer now waits until its event is durable. A version that writes off the request path
(a baseline) may still hold events when its load ends, so after the load of an audited variant
the harness waits, polling the server's /metrics, until every event is written (or spilled,
or dropped) before the next variant starts: the writer's work is not left to run during
another variant's measurement, and the CPU figures of an audited variant cover it. Then it
counts the events in the sink (lines of the JSONL file, rows of the audit table with that
server's actor) against the requests sent, warm-up included. Each server has its own API key
name, so its own actor.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import psutil

from bench.gateway import GatewayProcess
from bench.http_load import LoadResult
from bench.point import (
    STATEMENT_TIMEOUT_MS,
    LookupSqls,
    VariantRuns,
    gateway_lookups,
    raw_lookup,
    raw_pool,
    run_in_process,
    variant_table,
)
from bench.postgres import CpuMeter
from bench.stats import Spread, difference, markdown_table, ratio, rotated, verdict
from sqlgateway.audit.event import TABLE
from sqlgateway.audit.jsonl import rotated_files
from sqlgateway.audit.provision import AUDIT_SCHEMA
from sqlgateway.db.sql import quote_ident

VARIANTS = ("raw", "audit_off", "audit_jsonl", "audit_postgres")
#: With a baseline: that version's servers (audit off, and each sink), and what each is
#: compared with; audit off against audit off is the common path's cost between versions.
BASELINE_OF = {
    "audit_off": "audit_off_base",
    "audit_jsonl": "audit_jsonl_base",
    "audit_postgres": "audit_postgres_base",
}
LABELS = {
    "raw": "raw asyncpg",
    "audit_off": "gateway HTTP, audit off",
    "audit_jsonl": "gateway HTTP, audit to JSONL",
    "audit_postgres": "gateway HTTP, audit to PostgreSQL",
    "audit_off_base": "baseline {}, audit off",
    "audit_jsonl_base": "baseline {}, audit to JSONL",
    "audit_postgres_base": "baseline {}, audit to PostgreSQL",
}
GATEWAYS = ("audit_off", "audit_jsonl", "audit_postgres", *BASELINE_OF.values())
AUDITED = ("audit_jsonl", "audit_postgres", "audit_jsonl_base", "audit_postgres_base")
#: Longest wait for the trail to write a variant's events (or a spill to be replayed).
DRAIN_TIMEOUT_S = 60.0
POLL_S = 0.02
SETTLED = ("events_written", "events_spilled", "events_dropped")
#: The trail's counters each run reports (the server's `events_<name>` over the run).
COUNTED = ("written", "spilled", "replayed", "dropped")


@dataclass
class AuditRun:
    """What the trail did with one run's events."""

    requests: int
    events: int  # counted in the sink afterwards
    written: int  # the server's counters over the run (and its drain)
    spilled: int
    replayed: int
    dropped: int
    unwritten_at_end: int  # events neither written nor spilled when the load ended
    drain_ms: float  # from the end of the load until none was left


@dataclass
class AuditRuns:
    runs: list[AuditRun] = field(default_factory=list)

    def total(self, name: str) -> int:
        return sum(getattr(run, name) for run in self.runs)


async def _jsonl_events(path: Path) -> int:
    def count() -> int:
        lines = 0
        for file in rotated_files(path):
            with open(file, "rb") as handle:
                while chunk := handle.read(1 << 20):
                    lines += chunk.count(b"\n")
        return lines

    return await asyncio.to_thread(count)


class _Sinks:
    """Counts of the events each audited server's sink holds."""

    def __init__(self, conn: asyncpg.Connection, servers: dict[str, GatewayProcess]) -> None:
        self._conn = conn
        self._servers = servers
        self._count_sql = (
            f"SELECT count(*) FROM {quote_ident(AUDIT_SCHEMA)}.{TABLE} WHERE actor = $1"
        )

    async def events(self, variant: str) -> int:
        server = self._servers[variant]
        if variant.startswith("audit_jsonl"):
            return await _jsonl_events(server.audit_file)
        count: int = await self._conn.fetchval(self._count_sql, server.actor)
        return count


def _counters(server: GatewayProcess) -> dict[str, int]:
    """The trail's `events_<name>` counters and its `queue_depth`, from /metrics."""
    values = server.audit_counters()
    names = [*(f"events_{name}" for name in COUNTED), "queue_depth"]
    return {name: int(values.get(name, 0)) for name in names}


def _settled(counters: dict[str, int], before: dict[str, int]) -> int:
    return sum(counters[name] - before[name] for name in SETTLED)


async def _drain(
    server: GatewayProcess, before: dict[str, int], n: int, load_end: float
) -> tuple[int, float, dict[str, int]]:
    """Wait until the server's trail has settled `n` more events than `before` and its queue
    is empty: (events unsettled when the load ended, drain seconds, counters then)."""
    counters = _counters(server)
    unwritten = n - _settled(counters, before)
    deadline = load_end + DRAIN_TIMEOUT_S
    while _settled(counters, before) < n or counters["queue_depth"]:
        if time.perf_counter() > deadline:
            raise RuntimeError(
                f"{server.actor}: the audit trail settled {_settled(counters, before)} of {n} "
                f"events in {DRAIN_TIMEOUT_S:.0f} s\n{server.log_tail()}"
            )
        await asyncio.sleep(POLL_S)
        counters = _counters(server)
    return unwritten, time.perf_counter() - load_end, counters


async def _events_reached(sinks: _Sinks, variant: str, expected: int) -> int:
    """The sink's event count once it reaches `expected` (spilled events are replayed a
    little later), or whatever it holds after DRAIN_TIMEOUT_S."""
    deadline = time.perf_counter() + DRAIN_TIMEOUT_S
    while True:
        events = await sinks.events(variant)
        if events >= expected or time.perf_counter() > deadline:
            return events
        await asyncio.sleep(0.1)


async def run_audit_overhead(
    *,
    dsn: str,
    audit_dsn: str,
    claims: int,
    postmaster: psutil.Process,
    log_dir: Path,
    rounds: int,
    requests: int,
    concurrency: int,
    pool_size: int,
    baseline: Path | None = None,
    baseline_name: str = "",
    seed: int = 2,
) -> dict[str, Any]:
    variants = (*VARIANTS, *BASELINE_OF.values()) if baseline else VARIANTS
    lookups = LookupSqls(claims, requests * (rounds + 1) * len(variants), seed)
    common: dict[str, Any] = {"pool_min_size": pool_size, "pool_max_size": pool_size}
    to_postgres = {"audit_database_url": audit_dsn, "audit_schema": AUDIT_SCHEMA}
    with contextlib.ExitStack() as stack:

        def start(name: str, sink: str, source: Path | None = None, **more: Any) -> GatewayProcess:
            process = GatewayProcess(
                dsn, log_dir, name, source=source, audit_sink=sink, **common, **more
            )
            return stack.enter_context(process)

        servers = {
            "audit_off": start("audit-off", "none"),
            "audit_jsonl": start("audit-jsonl", "jsonl"),
            "audit_postgres": start("audit-postgres", "postgres", **to_postgres),
        }
        if baseline is not None:
            servers["audit_off_base"] = start("base-off", "none", baseline)
            servers["audit_jsonl_base"] = start("base-jsonl", "jsonl", baseline)
            servers["audit_postgres_base"] = start(
                "base-postgres", "postgres", baseline, **to_postgres
            )
        audit_off = servers["audit_off"]
        pool = await raw_pool(dsn, pool_size)
        conn = await asyncpg.connect(audit_dsn)
        sinks = _Sinks(conn, servers)
        harness = psutil.Process()
        sent = dict.fromkeys(AUDITED, 0)
        labels = {name: LABELS[name].format(baseline_name) for name in variants}

        async def run_variant(variant: str, n: int) -> tuple[LoadResult, dict[str, float]]:
            sqls = lookups.next(n)
            groups: dict[str, Any] = {"client": [harness], "postgres": postmaster}
            server = servers.get(variant)
            if server is None:
                meter = CpuMeter(groups)
                meter.start()
                result = await run_in_process(lambda sql: raw_lookup(pool, sql), sqls, concurrency)
                return result, meter.stop()
            groups["gateway"] = [server.process]
            tracked = variant in AUDITED
            before = _counters(server) if tracked else {}
            events_before = await sinks.events(variant) if tracked else 0
            meter = CpuMeter(groups)
            meter.start()
            result = await gateway_lookups(server, sqls, concurrency)
            if tracked:
                unwritten, drain_s, after = await _drain(server, before, n, time.perf_counter())
            cpu = meter.stop()
            if result.errors:
                raise RuntimeError(
                    f"{variant}: {result.errors} failed, first: {result.first_error}\n"
                    f"{server.log_tail()}"
                )
            if tracked:
                sent[variant] += n
                events = await _events_reached(sinks, variant, events_before + n)
                audit_runs[variant].runs.append(
                    AuditRun(
                        requests=n,
                        events=events - events_before,
                        **{
                            name: after[f"events_{name}"] - before[f"events_{name}"]
                            for name in COUNTED
                        },
                        unwritten_at_end=unwritten,
                        drain_ms=drain_s * 1000,
                    )
                )
            return result, cpu

        audit_runs = {variant: AuditRuns() for variant in AUDITED if variant in variants}
        try:
            for variant in variants:  # warm-up: connections, codecs, code paths, the sinks
                await run_variant(variant, max(100, requests // 5))
            runs = {variant: VariantRuns() for variant in variants}
            for round_index in range(rounds):
                for variant in rotated(variants, round_index):
                    result, cpu = await run_variant(variant, requests)
                    runs[variant].add(result, cpu)
            totals = {variant: await sinks.events(variant) for variant in audit_runs}
        finally:
            await conn.close()
            await pool.close()
        server_stack = audit_off.implementations()
    summary = _summarise(runs, audit_runs, totals, sent)
    summary.update(
        labels=labels,
        baseline=baseline_name or None,
        requests=requests,
        concurrency=concurrency,
        pool_size=pool_size,
        statement_timeout_ms=STATEMENT_TIMEOUT_MS,
        gateway_server=server_stack,
    )
    return summary


def _summarise(
    runs: dict[str, VariantRuns],
    audit_runs: dict[str, AuditRuns],
    totals: dict[str, int],
    sent: dict[str, int],
) -> dict[str, Any]:
    off = runs["audit_off"]
    ratios: dict[str, dict[str, Spread]] = {}
    for name in GATEWAYS:
        if name not in runs:
            continue
        r = runs[name]
        ratios[name] = {"req/s ÷ raw": ratio(r.throughput, runs["raw"].throughput)}
        if name != "audit_off":
            ratios[name] |= {
                "req/s ÷ audit off": ratio(r.throughput, off.throughput),
                "p50 ÷ audit off": ratio(r.p50_ms, off.p50_ms),
                "p99 ÷ audit off": ratio(r.p99_ms, off.p99_ms),
            }
        base = runs.get(BASELINE_OF.get(name, ""))
        if base is not None:
            ratios[name] |= {
                "req/s ÷ baseline": ratio(r.throughput, base.throughput),
                "p50 − baseline ms": difference(r.p50_ms, base.p50_ms),
                "p99 − baseline ms": difference(r.p99_ms, base.p99_ms),
            }
    events: dict[str, Any] = {}
    for name, audited in audit_runs.items():
        events[name] = {
            "requests": sent[name],
            "events": totals[name],
            "events_equal_requests": totals[name] == sent[name]
            and all(run.events == run.requests for run in audited.runs),
            "rounds_equal": sum(run.events == run.requests for run in audited.runs),
            "rounds": len(audited.runs),
            **{key: audited.total(key) for key in COUNTED},
            "unwritten_at_end": Spread.of([run.unwritten_at_end for run in audited.runs]),
            "drain_ms": Spread.of([run.drain_ms for run in audited.runs]),
            "runs": [vars(run) for run in audited.runs],
        }
    return {
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
        "ratios": {
            name: {key: spread.as_dict() for key, spread in per.items()}
            for name, per in ratios.items()
        },
        "events": {
            name: {
                key: value.as_dict() if isinstance(value, Spread) else value
                for key, value in entry.items()
            }
            for name, entry in events.items()
        },
        "_spreads": {
            name: (Spread.of(r.throughput), Spread.of(r.p50_ms), Spread.of(r.p99_ms))
            for name, r in runs.items()
        },
        "_ratios": ratios,
        "_events": events,
    }


def render(summary: dict[str, Any]) -> str:
    labels = summary["labels"]
    table = variant_table(summary, labels, GATEWAYS)
    columns = ["req/s ÷ audit off", "req/s ÷ raw", "p50 ÷ audit off", "p99 ÷ audit off"]
    ratio_rows = [
        [labels[name], *(per[c].render(3) if c in per else "–" for c in columns)]
        for name, per in summary["_ratios"].items()
    ]
    baseline_rows = [
        [
            labels[name],
            per["req/s ÷ baseline"].render(3),
            per["p50 − baseline ms"].render(2),
            per["p99 − baseline ms"].render(2),
        ]
        for name, per in summary["_ratios"].items()
        if "req/s ÷ baseline" in per
    ]
    against_baseline = ""
    if baseline_rows:
        against_baseline = (
            f"\n\nAgainst the baseline {summary['baseline']} with the same sink, same rounds "
            "(target: req/s ≥ 0.9×, p99 at most a few ms more):\n\n"
            + markdown_table(
                ["variant", "req/s ÷ baseline", "p50 − baseline ms", "p99 − baseline ms"],
                baseline_rows,
            )
        )
    event_rows = []
    for name, entry in summary["_events"].items():
        event_rows.append(
            [
                labels[name],
                f"{entry['requests']:,}",
                f"{entry['events']:,}",
                f"{verdict(entry['events_equal_requests'])} "
                f"({entry['rounds_equal']}/{entry['rounds']} runs)",
                f"{entry['written']:,} / {entry['spilled']:,} / {entry['dropped']:,}",
                entry["unwritten_at_end"].render(0),
                entry["drain_ms"].render(0),
            ]
        )
    events_table = markdown_table(
        [
            "variant",
            "requests",
            "events in sink",
            "events = requests",
            "written / spilled / dropped",
            "not yet written at end of load",
            "drain ms",
        ],
        event_rows,
    )
    return (
        f"{summary['requests']} lookups per variant and round, {summary['concurrency']} "
        f"concurrent clients, pool of {summary['pool_size']} connections, cost check on; gateway "
        f"server: {summary['gateway_server']}, one process each. The PostgreSQL sink writes to a "
        "separate database of the same server (its CPU is in the PostgreSQL column). CPU of an "
        "audited variant is counted until its trail has written every event.\n\n"
        + table
        + "\n\nSame-round ratios, median (min–max):\n\n"
        + markdown_table(["variant", *columns], ratio_rows)
        + against_baseline
        + "\n\nAudit events of every request sent to each audited server (warm-up included), "
        "counted in the sink after each run (JSONL lines; audit table rows with the server's "
        "actor); written / spilled / dropped from the server's /metrics; per run: events "
        "neither written nor spilled when the load ended, and the time until none was left, "
        "median (min–max):\n\n" + events_table
    )
