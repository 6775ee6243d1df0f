"""One query's way, whatever protocol asked: dialect → guard → sensitive columns → executor
→ did-you-mean hints. `POST /query` (api/query.py) and every other front end call `answer`;
named queries (sqlgateway/named/answer.py) join the way at `run_plan`.

The caller has authenticated the request and holds its `RequestRecord` (filled in here as
the query goes) and its `DbScope` (the role and row-level-security settings it runs with).
No answer without its audit event: `run_plan` refuses (UnavailableError) before the SQL runs
when the audit trail cannot store events, and the caller must `await
services.audit.commit(record.event())` before its answer leaves (HTTP: `http.release`).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import anyio.to_thread
import orjson
from pydantic import BaseModel, ConfigDict, Field

from sqlgateway.auth.scoping import DbScope
from sqlgateway.catalog.suggest import column_hint, table_hint, unknown_name_at
from sqlgateway.db.encode import EncodedResult, clip_text
from sqlgateway.db.executor import QueryPlan
from sqlgateway.errors import ForbiddenError, GatewayError, UnknownColumnError, UnknownTableError
from sqlgateway.guard import Verdict
from sqlgateway.guard.dialects import DEFAULT_DIALECT, Dialect, to_postgres
from sqlgateway.guard.sensitive import check_sensitive
from sqlgateway.http.record import (
    OK,
    TRUNCATED,
    RequestRecord,
    application_name,
    correlation_comment,
)

if TYPE_CHECKING:
    from sqlgateway.services import Services

__all__ = ["QueryRequest", "answer", "check_free_sql", "run_plan"]

#: Statements up to this length are checked on the event loop (typically < 0.5 ms).
GUARD_INLINE_MAX_CHARS = 2_000
#: Longest executed SQL echoed in a response (`sql`); longer texts are clipped with a marker.
MAX_ECHOED_SQL_CHARS = 4_000


class QueryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    sql: str = Field(
        min_length=1,
        description="One read-only PostgreSQL statement: SELECT, WITH … SELECT, VALUES or TABLE.",
    )
    max_rows: int | None = Field(
        default=None, ge=1, description="Return at most this many rows (lowers the limit only)."
    )
    dialect: Dialect | None = Field(
        default=None, description="The dialect `sql` is written in (default postgres)."
    )


async def answer(
    services: Services, query: QueryRequest, record: RequestRecord, scope: DbScope
) -> EncodedResult:
    """Check and run `query` for the caller `record` describes; GatewayError when refused."""
    check_free_sql(services)
    record.sql_received = query.sql
    record.dialect = query.dialect or DEFAULT_DIALECT
    record.db_role = scope.role
    if query.dialect is None or query.dialect == DEFAULT_DIALECT:
        verdict = await _approve(services, query.sql, record)
        return await run_plan(services, _plan(verdict, query, record, scope), verdict, record)
    started = time.perf_counter()
    sql = to_postgres(query.sql, query.dialect)
    record.guard_ms = (time.perf_counter() - started) * 1000  # translation counts as guard
    try:
        verdict = await _approve(services, sql, record)
        # the executed SQL leads the body, inside the same budget as the rows
        echoed = _echoed(verdict.sql, services.settings.max_response_chars)
        plan = _plan(verdict, query, record, scope, echo_sql=echoed)
        return await run_plan(services, plan, verdict, record)
    except GatewayError as error:
        if error.status_code == 400:
            shown = clip_text(sql, MAX_ECHOED_SQL_CHARS)
            error.add_hint(f"the {query.dialect} SQL was translated to PostgreSQL as: {shown}")
        raise


def check_free_sql(services: Services) -> None:
    """ForbiddenError, naming the operations there are, when SQLGATEWAY_FREE_SQL=false."""
    if services.settings.free_sql:
        return
    names = ", ".join(services.named.names) or "none"
    raise ForbiddenError(
        "this gateway does not run free SQL (SQLGATEWAY_FREE_SQL=false)",
        hint=f"ask with one of its named queries instead: {names} (POST /queries/<name>); "
        "getSchema describes the data",
    )


async def _approve(services: Services, sql: str, record: RequestRecord) -> Verdict:
    """The guard's verdict, then the sensitive-column check when sensitive columns exist.

    Long statements are checked in a worker thread: parsing adversarial text can take a
    second of CPU, which must not stall every other request on the event loop."""
    started = time.perf_counter()
    try:
        if len(sql) > GUARD_INLINE_MAX_CHARS:
            verdict = await anyio.to_thread.run_sync(services.check_sql, sql)
        else:
            verdict = services.check_sql(sql)
        record.sql_executed = verdict.sql
        record.tables = verdict.tables
        record.functions = verdict.functions
        if services.sensitive:  # only when configured: costs nothing otherwise
            catalog = await services.catalog.get()
            check_sensitive(verdict.sql, catalog.column_map, services.sensitive)
    finally:
        record.guard_ms = (record.guard_ms or 0.0) + (time.perf_counter() - started) * 1000
    return verdict


def _plan(
    verdict: Verdict,
    query: QueryRequest,
    record: RequestRecord,
    scope: DbScope,
    echo_sql: str | None = None,
) -> QueryPlan:
    return QueryPlan(
        sql=verdict.sql,
        has_order_by=verdict.has_order_by,
        max_rows=query.max_rows,
        echo_sql=echo_sql,
        streams_rows=verdict.streams_rows,
        scope=scope,
        comment=correlation_comment(record.request_id, record.actor),
        application_name=application_name(record.request_id),
    )


def _echoed(sql: str, max_response_chars: int) -> str:
    """`sql`, clipped with a marker so that it takes at most a tenth of the response."""
    most = min(MAX_ECHOED_SQL_CHARS, max_response_chars // 10)
    shown = clip_text(sql, most)
    while len(orjson.dumps(shown)) > max_response_chars // 10 and most > 20:
        most //= 2
        shown = clip_text(sql, most)
    return shown


async def run_plan(
    services: Services, plan: QueryPlan, verdict: Verdict, record: RequestRecord
) -> EncodedResult:
    """Run an approved `plan` within the caller's concurrency slot; fill in `record`.
    UnavailableError, before the SQL runs, when the audit trail could not store its event."""
    if services.audit is not None:
        services.audit.admit()
    timeout_s = services.settings.pool_acquire_timeout_ms / 1000
    try:
        async with services.limiter.slot(record.actor, timeout_s):
            started = time.perf_counter()
            try:
                result = await services.database.run(plan)
            finally:
                record.db_ms = (time.perf_counter() - started) * 1000
    except (UnknownTableError, UnknownColumnError) as error:
        await _did_you_mean(services, error, verdict)
        raise
    record.rows = result.row_count
    record.truncated = result.truncated
    record.outcome = TRUNCATED if result.truncated else OK
    return result


async def _did_you_mean(
    services: Services, error: UnknownTableError | UnknownColumnError, verdict: Verdict
) -> None:
    """Add to `error`'s hint the closest existing tables or columns."""
    try:
        catalog = await services.catalog.get()
    except GatewayError:
        return
    name = unknown_name_at(verdict.sql, error.position, error.message)
    if name is None:
        return
    if isinstance(error, UnknownTableError):
        error.add_hint(table_hint(name, catalog))
    else:
        read = [table for t in verdict.tables if (table := catalog.find(t)) is not None]
        error.add_hint(column_hint(name, read, catalog))
