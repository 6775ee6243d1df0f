"""Round trips to PostgreSQL per query, counted on the wire by a Unix-socket proxy.

A round trip is a burst of client→server bytes that follows server→client bytes (or opens the
connection): the client had to wait for an answer before it could go on. The proxy listens on
`<dir>/.s.PGSQL.<port>` and forwards to the real server's socket, so a DSN with
`host=<dir>` goes through it unchanged otherwise.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from bench.point import RAW_BEGIN, executor_settings, lookup_sql, raw_pool
from bench.stats import markdown_table
from sqlgateway.db.executor import Database, QueryPlan


class CountingProxy:
    def __init__(self, dsn: str) -> None:
        parts = urlsplit(dsn)
        query = dict(parse_qsl(parts.query))
        self.port = query.get("port", "5432")
        self.target = Path(query["host"]) / f".s.PGSQL.{self.port}"
        self.dir = Path(tempfile.mkdtemp(prefix="sqlgw-rt-"))
        query["host"] = str(self.dir)
        self.dsn = urlunsplit(parts._replace(query=urlencode(query, safe="/")))
        self.round_trips = 0
        self._server: asyncio.AbstractServer | None = None

    async def __aenter__(self) -> CountingProxy:
        self._server = await asyncio.start_unix_server(
            self._serve, path=str(self.dir / f".s.PGSQL.{self.port}")
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_unix_connection(str(self.target))
        answered = True  # the next client burst starts a round trip

        async def upstream() -> None:
            nonlocal answered
            while data := await client_r.read(65536):
                if answered:
                    self.round_trips += 1
                    answered = False
                server_w.write(data)
                await server_w.drain()
            server_w.close()

        async def downstream() -> None:
            nonlocal answered
            while data := await server_r.read(65536):
                answered = True
                client_w.write(data)
                await client_w.drain()
            client_w.close()

        await asyncio.gather(upstream(), downstream(), return_exceptions=True)


async def _count(proxy: CountingProxy, call: Callable[[], Awaitable[Any]], times: int) -> float:
    await call()  # warm-up (and leaves asyncpg's pending statement closes in steady state)
    await call()
    before = proxy.round_trips
    for _ in range(times):
        await call()
    return (proxy.round_trips - before) / times


async def count_round_trips(dsn: str, times: int = 20) -> dict[str, float]:
    counts: dict[str, float] = {}
    async with CountingProxy(dsn) as proxy:
        ids = iter(range(1, 10_000_000))
        for label, overrides in (
            ("executor (cost check on)", {}),
            ("executor (cost check off)", {"max_plan_cost": 0, "max_plan_rows": 0}),
        ):
            database = await Database.connect(
                proxy.dsn, executor_settings(proxy.dsn, 1, **overrides)
            )
            try:
                counts[f"{label}: point lookup"] = await _count(
                    proxy,
                    lambda db=database: db.run(QueryPlan(lookup_sql(next(ids)), False)),
                    times,
                )
                counts[f"{label}: SELECT * FROM claims"] = await _count(
                    proxy, lambda db=database: db.run(QueryPlan("SELECT * FROM claims", False)), 3
                )
            finally:
                await database.close()
        pool = await raw_pool(proxy.dsn, 1)
        try:

            async def raw() -> None:
                async with pool.acquire() as conn:
                    await conn.execute(RAW_BEGIN)
                    await conn.fetch(lookup_sql(next(ids)))
                    await conn.execute("ROLLBACK")

            counts["raw asyncpg: point lookup"] = await _count(proxy, raw, times)
        finally:
            await pool.close()
    return counts


def render(counts: dict[str, float]) -> str:
    return markdown_table(
        ["what", "round trips"], [[name, f"{value:g}"] for name, value in counts.items()]
    )
