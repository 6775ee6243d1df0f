"""The pool, the read-only transaction, the timeout, and streaming rows into the encoder.

One query costs: BEGIN READ ONLY + SET LOCAL (one round trip, simple protocol, no user text),
prepare (extended protocol: exactly one statement; wrapped in gateway-made SQL that caps every
value server-side, db/caps.py; a statement shape not seen in the last 10 s, caps_cache.py, is
described first: one round trip more), bind/execute with a row limit (repeated while the
encoder wants rows), ROLLBACK. The pool's own reset query is skipped: ROLLBACK already ends
everything a read-only, guard-approved statement can start.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncIterator, Hashable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import asyncpg.exceptions as pgerr
import orjson
from asyncpg.pool import PoolConnectionProxy
from asyncpg.prepared_stmt import PreparedStatement

from sqlgateway.auth.scoping import DbScope, begin_statements
from sqlgateway.db.caps import MAX_COLUMNS, Budget, Caps
from sqlgateway.db.caps_cache import CapsCache, Remembered, shape_key
from sqlgateway.db.driver_errors import (
    DATABASE_ERRORS,
    RETRY_HINT,
    UNAVAILABLE,
    gateway_error,
    timeout_error,
    unavailable_error,
)
from sqlgateway.db.encode import Column, EncodedResult, ResultEncoder, converter_for
from sqlgateway.db.pools import Member, PoolSet, describe_dsn
from sqlgateway.db.sql import quote_literal
from sqlgateway.errors import (
    GatewayError,
    QueryError,
    UnavailableError,
)
from sqlgateway.guard.cost import check_plan, estimate
from sqlgateway.role.definition import Severity
from sqlgateway.role.inspect import require_safe_role
from sqlgateway.role.report import UnsafeRoleError
from sqlgateway.settings import Settings

APPLICATION_NAME = "sqlgateway"

logger = logging.getLogger("sqlgateway")

_EXPLAIN = "EXPLAIN (FORMAT JSON) "


@dataclass(frozen=True, slots=True)
class _Prepared:
    """The statement to run, the columns it answers with, and how its values are capped."""

    statement: PreparedStatement
    how: Remembered
    key: Hashable  # the statement's shape (CapsCache)


@dataclass(frozen=True, slots=True)
class QueryPlan:
    """What the executor needs to know about an approved statement."""

    sql: str
    has_order_by: bool
    max_rows: int | None = None
    #: Put the executed SQL at the head of the body (e.g. after translation from a dialect).
    echo_sql: str | None = None
    #: The guard proved the rows stream from one table scan: EXPLAIN cannot refuse it.
    streams_rows: bool = False
    #: Role and RLS settings for the caller, applied right after BEGIN.
    scope: DbScope | None = None
    #: Leading SQL comment (request id, actor) for pg_stat_activity, pgAudit and logs.
    comment: str | None = None
    #: application_name for this transaction only (SET LOCAL), e.g. with the request id.
    application_name: str | None = None
    #: Values of the statement's bind parameters $1 … $n (named queries; free SQL has none),
    #: sent over the extended protocol, never written into the SQL.
    args: tuple[Any, ...] = ()
    #: A statement timeout below SQLGATEWAY_STATEMENT_TIMEOUT_MS (a named query's own).
    statement_timeout_ms: int | None = None
    #: What sets the timeout, named in the timeout error.
    timeout_source: str = "SQLGATEWAY_STATEMENT_TIMEOUT_MS"
    #: What the answer's `notice` says before any truncation notice (hints/notices.py).
    notice: str | None = None
    #: (index, name) of the output column sorted DESC with its NULLs first (Verdict).
    nulls_first: tuple[int, str] | None = None
    #: What the notice adds when the answer is empty (hints/notices.empty_answer_notice).
    if_empty: str | None = None


async def _init_connection(
    conn: asyncpg.Connection, *, scoped_roles: Sequence[str] = (), told: set[str]
) -> None:
    """Every new connection: check the role, and every role a request may switch to, is
    safe to serve with (UnsafeRoleError if not; reduced depth is logged once per pool, in
    `told`); then set the codecs."""
    for report in await require_safe_role(conn, scoped_roles):
        if report.findings and report.role not in told:
            told.add(report.role)
            if report.severity is not Severity.WARNING:
                logger.warning("%s", report.render())
    # numeric as PostgreSQL's text keeps every digit; interval as ISO 8601 text keeps months.
    await conn.set_type_codec(
        "numeric", schema="pg_catalog", encoder=str, decoder=str, format="text"
    )
    await conn.set_type_codec(
        "interval", schema="pg_catalog", encoder=str, decoder=str, format="text"
    )


async def _keep_connection(conn: asyncpg.Connection) -> None:
    """Pool reset hook: nothing to do, `run` ends every checkout with ROLLBACK."""


def _describe_type(attribute: Any) -> tuple[str, str]:
    pg_type = attribute.type
    name = str(pg_type.name)
    kind = str(pg_type.kind)
    if kind == "array" and name.startswith("_"):  # some asyncpg versions name arrays _elem
        return f"{name[1:]}[]", kind
    return name, kind


async def _batches(
    conn: PoolConnectionProxy,
    statement: PreparedStatement,
    prefetch: int,
    args: tuple[Any, ...] = (),
) -> AsyncIterator[Sequence[asyncpg.Record]]:
    """The statement's rows, `prefetch` at a time, through the unnamed portal.

    Bind+Execute go out in one round trip and the portal needs no Close (ROLLBACK ends it):
    one round trip fewer per query than asyncpg's public cursor, measured at +9–27% point
    lookups per second (bench/). This uses asyncpg's protocol object, so the asyncpg range
    is pinned and tests/unit/db/test_executor_wire.py fails if the interface moves; without it
    the public cursor is used.
    """
    protocol = getattr(getattr(conn, "_con", None), "_protocol", None)
    state = getattr(statement, "_state", None)
    if state is None or not hasattr(protocol, "bind_execute") or not hasattr(protocol, "execute"):
        batch: list[asyncpg.Record] = []
        async for record in statement.cursor(*args, prefetch=prefetch):
            batch.append(record)
            if len(batch) == prefetch:
                yield batch
                batch = []
        yield batch
        return
    assert protocol is not None
    rows, _, done = await protocol.bind_execute(state, args, "", prefetch, True, None)
    yield rows
    while not done:
        rows, _, done = await protocol.execute(state, "", prefetch, True, None)
        yield rows


def _is_lost(conn: PoolConnectionProxy) -> bool:
    """Closed, or already handed back to the pool because the socket died under it."""
    try:
        return conn.is_closed()
    except pgerr.InterfaceError:
        return True


def _server_settings(settings: Settings) -> dict[str, str]:
    """Startup parameters of every connection. PgBouncer refuses unknown ones (and would not
    keep them per client anyway): there, the transaction sets them with SET LOCAL instead."""
    if settings.pgbouncer:
        return {"application_name": APPLICATION_NAME}
    return {
        "application_name": APPLICATION_NAME,
        "default_transaction_read_only": "on",
        "statement_timeout": str(settings.statement_timeout_ms),
        "IntervalStyle": "iso_8601",
        # the guard writes backslash strings as E'…'; pin the meaning of plain '…'
        "standard_conforming_strings": "on",
    }


async def _create_pool(dsn: str, settings: Settings, *, min_size: int) -> asyncpg.Pool:
    """A pool to `dsn`; if the database cannot be reached now, an empty one that connects
    lazily (requests get 503 until the database answers)."""
    options: dict[str, Any] = {
        "max_size": settings.pool_max_size,
        "statement_cache_size": 0,  # model SQL is literal and one-off: caching only churns
        "init": functools.partial(
            _init_connection, scoped_roles=settings.scope_allowed_roles, told=set()
        ),
        "reset": _keep_connection,
        "server_settings": _server_settings(settings),
    }
    try:
        return await asyncpg.create_pool(dsn, min_size=min_size, **options)
    except UnsafeRoleError:
        raise
    except DATABASE_ERRORS as error:
        logger.warning(
            "database %s unreachable at start (%s); requests get 503 until it answers",
            describe_dsn(dsn),
            type(error).__name__,
        )
        return await asyncpg.create_pool(dsn, min_size=0, **options)


class Database:
    """Bounded pools to PostgreSQL (the primary, or read replicas), and the one way queries
    run on them. `pool` is the primary's; `pools` picks the database for each checkout."""

    def __init__(
        self, pool: asyncpg.Pool, settings: Settings, *, replicas: tuple[Member, ...] = ()
    ) -> None:
        self.pool = pool
        self.pools = PoolSet(Member("primary", pool), replicas, retry_ms=settings.replica_retry_ms)
        self._settings = settings
        self._budget = Budget(settings.max_response_chars, settings.max_cell_chars)
        #: The caps each statement shape needed last time (see db/caps.py).
        self._caps = CapsCache()
        #: User-defined types looked up, and those that are enums.
        self._type_seen: set[int] = set()
        self._enum_oids: frozenset[int] = frozenset()
        #: Requests waiting for a connection right now (a metrics gauge).
        self.waiting = 0
        begin = [
            "BEGIN TRANSACTION READ ONLY",
            f"SET LOCAL statement_timeout = {int(settings.statement_timeout_ms)}",
        ]
        if settings.pgbouncer:  # no startup parameters through PgBouncer: pin them here
            begin += [
                "SET LOCAL IntervalStyle = 'iso_8601'",
                "SET LOCAL standard_conforming_strings = on",
            ]
        self._begin = "; ".join(begin)

    @classmethod
    async def connect(cls, dsn: str, settings: Settings) -> Database:
        """Pools to `dsn` and to every `settings.replica_urls`, with the same settings and
        role check. A database that cannot be reached now does not stop the gateway: its
        pool connects lazily. With replicas, the primary's pool opens only when needed."""
        replicas = []
        for url in settings.replica_urls:
            replica_dsn = url.get_secret_value()
            pool = await _create_pool(replica_dsn, settings, min_size=settings.pool_min_size)
            replicas.append(Member(describe_dsn(replica_dsn), pool))
        primary_min = 0 if replicas else settings.pool_min_size
        database = cls(
            await _create_pool(dsn, settings, min_size=primary_min),
            settings,
            replicas=tuple(replicas),
        )
        database.pools.primary.name = describe_dsn(dsn)
        return database

    async def close(self) -> None:
        await self.pools.close()

    async def ping(self) -> None:
        async with self._connection() as conn:
            await conn.execute("SELECT 1")

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[PoolConnectionProxy]:
        timeout_s = self._settings.pool_acquire_timeout_ms / 1000
        self.waiting += 1
        try:
            conn = await self.pools.acquire(timeout=timeout_s)
        except TimeoutError:
            raise UnavailableError(
                f"all {self._settings.pool_max_size} database connections are busy",
                hint=RETRY_HINT,
            ) from None
        except UnsafeRoleError as error:
            logger.error("%s", error)
            raise UnavailableError(
                "the gateway's database role is not read-only; the operator must fix it"
            ) from None
        except DATABASE_ERRORS as error:
            # refused, unreachable, bad credentials: the operator's problem, not the SQL's
            raise unavailable_error(error) from None
        finally:
            self.waiting -= 1
        member = self.pools.owner(conn)
        try:
            yield conn
        except (pgerr.PostgresError, GatewayError) as error:
            # PostgreSQL reported it, or we refused after ROLLBACK: the connection is idle.
            if isinstance(error, UNAVAILABLE):
                self.pools.mark_down(member, error)
            raise
        except asyncio.CancelledError:
            # Deadline or client gone: asyncpg has sent a CancelRequest for the running
            # statement; release() below waits for it and rolls back. Terminating instead
            # would abort the CancelRequest and leave the query running on the server.
            raise
        except BaseException as error:
            # Cancelled mid-protocol, deadline, driver trouble: state unknown, never reuse it.
            lost = _is_lost(conn)
            if not lost:
                conn.terminate()
            if lost and isinstance(error, Exception):
                self.pools.mark_down(member, error)
                raise UnavailableError(
                    "the database connection was lost", hint=RETRY_HINT
                ) from None
            raise
        finally:
            await self.pools.release(conn)

    async def run(self, plan: QueryPlan) -> EncodedResult:
        """Run an approved statement read-only and encode at most the budget of rows."""
        settings = self._settings
        started = time.perf_counter()
        timeout_ms = plan.statement_timeout_ms or settings.statement_timeout_ms
        try:
            async with asyncio.timeout(settings.request_deadline_ms / 1000):
                async with self._connection() as conn:
                    encoder = await self._stream(conn, plan)
        except TimeoutError:
            raise timeout_error(timeout_ms, plan.timeout_source) from None
        except DATABASE_ERRORS as error:
            # the connection was discarded above when its state is unknown
            mapped = gateway_error(
                error, plan.sql, timeout_ms=timeout_ms, timeout_source=plan.timeout_source
            )
            assert mapped is not None
            raise mapped from None
        return encoder.finish((time.perf_counter() - started) * 1000)

    async def _stream(self, conn: PoolConnectionProxy, plan: QueryPlan) -> ResultEncoder:
        settings = self._settings
        await conn.execute(self._begin_for(plan))
        prefix = f"/* {plan.comment} */ " if plan.comment else ""
        offset = len(prefix)  # where the approved statement starts in what runs
        try:
            if (settings.max_plan_cost or settings.max_plan_rows) and not plan.streams_rows:
                try:
                    explained = await conn.fetchval(_EXPLAIN + prefix + plan.sql, *plan.args)
                except pgerr.PostgresError as error:
                    # positions must point into the SQL the model sees, not into "EXPLAIN …"
                    error.position_offset = len(_EXPLAIN + prefix)  # type: ignore[attr-defined]
                    raise
                check_plan(
                    estimate(orjson.loads(explained), plan.max_rows),
                    max_cost=settings.max_plan_cost,
                    max_rows=settings.max_plan_rows,
                )
            prepared = await self._prepare(conn, plan, prefix)
            how = prepared.how
            offset = len(prefix) + how.caps.statement_offset
            encoder = ResultEncoder(
                how.columns,
                how.converters,
                max_chars=settings.max_response_chars,
                max_rows=plan.max_rows,
                has_order_by=plan.has_order_by,
                executed_sql=plan.echo_sql,
                notice=plan.notice,
                nulls_first=plan.nulls_first,
                if_empty=plan.if_empty,
            )
            prefetch = how.caps.rows_per_batch(settings.cursor_prefetch_rows)
            if plan.max_rows is not None:
                prefetch = min(prefetch, plan.max_rows + 1)
            batches = 0
            async for batch in _batches(conn, prepared.statement, prefetch, plan.args):
                batches += 1
                if not how.caps.feed(encoder, batch):
                    break
            if batches > 1 and how.caps.wrapped and not how.caps.many_rows:
                self._caps.many_rows(prepared.key)  # next time: larger round trips
        except (pgerr.PostgresError, GatewayError) as error:
            if isinstance(error, pgerr.PostgresError) and not hasattr(error, "position_offset"):
                error.position_offset = offset  # type: ignore[attr-defined]
            # the server answered (or we refused): the connection is idle, end the transaction
            if not _is_lost(conn):
                await conn.execute("ROLLBACK")
            raise
        await conn.execute("ROLLBACK")
        return encoder

    async def _prepare(self, conn: PoolConnectionProxy, plan: QueryPlan, prefix: str) -> _Prepared:
        """The statement to run for `plan`: the approved one, or the one that caps its values.

        A statement shape seen in the last RECHECK_S seconds is prepared wrapped straight away
        with the caps it had (one round trip, as without caps), and its columns and converters
        are reused, if its description is still the one remembered. Otherwise the approved
        statement is described first, and wrapped if it must be (one round trip more)."""
        key = shape_key(plan.sql, plan.scope.role if plan.scope else None)
        remembered = self._caps.get(key)
        if remembered is not None and remembered.fresh():
            try:
                statement = await conn.prepare(prefix + remembered.caps.sql(plan.sql))
            except pgerr.PostgresError as error:
                if isinstance(error, (*UNAVAILABLE, pgerr.QueryCanceledError)):
                    raise
                # they no longer fit (the schema changed), or the statement fails: start again
                # from its own description, in a new transaction (this one is aborted)
                self._caps.forget(key)
                await conn.execute("ROLLBACK; " + self._begin_for(plan))
            else:
                attributes = statement.get_attributes()
                if tuple(a.type.oid for a in attributes) == remembered.described and (
                    remembered.caps.wrapped  # (a statement run as it is tells its names too)
                    or [a.name for a in attributes] == [c.name for c in remembered.columns]
                ):
                    return _Prepared(statement, remembered, key)
        try:
            statement = await conn.prepare(prefix + plan.sql)
        except pgerr.PostgresError as error:
            error.position_offset = len(prefix)  # type: ignore[attr-defined]
            raise
        attributes = statement.get_attributes()
        types = [attribute.type for attribute in attributes]
        many_rows = remembered is not None and remembered.caps.many_rows
        enums, asked = await self._enums(conn, types)
        caps = Caps.of(types, self._budget, enums=enums, many_rows=many_rows)
        columns, converters = [], []
        for attribute in attributes:
            type_name, kind = _describe_type(attribute)
            columns.append(Column(attribute.name, type_name))
            converters.append(converter_for(type_name, kind, self._settings.max_cell_chars))
        how = Remembered.of(caps, types, columns, converters)
        if not caps.wrapped:
            if asked:  # the lookup replaced the unnamed statement: prepare it again
                statement = await conn.prepare(prefix + plan.sql)
            self._caps.put(key, how)  # next time: no columns and converters to work out
            return _Prepared(statement, how, key)
        if caps.too_wide():
            raise QueryError(
                f"the query returns {caps.width} columns; values that may be large need two "
                f"more, and PostgreSQL allows {MAX_COLUMNS}",
                hint="select fewer columns",
            )
        wrapped = await conn.prepare(prefix + caps.sql(plan.sql))
        if tuple(a.type.oid for a in wrapped.get_attributes()) != how.described:
            raise QueryError(  # a type the caps do not foresee: refuse rather than guess
                "the gateway could not cap the values of this query",
                hint="cast unusual column types to text",
            )
        self._caps.put(key, how)
        return _Prepared(wrapped, how, key)

    async def _enums(
        self, conn: PoolConnectionProxy, types: Sequence[Any]
    ) -> tuple[frozenset[int], bool]:
        """The enums among the types seen (their values are short), and whether the database
        was asked now: once per user-defined type and process."""
        unknown = [
            t.oid
            for t in types
            if t.schema != "pg_catalog" and t.kind == "scalar" and t.oid not in self._type_seen
        ]
        if unknown:
            rows = await conn.fetch(
                "SELECT oid FROM pg_catalog.pg_type WHERE oid = ANY($1::oid[]) AND typtype = 'e'",
                unknown,
            )
            self._enum_oids |= {row[0] for row in rows}
            self._type_seen |= set(unknown)
        return self._enum_oids, bool(unknown)

    def _begin_for(self, plan: QueryPlan) -> str:
        """BEGIN READ ONLY, the timeout, and the request's scope: one simple-protocol round
        trip. Only gateway-made text goes in here (quoted literals), never the model's SQL."""
        extra = begin_statements(plan.scope) if plan.scope else []
        if plan.statement_timeout_ms is not None:
            extra.append(f"SET LOCAL statement_timeout = {int(plan.statement_timeout_ms)}")
        if plan.application_name:
            extra.append(f"SET LOCAL application_name = {quote_literal(plan.application_name)}")
        return "; ".join([self._begin, *extra]) if extra else self._begin
