"""Which database a query reads from: the primary alone, or read replicas round-robin.

Each database has its own bounded asyncpg pool. With replicas, every checkout starts at the
next replica in turn and skips those marked down; the primary serves only when no replica
does. A database is marked down when connecting to it or a connection to it fails (a passive
health check: no probes) and is tried again `retry_ms` later. When every database is marked
down, all of them are tried anyway rather than refusing without asking.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

import asyncpg
from asyncpg.pool import PoolConnectionProxy

logger = logging.getLogger("sqlgateway")


def describe_dsn(dsn: str, *, with_user: bool = False) -> str:
    """`host:port/database` (`user@host:port/database` `with_user`) of a PostgreSQL URL: safe
    to log, it never holds the password.

    >>> describe_dsn("postgresql://reader:s3cret@db:6432/claims", with_user=True)
    'reader@db:6432/claims'
    """
    parts = urlsplit(dsn)
    if with_user and parts.username:
        return f"{unquote(parts.username)}@{describe_dsn(dsn)}"
    query = parse_qs(parts.query)
    netloc = parts.netloc.rpartition("@")[2]
    host = query.get("host", [netloc.rsplit(":", 1)[0] if netloc else "localhost"])[0]
    port = query.get("port", [netloc.rsplit(":", 1)[1] if ":" in netloc else "5432"])[0]
    database = unquote(parts.path.lstrip("/")) or query.get("dbname", ["?"])[0]
    return f"{host}:{port}/{database}"


@dataclass(eq=False)
class Member:
    """One database and its pool; `name` is what logs show (no credentials)."""

    name: str
    pool: asyncpg.Pool
    #: time.monotonic() until which the database is skipped; 0: healthy.
    down_until: float = 0.0


class PoolSet:
    """The pools queries read through. `acquire`/`release` work like one asyncpg pool's."""

    def __init__(
        self, primary: Member, replicas: Sequence[Member] = (), *, retry_ms: int = 2_000
    ) -> None:
        self.primary = primary
        self.replicas = tuple(replicas)
        self._retry_s = retry_ms / 1000
        self._turn = 0
        self._lent: dict[PoolConnectionProxy, Member] = {}

    @property
    def members(self) -> tuple[Member, ...]:
        return (*self.replicas, self.primary)

    def candidates(self) -> list[Member]:
        """The databases to try for the next checkout, in order."""
        if not self.replicas:
            return [self.primary]
        start = self._turn % len(self.replicas)
        self._turn = start + 1
        ordered = [*self.replicas[start:], *self.replicas[:start], self.primary]
        now = time.monotonic()
        healthy = [member for member in ordered if member.down_until <= now]
        return healthy or ordered

    def mark_down(self, member: Member, error: BaseException) -> None:
        if member.down_until <= time.monotonic():
            logger.warning(
                "database %s failed (%s); skipped for %.1f s",
                member.name,
                type(error).__name__,
                self._retry_s,
            )
        member.down_until = time.monotonic() + self._retry_s

    def mark_up(self, member: Member) -> None:
        if member.down_until:
            logger.info("database %s answers again", member.name)
            member.down_until = 0.0

    def owner(self, conn: PoolConnectionProxy) -> Member:
        return self._lent[conn]

    async def acquire(self, *, timeout: float) -> PoolConnectionProxy:  # noqa: ASYNC109
        """A connection from the first candidate that gives one; each database gets up to
        `timeout` seconds. Raises what the last one raised (TimeoutError: all busy)."""
        failure: Exception | None = None
        for member in self.candidates():
            try:
                # asyncio.timeout, not acquire(timeout=): asyncpg's wait_for makes a Task per call
                async with asyncio.timeout(timeout):
                    conn = await member.pool.acquire()
            except TimeoutError as error:
                if member.pool.get_size() == 0:  # not busy: it never connected
                    self.mark_down(member, error)
                failure = error
                continue
            except Exception as error:  # refused, unreachable, unsafe role: try the next
                self.mark_down(member, error)
                failure = error
                continue
            self.mark_up(member)
            self._lent[conn] = member
            return conn
        assert failure is not None
        raise failure

    async def release(self, conn: PoolConnectionProxy) -> None:
        await self._lent.pop(conn).pool.release(conn)

    async def close(self) -> None:
        for member in self.members:
            await member.pool.close()
