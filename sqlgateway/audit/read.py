"""Reading the audit trail back, from either sink, oldest first and streamed.

    Filters        what to keep: time range, actor, request id, outcomes, protocol, table, text,
                   duration
    matches        Filters applied to one event (the JSON Lines side filters while streaming)
    select_sql     Filters as a parameterised query (the PostgreSQL side filters in SQL)
    JsonlTrail     SQLGATEWAY_AUDIT_FILE and its rotated siblings (jsonl.rotated_files)
    PgTrail        the `<schema>.audit_events` table
    open_trail     one or the other, from a TrailSource

Both trails give events as dicts keyed by `event.NAMES`, `ts` an ISO 8601 UTC string, in the
order they were written (file order, table id), and remember where they stopped so that
`new_events` can follow the trail.
"""

from __future__ import annotations

import heapq
import os
import re
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal, Protocol

import asyncpg

from sqlgateway.audit.event import NAMES, TABLE
from sqlgateway.audit.jsonl import decode_line, rotated_files
from sqlgateway.db.driver_errors import DATABASE_ERRORS, connection_problem
from sqlgateway.db.pools import describe_dsn
from sqlgateway.db.sql import quote_ident
from sqlgateway.guard.relations import DEFAULT_SCHEMA

Event = dict[str, Any]


class TrailReadError(Exception):
    """The audit trail cannot be read: no file, no connection, no table."""


@dataclass(frozen=True, slots=True)
class Filters:
    """Which events to keep; every field that is set must hold (times: since ≤ ts < until)."""

    since: datetime | None = None
    until: datetime | None = None
    actor: str | None = None
    #: one request (the X-Request-Id header, or `request_id=` in the SQL comment)
    request_id: str | None = None
    outcomes: tuple[str, ...] = ()
    #: how the request arrived: "http" (the REST API) or "mcp"
    protocol: str | None = None
    table: str | None = None
    text: str | None = None
    #: keep events whose total_ms is above this
    over_ms: float | None = None


def table_names(table: str) -> tuple[str, ...]:
    """The names an event may record for `table`: relations are recorded lower-cased and
    qualified as the SQL wrote them, so `claims` and `public.claims` are the same table.

    >>> table_names("Claims"), table_names("public.claims"), table_names("hr.staff")
    (('claims', 'public.claims'), ('public.claims', 'claims'), ('hr.staff',))
    """
    name = table.lower()
    schema, dot, bare = name.rpartition(".")
    if not dot:
        return (name, f"{DEFAULT_SCHEMA}.{name}")
    return (name, bare) if schema == DEFAULT_SCHEMA else (name,)


def event_time(event: Event) -> datetime | None:
    """The event's `ts` as an aware datetime (UTC when the text has no offset)."""
    ts = event.get("ts")
    if isinstance(ts, datetime):
        moment = ts
    elif isinstance(ts, str):
        try:
            moment = datetime.fromisoformat(ts)
        except ValueError:
            return None
    else:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def event_protocol(event: Event) -> str:
    """How the event's request arrived; events written before the field existed were http."""
    protocol = event.get("protocol")
    return protocol if isinstance(protocol, str) else "http"


def matches(event: Event, filters: Filters) -> bool:
    """Whether `event` passes `filters`: the same test `select_sql` makes in PostgreSQL."""
    if filters.since is not None or filters.until is not None:
        moment = event_time(event)
        if moment is None:
            return False
        if filters.since is not None and moment < filters.since:
            return False
        if filters.until is not None and moment >= filters.until:
            return False
    if filters.actor is not None and event.get("actor") != filters.actor:
        return False
    if filters.request_id is not None and event.get("request_id") != filters.request_id:
        return False
    if filters.outcomes and event.get("outcome") not in filters.outcomes:
        return False
    if filters.protocol is not None and event_protocol(event) != filters.protocol:
        return False
    if filters.table is not None and not set(table_names(filters.table)) & set(
        event.get("tables") or ()
    ):
        return False
    if filters.text is not None and (
        filters.text.lower() not in str(event.get("sql_received") or "").lower()
    ):
        return False
    if filters.over_ms is not None:
        total = event.get("total_ms")
        if not isinstance(total, int | float) or total <= filters.over_ms:
            return False
    return True


