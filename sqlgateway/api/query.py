"""POST /query: SQL string in, bounded JSON records out.

dialect → PostgreSQL (dialects.py) → guard → sensitive columns (only when configured)
→ executor → did-you-mean hints on unknown tables and columns (suggest.py)
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import anyio.to_thread
import orjson
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from sqlgateway.body import parse_json_body, read_body
from sqlgateway.dialects import DEFAULT_DIALECT, Dialect, to_postgres
from sqlgateway.encode import clip_text
from sqlgateway.errors import GatewayError, QueryError
from sqlgateway.executor import QueryPlan
from sqlgateway.guard import Verdict
from sqlgateway.record import OK, TRUNCATED, RequestRecord, application_name, correlation_comment
from sqlgateway.responses import JSON
from sqlgateway.scoping import DbScope
from sqlgateway.sensitive import check_sensitive
from sqlgateway.suggest import column_hint, table_hint, unknown_name_at

if TYPE_CHECKING:
    from sqlgateway.services import Services

#: Statements up to this length are checked on the event loop (typically < 0.5 ms).
GUARD_INLINE_MAX_CHARS = 2_000

UNDEFINED_TABLE = "42P01"
UNDEFINED_COLUMN = "42703"
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


async def run_query(request: Request) -> Response:
    services: Services = request.state.services
    record: RequestRecord = request.state.record
    raw = await read_body(request, services.settings.max_request_chars)
    query = parse_json_body(raw, QueryRequest)
    record.sql_received = query.sql
    record.dialect = query.dialect or DEFAULT_DIALECT
    if query.dialect is None or query.dialect == DEFAULT_DIALECT:
        verdict = await _approve(services, query.sql, record)
        body = await _run(services, _plan(verdict, query, request), verdict, request)
        return Response(body, media_type=JSON)
    started = time.perf_counter()
    sql = to_postgres(query.sql, query.dialect)
    record.guard_ms = (time.perf_counter() - started) * 1000  # translation counts as guard
    try:
        verdict = await _approve(services, sql, record)
        # the executed SQL leads the body, inside the same budget as the rows
        echoed = _echoed(verdict.sql, services.settings.max_response_chars)
        plan = _plan(verdict, query, request, echo_sql=echoed)
        body = await _run(services, plan, verdict, request)
    except GatewayError as error:
        if error.status_code == 400:
            shown = clip_text(sql, MAX_ECHOED_SQL_CHARS)
            translation = f"the {query.dialect} SQL was translated to PostgreSQL as: {shown}"
            error.hint = f"{error.hint.rstrip('.')}; {translation}" if error.hint else translation
        raise
    return Response(body, media_type=JSON)


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
    verdict: Verdict, query: QueryRequest, request: Request, echo_sql: str | None = None
) -> QueryPlan:
    record: RequestRecord = request.state.record
    scope: DbScope = request.state.db_scope
    record.db_role = scope.role
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


async def _run(services: Services, plan: QueryPlan, verdict: Verdict, request: Request) -> bytes:
    record: RequestRecord = request.state.record
    timeout_s = services.settings.pool_acquire_timeout_ms / 1000
    try:
        async with services.limiter.slot(record.actor, timeout_s):
            started = time.perf_counter()
            try:
                result = await services.database.run(plan)
            finally:
                record.db_ms = (time.perf_counter() - started) * 1000
    except QueryError as error:
        if error.sqlstate not in (UNDEFINED_TABLE, UNDEFINED_COLUMN):
            raise
        raise await _did_you_mean(services, error, verdict) from None
    record.rows = result.row_count
    record.truncated = result.truncated
    record.outcome = TRUNCATED if result.truncated else OK
    return result.body


async def _did_you_mean(services: Services, error: QueryError, verdict: Verdict) -> QueryError:
    """`error` with a hint naming the closest existing tables or columns."""
    try:
        catalog = await services.catalog.get()
    except GatewayError:
        return error
    name = unknown_name_at(verdict.sql, error.position, error.message)
    if name is None:
        return error
    if error.sqlstate == UNDEFINED_TABLE:
        hint = table_hint(name, catalog)
    else:
        read = [table for t in verdict.tables if (table := catalog.find(t)) is not None]
        hint = column_hint(name, read, catalog)
    if not hint:
        return error
    combined = f"{error.hint.rstrip('.')}; {hint}" if error.hint else hint
    return QueryError(
        error.message, hint=combined, sqlstate=error.sqlstate, position=error.position
    )
