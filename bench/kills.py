"""Scenario 1c, answers left without their audit event by a kill: `sqlgateway serve` under
point-lookup load (8 clients on keep-alive connections, as an operator would try it) is
killed with SIGKILL at a random moment, `kills` times in a row on the same audit file, spill
directory and audit table; then it is started once more (which replays what the spill files
hold) and stopped with SIGTERM. Every request id whose answer arrived (status line and
headers) is then looked up in the sink: how many have no event, and how many events are
there twice. Both sinks; this version and, with `--baseline`, that one, in the same run.

Not a timing measurement: the counts are what matters, the load's rate only sets how many
answers are in flight when the kill comes.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx2

from bench.gateway import HOST, GatewayProcess
from bench.point import LookupSqls
from bench.stats import markdown_table
from sqlgateway.audit.event import TABLE
from sqlgateway.audit.jsonl import decode_line, rotated_files
from sqlgateway.audit.provision import AUDIT_SCHEMA
from sqlgateway.db.sql import quote_ident

SINKS = ("jsonl", "postgres")
CLIENTS = 8
#: A kill comes this long after the load starts (uniformly at random).
KILL_AFTER_S = (1.0, 3.0)


@dataclass
class KillRun:
    """One version and sink: what was answered over all its kills, and what the sink holds."""

    version: str
    sink: str
    kills: int
    moments_s: list[float] = field(default_factory=list)
    answered: set[str] = field(default_factory=set)
    unanswered: int = 0
    without_event: int = 0
    repeated: int = 0

    @property
    def share(self) -> float:
        return self.without_event / len(self.answered) if self.answered else 0.0


async def _load(
    server: GatewayProcess, sqls: LookupSqls, run: KillRun, stop: asyncio.Event
) -> None:
    headers = {"Authorization": f"Bearer {server.api_key}"}
    limits = httpx2.Limits(max_connections=CLIENTS)
    async with httpx2.AsyncClient(
        base_url=f"http://{HOST}:{server.port}", headers=headers, timeout=10, limits=limits
    ) as http:

        async def client() -> None:
            while not stop.is_set():
                [sql] = sqls.next(1)
                try:
                    async with http.stream("POST", "/query", json={"sql": sql}) as response:
                        run.answered.add(response.headers["X-Request-Id"])
                        await response.aread()
                except httpx2.HTTPError:
                    run.unanswered += 1
                    await asyncio.sleep(0.01)

        await asyncio.gather(*(client() for _ in range(CLIENTS)))


async def _stored(
    sink: str, audit_file: Path, conn: asyncpg.Connection, ids: set[str]
) -> Counter[str]:
    """How many events each of `ids` has in the sink."""
    if sink == "jsonl":

        def count() -> Counter[str]:
            found: Counter[str] = Counter()
            for path in rotated_files(audit_file):
                for line in path.read_bytes().splitlines():
                    event = decode_line(line)
                    if event is not None and event.get("request_id") in ids:
                        found[event["request_id"]] += 1
            return found

        return await asyncio.to_thread(count)
    rows = await conn.fetch(
        f"SELECT request_id, count(*) FROM {quote_ident(AUDIT_SCHEMA)}.{TABLE}"
        " WHERE request_id = ANY($1::text[]) GROUP BY 1",
        list(ids),
    )
    return Counter({row[0]: row[1] for row in rows})


async def _kill_runs(
    version: str,
    source: Path | None,
    sink: str,
    *,
    dsn: str,
    audit_dsn: str,
    conn: asyncpg.Connection,
    sqls: LookupSqls,
    log_dir: Path,
    kills: int,
    rng: random.Random,
) -> KillRun:
    run = KillRun(version, sink, kills)
    name = f"kills-{'base' if source else 'this'}-{sink}"  # also the actor: no spaces
    where = log_dir / name
    settings: dict[str, Any] = {
        "audit_file": where / "audit.jsonl",
        "audit_spill_dir": where / "spill",
        "pool_min_size": 4,
        "pool_max_size": 4,
    }
    if sink == "postgres":
        settings |= {"audit_database_url": audit_dsn, "audit_schema": AUDIT_SCHEMA}
    for _ in range(kills):
        server = GatewayProcess(dsn, log_dir, name, source=source, audit_sink=sink, **settings)
        server.start()
        stop = asyncio.Event()
        load = asyncio.create_task(_load(server, sqls, run, stop))
        moment = rng.uniform(*KILL_AFTER_S)
        await asyncio.sleep(moment)
        await asyncio.to_thread(server.kill)
        stop.set()
        await load
        run.moments_s.append(moment)
    last = GatewayProcess(dsn, log_dir, name, source=source, audit_sink=sink, **settings)
    last.start()  # replays the spill files the kills left
    await asyncio.sleep(1.0)
    await asyncio.to_thread(last.stop)  # SIGTERM: writes what is left
    found = await _stored(sink, settings["audit_file"], conn, run.answered)
    run.without_event = sum(1 for request_id in run.answered if not found[request_id])
    run.repeated = sum(1 for n in found.values() if n > 1)
    return run


async def run_kills(
    *,
    dsn: str,
    audit_dsn: str,
    claims: int,
    log_dir: Path,
    kills: int,
    baseline: Path | None = None,
    baseline_name: str = "",
    seed: int = 3,
) -> dict[str, Any]:
    versions: list[tuple[str, Path | None]] = [("this", None)]
    if baseline is not None:
        versions.append((f"baseline {baseline_name}", baseline))
    sqls = LookupSqls(claims, claims, seed)
    rng = random.Random(seed)
    conn = await asyncpg.connect(audit_dsn)
    started = time.perf_counter()
    try:
        runs = [
            await _kill_runs(
                version,
                source,
                sink,
                dsn=dsn,
                audit_dsn=audit_dsn,
                conn=conn,
                sqls=sqls,
                log_dir=log_dir,
                kills=kills,
                rng=rng,
            )
            for sink in SINKS
            for version, source in versions
        ]
    finally:
        await conn.close()
    return {
        "kills": kills,
        "clients": CLIENTS,
        "elapsed_s": time.perf_counter() - started,
        "runs": [
            {
                "version": run.version,
                "sink": run.sink,
                "kills": run.kills,
                "kill_moments_s": [round(moment, 2) for moment in run.moments_s],
                "answered": len(run.answered),
                "unanswered": run.unanswered,
                "answered_without_event": run.without_event,
                "share_without_event": run.share,
                "events_stored_twice": run.repeated,
            }
            for run in runs
        ],
    }


def render(summary: dict[str, Any]) -> str:
    rows = [
        [
            run["sink"],
            run["version"],
            str(run["kills"]),
            f"{run['answered']:,}",
            f"{run['answered_without_event']:,} ({run['share_without_event']:.1%})",
            str(run["events_stored_twice"]),
        ]
        for run in summary["runs"]
    ]
    return (
        f"`serve` under point-lookup load ({summary['clients']} clients), SIGKILL at a random "
        f"moment {KILL_AFTER_S[0]:g}–{KILL_AFTER_S[1]:g} s into each load, {summary['kills']} "
        "times in a row, then one more start (replaying the spill files) and SIGTERM. Every "
        "answered request id looked up in the sink:\n\n"
        + markdown_table(
            ["sink", "version", "kills", "answered", "answered without event", "stored twice"],
            rows,
        )
    )