def where_sql(filters: Filters, params: list[Any]) -> list[str]:
    """The conditions of `filters` in SQL; their values are appended to `params` and
    referenced as `$n`, never written into the text."""

    def param(value: Any) -> str:
        params.append(value)
        return f"${len(params)}"

    conditions = []
    if filters.since is not None:
        conditions.append(f"ts >= {param(filters.since)}")
    if filters.until is not None:
        conditions.append(f"ts < {param(filters.until)}")
    if filters.actor is not None:
        conditions.append(f"actor = {param(filters.actor)}")
    if filters.request_id is not None:
        conditions.append(f"request_id = {param(filters.request_id)}")
    if filters.outcomes:
        conditions.append(f"outcome = ANY({param(list(filters.outcomes))}::text[])")
    if filters.protocol is not None:  # events of layout version 1 have none: http
        conditions.append(f"coalesce(protocol, 'http') = {param(filters.protocol)}")
    if filters.table is not None:
        conditions.append(f"tables && {param(list(table_names(filters.table)))}::text[]")
    if filters.text is not None:
        escaped = re.sub(r"([\\%_])", r"\\\1", filters.text)
        conditions.append(f"sql_received ILIKE {param(f'%{escaped}%')}")
    if filters.over_ms is not None:
        conditions.append(f"total_ms > {param(filters.over_ms)}")
    return conditions


def select_sql(
    schema: str,
    filters: Filters,
    *,
    columns: Sequence[str] = NAMES,
    order: Literal["id", "total_ms"] = "id",
    descending: bool = False,
    limit: int | None = None,
    after_id: int | None = None,
    up_to_id: int | None = None,
) -> tuple[str, list[Any]]:
    """A SELECT of the audit table's `columns` (and `id`) with `filters`, ids in
    (`after_id`, `up_to_id`], ordered by `order` then id; and its parameters."""
    params: list[Any] = []
    conditions = where_sql(filters, params)
    if after_id is not None:
        params.append(after_id)
        conditions.append(f"id > ${len(params)}")
    if up_to_id is not None:
        params.append(up_to_id)
        conditions.append(f"id <= ${len(params)}")
    direction = " DESC" if descending else ""
    sql = (
        f"SELECT id, {', '.join(quote_ident(c) for c in columns if c != 'id')} "
        f"FROM {quote_ident(schema)}.{TABLE}"
    )
    if conditions:
        sql += " WHERE " + " AND ".join(conditions)
    if order == "total_ms":
        sql += f" ORDER BY total_ms{direction} NULLS LAST, id"
    else:
        sql += f" ORDER BY id{direction}"
    if limit is not None:
        params.append(limit)
        sql += f" LIMIT ${len(params)}"
    return sql, params


def row_event(row: asyncpg.Record) -> Event:
    """A table row as the event it was written from (without the table's `id`)."""
    event = {name: value for name, value in row.items() if name != "id"}
    ts = event.get("ts")
    if isinstance(ts, datetime):
        event["ts"] = ts.astimezone(UTC).isoformat(timespec="microseconds")
    return event


def parse_event(line: bytes) -> Event | None:
    """One JSON Lines line as an event keyed by `NAMES`; None when it is not a JSON object."""
    value = decode_line(line)
    return None if value is None else {name: value.get(name) for name in NAMES}


def _complete_lines(fh: IO[bytes]) -> Iterator[bytes]:
    """The lines of `fh` from where it is, up to the last newline; a line still being
    written is left unread (the file stays positioned before it)."""
    for line in iter(fh.readline, b""):
        if not line.endswith(b"\n"):
            fh.seek(-len(line), os.SEEK_CUR)
            return
        yield line


