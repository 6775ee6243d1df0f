"""The PostgreSQL audit sink: batches of events into `<schema>.audit_events`.

It has its own small pool, connected as the audit writer (SQLGATEWAY_AUDIT_DATABASE_URL), never
the gateway's read pool: the reader must not be able to write, the writer must not be able to
read the served data. Opening migrates the table (`event.schema_statements`, under an advisory
lock so several workers may start at once) unless `schema_version` already holds
`event.SCHEMA_VERSION`, so a writer role that may only INSERT into a table a DBA made works too.

A batch is one statement, one round trip and one commit (durable when `write` returns, with
the server's default `synchronous_commit`): the events travel as one JSON array and become
rows through `json_populate_recordset` (the table's own row type, so arrays, timestamps and
numbers convert as the columns say). Measured against `jsonb_populate_recordset` (about 15%
slower) and `unnest` of one array per column (as fast, but the text[] columns cannot be
unnested from 2-D arrays): about 0.6 ms for one event, 2 ms for 50, 17 ms for 500.
`ON CONFLICT (request_id) DO NOTHING` makes a replay of a batch that was written before (a
spill of a write whose answer was lost) harmless. A table dropped under the sink is made
again on the next attempt.

Failures raise: connection trouble as asyncpg/OSError exceptions (the trail spills the batch
and retries), events the table refuses (a NOT NULL column missing, an out-of-range number) as
`AuditEventError`, since retrying those cannot help.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from sqlgateway.audit import event
from sqlgateway.audit.jsonl import encode_event
from sqlgateway.audit.sink import AuditEventError
from sqlgateway.db.sql import quote_ident

__all__ = ["APPLICATION_NAME", "PostgresSink", "migrate"]

_log = logging.getLogger("sqlgateway.audit")

#: application_name of the sink's connections (seen in pg_stat_activity).
APPLICATION_NAME = "sqlgateway-audit"


class PostgresSink:
    """Writes audit batches to `<schema>.audit_events` of the database at `dsn`.

    `connect_timeout_s` bounds a (re)connection, `timeout_s` each statement: a sink that does
    not answer counts as down, and the trail spills rather than waits."""

    def __init__(
        self, dsn: str, schema: str, *, connect_timeout_s: float = 5.0, timeout_s: float = 10.0
    ) -> None:
        self._dsn = dsn
        self._schema = schema
        self._connect_timeout_s = connect_timeout_s
        self._timeout_s = timeout_s
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()
        table = f"{quote_ident(schema)}.{event.TABLE}"
        columns = ", ".join(quote_ident(name) for name in event.NAMES)
        self._insert = (
            f"INSERT INTO {table} ({columns}) SELECT {columns}"
            f" FROM json_populate_recordset(NULL::{table}, $1::json)"
            " ON CONFLICT (request_id) DO NOTHING"
        )

    async def open(self) -> None:
        """Connect and migrate the table; raises if the database cannot be reached."""
        await self._ready_pool()

    async def write(self, events: Sequence[Mapping[str, Any]]) -> None:
        """Insert `events` in one statement (all or none); already present ones are skipped."""
        if not events:
            return
        pool = await self._ready_pool()
        try:
            await pool.execute(self._insert, _payload(events), timeout=self._timeout_s)
        except (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError) as exc:
            raise AuditEventError(f"the audit table refused the events ({exc.sqlstate})") from exc
        except asyncpg.UndefinedTableError:
            await self.close()  # dropped under us: the next attempt makes it again
            raise

    async def stored(self, request_ids: Collection[str], since_s: float) -> set[str]:
        """None: a replayed event the table holds already is skipped by the INSERT itself."""
        return set()

    async def ping(self) -> None:
        pool = await self._ready_pool()
        await pool.fetchval("SELECT 1", timeout=self._timeout_s)

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), self._timeout_s)
            except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                pool.terminate()

    async def _ready_pool(self) -> asyncpg.Pool:
        """The pool, made and the table migrated on first use (and again after a failed
        first use): the sink may be down when the gateway starts."""
        async with self._opening:
            if self._pool is None:
                pool = await asyncpg.create_pool(
                    self._dsn,
                    # no floor to keep: asyncpg would log a traceback per failed attempt to
                    # restore it while the database is down
                    min_size=0,
                    max_size=2,  # one writer, and a ping that need not wait for it
                    timeout=self._connect_timeout_s,
                    command_timeout=self._timeout_s,
                    server_settings={"application_name": APPLICATION_NAME},
                    reset=_nothing_to_reset,
                )
                try:
                    async with pool.acquire() as conn:
                        await migrate(conn, self._schema)
                        await warn_if_it_reads_data(conn, self._schema)
                except BaseException:
                    pool.terminate()
                    raise
                self._pool = pool
            return self._pool


Connection = asyncpg.Connection | PoolConnectionProxy


async def _nothing_to_reset(conn: asyncpg.Connection) -> None:
    """Pool reset hook: the writer leaves no session state (autocommit INSERTs, pings, a
    migration whose advisory lock ends with its transaction), so asyncpg's reset query
    (`pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`), a second round trip
    after every batch, is skipped."""


#: Tables outside the audit schema (and the system schemas) the writer may read.
_READABLE_ELSEWHERE = """
SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f') AND n.nspname <> $1
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
  AND has_table_privilege(c.oid, 'SELECT')
