"""What each known lever would buy, measured: point lookups against gateway servers with one
lever pulled at a time (a development aid for profiling, not part of the harness).

    python -m bench.experiments [--claims 20000] [--rounds 3] [--requests 3000]

Servers (each `python -m bench.experiments serve LEVERS` = `sqlgateway serve` with the
levers applied by monkeypatching in that process only; nothing in the package changes):

- ``baseline``: as shipped.
- ``no_explain``: SQLGATEWAY_MAX_PLAN_COST=0 and _MAX_PLAN_ROWS=0 (2 round trips fewer).
  (Streaming through the unnamed portal, once a lever here, is what the executor now does.)
- ``gc_tuned``: `app.tune_collector()`, which `sqlgateway serve` now calls once started
  (`gc.freeze()` and a gen-0 threshold of 50,000: fewer, cheaper collections). The servers
  here are built with `create_app` and uvicorn directly, so the baseline is untuned.
- ``no_guard``: the guard replaced by a pass-through verdict: the guard's share.

Every server logs the garbage collector's work (collections and seconds per generation) to its
log file when it stops; the table shows GC seconds per 1,000 requests.

plus ``raw`` asyncpg in the harness, as in scenario 1, for the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import signal
import sys
import time
from typing import Any

import uvicorn

from bench.gateway import HOST, GatewayProcess
from bench.http_load import query_request, run_load
from bench.point import lookup_sql, raw_lookup, raw_pool
from bench.postgres import bench_server
from bench.stats import Spread, markdown_table, ratio, rotated
from sqlgateway.app import create_app, tune_collector
from sqlgateway.guard import GuardPolicy, Verdict, check_sql
from sqlgateway.settings import Settings

SERVERS = {
    "baseline": "",
    "gc_tuned": "gc_tuned",
    "no_guard_only": "no_guard",
    "no_explain": "no_explain",
    "all_levers": "no_explain,gc_tuned",
    "all_no_guard": "no_explain,gc_tuned,no_guard",
}


gc_ms: dict[str, float] = {}  # server → GC milliseconds per 1,000 requests
guard_us: dict[str, float] = {}  # server → µs per guard call, measured inside the server


guard_time = [0, 0.0]  # calls, CPU seconds: the guard as it runs inside the server


def _timed_guard(sql: str, policy: GuardPolicy) -> Verdict:
    started = time.thread_time()  # CPU time: not inflated when the OS runs PostgreSQL instead
    try:
        return check_sql(sql, policy)
    finally:
        guard_time[0] += 1
        guard_time[1] += time.thread_time() - started


def _pass_through(sql: str, policy: GuardPolicy) -> Verdict:
    return Verdict(sql=sql, tables=(), functions=(), has_order_by=False, has_limit=False)


class GcStats:
    """Counts collections and the time spent in them (gc.callbacks)."""

    def __init__(self) -> None:
        self.count = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]
        self._started = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            generation = info["generation"]
            self.count[generation] += 1
            self.seconds[generation] += time.perf_counter() - self._started

    def line(self) -> str:
        return json.dumps(
            {
                "gc_count": self.count,
                "gc_seconds": self.seconds,
                "guard_calls": guard_time[0],
                "guard_seconds": guard_time[1],
            }
        )


def serve(levers: set[str]) -> None:
    settings = Settings()
    if "no_explain" in levers:
        settings = settings.model_copy(update={"max_plan_cost": 0, "max_plan_rows": 0})
    app = create_app(settings, guard=_pass_through if "no_guard" in levers else _timed_guard)
    if "gc_tuned" in levers:
        tune_collector()
    stats = GcStats()
    # uvicorn re-raises the SIGTERM that stopped it; make that a normal exit to print stats
    signal.signal(signal.SIGTERM, _exit_normally)
    try:
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
    finally:
        print(stats.line(), flush=True)


def _exit_normally(signum: int, frame: object) -> None:
    raise SystemExit(0)


async def _compare(
    dsn: str, claims: int, log_dir: Any, rounds: int, requests: int, concurrency: int, size: int
) -> dict[str, list[float]]:
    rng = random.Random(3)
    pool_env = {"pool_min_size": size, "pool_max_size": size}
    servers: dict[str, GatewayProcess] = {}
    throughput: dict[str, list[float]] = {name: [] for name in [*SERVERS, "raw"]}
    gc_ms.clear()
    guard_us.clear()
    pool = await raw_pool(dsn, size)
    try:
        for name, levers in SERVERS.items():
            command = [sys.executable, "-m", "bench.experiments", "serve", levers or "none"]
            servers[name] = GatewayProcess(dsn, log_dir, name, command=command, **pool_env)
            servers[name].start()

        async def once(name: str, n: int) -> float:
            sqls = [lookup_sql(rng.randint(1, claims)) for _ in range(n)]
            if name == "raw":
                result = await _in_process(pool, sqls, concurrency)
                return result
            server = servers[name]
            host = f"{HOST}:{server.port}"
            raws = [query_request(host, server.api_key, sql) for sql in sqls]
            load = await run_load(
                HOST, server.port, raws, concurrency=concurrency, expect=b'"row_count":1,'
            )
            if load.errors:
                raise RuntimeError(f"{name}: {load.first_error}\n{server.log_tail()}")
            return load.throughput

        for name in throughput:
            await once(name, max(100, requests // 5))
        for round_index in range(rounds):
            for name in rotated(list(throughput), round_index):
                throughput[name].append(await once(name, requests))
    finally:
        await pool.close()
        for server in servers.values():
            server.stop()
    for name, server in servers.items():
        served = requests * rounds + max(100, requests // 5)
        stats = json.loads(server.log_tail(1) or "{}")
        gc_ms[name] = sum(stats.get("gc_seconds", [])) * 1000 / served * 1000
        if stats.get("guard_calls"):
            guard_us[name] = stats["guard_seconds"] / stats["guard_calls"] * 1e6
    return throughput


async def _in_process(pool: Any, sqls: list[str], concurrency: int) -> float:
    loop = asyncio.get_running_loop()
    queue = iter(sqls)

    async def worker() -> None:
        for sql in queue:
            await raw_lookup(pool, sql)

    started = loop.time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(sqls) / (loop.time() - started)


def main() -> None:
    if sys.argv[1:2] == ["serve"]:
        serve(set(sys.argv[2].split(",")) - {"none"})
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--claims", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--pool-size", type=int, default=10)
    args = parser.parse_args()
    with bench_server() as server:
        dsn = server.database(args.claims).reader_dsn
        throughput = asyncio.run(
            _compare(
                dsn,
                args.claims,
                server.workdir,
                args.rounds,
                args.requests,
                args.concurrency,
                args.pool_size,
            )
        )
    rows = [
        [
            name,
            SERVERS.get(name, "in-process driver") or "as shipped",
            Spread.of(values).render(0),
            ratio(values, throughput["raw"]).render(3),
            ratio(values, throughput["baseline"]).render(3),
            f"{gc_ms[name]:.0f}" if name in gc_ms else "–",
            f"{guard_us[name]:.0f}" if name in guard_us else "–",
        ]
        for name, values in throughput.items()
    ]
    print(
        markdown_table(
            [
                "server",
                "levers",
                "req/s",
                "ratio to raw",
                "ratio to baseline",
                "GC ms/1k req",
                "guard CPU µs/call in server",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