class _LiveFile:
    """The file the sink writes to, read as it grows and followed across rotation: when the
    path names a new file (or the file shrank), the old one is drained, then the new read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: IO[bytes] | None = None

    def open(self) -> None:
        if self._fh is None:
            with suppress(FileNotFoundError):
                self._fh = self.path.open("rb")

    def inode(self) -> tuple[int, int] | None:
        if self._fh is None:
            return None
        stat = os.fstat(self._fh.fileno())
        return stat.st_dev, stat.st_ino

    def lines(self) -> Iterator[bytes]:
        while True:
            self.open()
            if self._fh is None:
                return
            yield from _complete_lines(self._fh)
            if not self._replaced():
                return
            yield from _complete_lines(self._fh)  # written before the rename
            self.close()

    def _replaced(self) -> bool:
        assert self._fh is not None
        try:
            now = self.path.stat()
        except FileNotFoundError:
            return False  # renamed, its successor not created yet: keep draining this one
        return (now.st_dev, now.st_ino) != self.inode() or now.st_size < self._fh.tell()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


class JsonlTrail:
    """The JSON Lines file and its rotated siblings, filtered while streaming."""

    def __init__(self, path: Path) -> None:
        self.path = path
        #: lines skipped because they are not JSON objects (a torn line after a crash)
        self.unreadable = 0
        self._live = _LiveFile(path)

    def _events(self, lines: Iterator[bytes], filters: Filters) -> Iterator[Event]:
        for line in lines:
            if not line.strip():
                continue
            event = parse_event(line)
            if event is None:
                self.unreadable += 1
            elif matches(event, filters):
                yield event

    def _rotated_lines(self, path: Path) -> Iterator[bytes]:
        with path.open("rb") as fh:
            yield from _complete_lines(fh)
            if fh.read().strip():
                self.unreadable += 1  # torn last line

    def _scan(self, filters: Filters) -> Iterator[Event]:
        """Every event from the start; leaves the live file open at its end."""
        self._live.close()
        self._live.open()  # before listing: a rotation now is seen by both or by the listing
        live = self._live.inode()
        rotated = [p for p in rotated_files(self.path) if p != self.path and _inode(p) != live]
        if live is None and not rotated:
            raise TrailReadError(f"no audit file at {self.path}")
        for path in rotated:
            yield from self._events(self._rotated_lines(path), filters)
        yield from self._events(self._live.lines(), filters)

    async def events(
        self, filters: Filters, *, columns: Sequence[str] = NAMES, limit: int | None = None
    ) -> AsyncGenerator[Event, None]:
        for count, event in enumerate(self._scan(filters)):
            if limit is not None and count >= limit:
                return
            yield event

    async def latest(self, filters: Filters, n: int) -> list[Event]:
        return list(deque(self._scan(filters), maxlen=n))

    async def slowest(self, filters: Filters, n: int) -> list[Event]:
        # ties keep their written order, as ORDER BY total_ms DESC, id does
        return heapq.nlargest(n, self._scan(filters), key=lambda e: e.get("total_ms") or 0.0)

    async def new_events(self, filters: Filters) -> AsyncGenerator[Event, None]:
        for event in self._events(self._live.lines(), filters):
            yield event

    def close(self) -> None:
        self._live.close()


def _inode(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino


class PgTrail:
    """`<schema>.audit_events`, filtered by PostgreSQL, read in READ ONLY transactions."""

    unreadable = 0

    def __init__(self, conn: asyncpg.Connection, schema: str) -> None:
        self._conn = conn
        self._schema = schema
        self._last_id = 0

    async def _max_id(self) -> int:
        value = await self._conn.fetchval(
            f"SELECT coalesce(max(id), 0) FROM {quote_ident(self._schema)}.{TABLE}"
        )
        return int(value)

    async def events(
        self, filters: Filters, *, columns: Sequence[str] = NAMES, limit: int | None = None
    ) -> AsyncGenerator[Event, None]:
        sql, params = select_sql(self._schema, filters, columns=columns, limit=limit)
        async with self._conn.transaction(readonly=True):
            async for row in self._conn.cursor(sql, *params, prefetch=1_000):
                yield row_event(row)

    async def latest(self, filters: Filters, n: int) -> list[Event]:
        async with self._conn.transaction(isolation="repeatable_read", readonly=True):
            self._last_id = await self._max_id()
            sql, params = select_sql(
                self._schema, filters, descending=True, limit=n, up_to_id=self._last_id
            )
            rows = await self._conn.fetch(sql, *params)
        return [row_event(row) for row in reversed(rows)]

    async def slowest(self, filters: Filters, n: int) -> list[Event]:
        sql, params = select_sql(self._schema, filters, order="total_ms", descending=True, limit=n)
        async with self._conn.transaction(readonly=True):
            rows = await self._conn.fetch(sql, *params)
        return [row_event(row) for row in rows]

    async def new_events(self, filters: Filters) -> AsyncGenerator[Event, None]:
        """Events with ids above the last seen. An insert that commits after a later id
        became visible is missed: the trail's batches commit quickly, so the risk is small."""
        async with self._conn.transaction(isolation="repeatable_read", readonly=True):
            last, self._last_id = self._last_id, await self._max_id()
            sql, params = select_sql(self._schema, filters, after_id=last, up_to_id=self._last_id)
            async for row in self._conn.cursor(sql, *params, prefetch=1_000):
                yield row_event(row)