ORDER BY 1 LIMIT 6"""


async def warn_if_it_reads_data(conn: Connection, schema: str) -> None:
    """The audit writer should not be able to read the data the gateway serves (its own
    database, or at least no grants outside its schema): log loudly when it can."""
    readable = [row[0] for row in await conn.fetch(_READABLE_ELSEWHERE, schema)]
    if readable:
        more = ", …" if len(readable) > 5 else ""
        _log.warning(
            "the audit writer can read tables outside schema %s (%s%s): give it a role that "
            "only writes the audit schema, ideally in a database of its own",
            schema,
            ", ".join(readable[:5]),
            more,
        )


async def migrate(conn: Connection, schema: str) -> None:
    """Create or migrate the audit table in `schema` up to `event.SCHEMA_VERSION`.

    Nothing is run (so no DDL privilege is needed) when `schema_version` already says so.
    Several processes may call this at once: a transaction-level advisory lock orders them."""
    s = quote_ident(schema)
    lock = int.from_bytes(hashlib.sha256(f"sqlgateway audit {schema}".encode()).digest()[:8])
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", lock - (1 << 63))
        version = await _stored_version(conn, schema)
        if version is not None and version >= event.SCHEMA_VERSION:
            if version > event.SCHEMA_VERSION:
                _log.warning(
                    "the audit table in schema %s has layout version %s, newer than this "
                    "gateway's %s; writing the columns it knows",
                    schema,
                    version,
                    event.SCHEMA_VERSION,
                )
            return
        schema_exists = await conn.fetchval(
            "SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = $1)", schema
        )
        for statement in event.schema_statements(schema):
            if schema_exists and statement.startswith("CREATE SCHEMA "):
                continue  # needs CREATE on the database even when the schema exists
            await conn.execute(statement)
        await conn.execute(f"DELETE FROM {s}.schema_version")
        await conn.execute(
            f"INSERT INTO {s}.schema_version (version) VALUES ($1)", event.SCHEMA_VERSION
        )
    _log.info("audit table %s.%s at layout version %s", schema, event.TABLE, event.SCHEMA_VERSION)


async def _stored_version(conn: Connection, schema: str) -> int | None:
    table = f"{quote_ident(schema)}.schema_version"
    if await conn.fetchval("SELECT to_regclass($1)", table) is None:
        return None
    if (
        await conn.fetchval("SELECT to_regclass($1)", f"{quote_ident(schema)}.{event.TABLE}")
        is None
    ):
        return None
    version: int | None = await conn.fetchval(f"SELECT max(version) FROM {table}")
    return version


def _payload(events: Sequence[Mapping[str, Any]]) -> str:
    """The events as one JSON array (text: the `json` parameter's encoding). NUL characters,
    which PostgreSQL text cannot hold, become U+FFFD rather than refusing the whole batch."""
    data = b"[" + b",".join(map(encode_event, events)) + b"]"
    if b"\\u0000" in data:
        data = b"[" + b",".join(encode_event(_without_nul(dict(item))) for item in events) + b"]"
    return data.decode()


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {key: _without_nul(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_without_nul(item) for item in value]
    return value
