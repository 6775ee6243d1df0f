"""executor: rows stream in batches through the unnamed portal, or the public cursor."""

from __future__ import annotations

import asyncio

import asyncpg

from sqlgateway.db.executor import _batches, _keep_connection
from sqlgateway.demo.database import DemoDatabase

SQL = "SELECT claim_id FROM claims WHERE claim_id <= 7 ORDER BY claim_id"


async def _collect(conn: asyncpg.Connection, prefetch: int) -> list[list[int]]:
    async with conn.transaction(readonly=True):
        statement = await conn.prepare(SQL)
        return [[row[0] for row in batch] async for batch in _batches(conn, statement, prefetch)]  # type: ignore[arg-type]


def test_fast_path_and_cursor_fallback_give_the_same_batches(demo: DemoDatabase) -> None:
    async def go() -> tuple[list[list[int]], list[list[int]]]:
        # (asyncpg's default reset calls pg_advisory_unlock_all, which the reader may not run)
        pool = await asyncpg.create_pool(
            demo.reader_dsn, min_size=1, max_size=1, reset=_keep_connection
        )
        try:
            async with pool.acquire() as proxy:  # a pool proxy: asyncpg's protocol path
                fast = await _collect(proxy, 3)  # type: ignore[arg-type]
        finally:
            await pool.close()
        conn = await asyncpg.connect(demo.reader_dsn)  # no proxy: the public cursor path
        try:
            slow = await _collect(conn, 3)
        finally:
            await conn.close()
        return fast, slow

    fast, slow = asyncio.run(go())
    assert [row for batch in fast for row in batch] == [1, 2, 3, 4, 5, 6, 7]
    assert fast[:2] == [[1, 2, 3], [4, 5, 6]]
    assert [row for batch in slow for row in batch] == [1, 2, 3, 4, 5, 6, 7]