class Trail(Protocol):
    unreadable: int

    def events(
        self, filters: Filters, *, columns: Sequence[str] = NAMES, limit: int | None = None
    ) -> AsyncGenerator[Event, None]:
        """Matching events in written order (only `columns` where the store can choose)."""

    async def latest(self, filters: Filters, n: int) -> list[Event]:
        """The last `n` matching events, oldest first; `new_events` continues after them."""

    async def slowest(self, filters: Filters, n: int) -> list[Event]:
        """The `n` matching events with the largest total_ms, slowest first."""

    def new_events(self, filters: Filters) -> AsyncGenerator[Event, None]:
        """Matching events written since `latest` or the previous `new_events`."""


@dataclass(frozen=True, slots=True)
class TrailSource:
    """Where to read: a JSON Lines file, or a PostgreSQL URL and the audit schema."""

    file: Path | None = None
    database_url: str | None = None
    schema: str | None = None


#: what connecting to the audit database may raise (ValueError: a URL that is not one)
_CONNECT_ERRORS: tuple[type[BaseException], ...] = (*DATABASE_ERRORS, ValueError)


@asynccontextmanager
async def open_trail(source: TrailSource) -> AsyncIterator[Trail]:
    if source.file is not None:
        trail = JsonlTrail(source.file)
        try:
            yield trail
        finally:
            trail.close()
        return
    assert source.database_url is not None and source.schema is not None
    try:
        conn = await asyncpg.connect(source.database_url, timeout=10)
    except _CONNECT_ERRORS as error:
        cause, step = connection_problem(error) or (str(error), "check the URL")
        where = describe_dsn(source.database_url, with_user=True)
        raise TrailReadError(
            f"cannot connect to the audit database {where}: {cause}. Next: {step}."
        ) from None
    try:
        table = f"{quote_ident(source.schema)}.{TABLE}"
        if await conn.fetchval("SELECT to_regclass($1)", table) is None:
            raise TrailReadError(
                f"the audit database has no table {source.schema}.{TABLE} "
                "(SQLGATEWAY_AUDIT_SCHEMA, --schema)"
            )
        yield PgTrail(conn, source.schema)
    finally:
        await conn.close()
