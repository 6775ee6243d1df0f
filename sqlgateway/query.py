"""One query's way, whatever protocol asked: dialect → guard → sensitive columns → notices →
executor; on a refusal, hints. `POST /query` (api/query.py) and every other front end call
`answer`; named queries (sqlgateway/named/answer.py) join the way at `run_plan`.

The caller has authenticated the request and holds its `RequestRecord` (filled in here as
the query goes) and its `DbScope` (the role and row-level-security settings it runs with).
No answer without its audit event: `run_plan` refuses (UnavailableError) before the SQL runs
when the audit trail cannot store events, and the caller must `await
services.audit.commit(record.event())` before its answer leaves (HTTP: `http.release`).
"""

from __future__ import annotations

import functools
import logging
import time
from typing import TYPE_CHECKING, NamedTuple

import orjson
from pydantic import BaseModel, ConfigDict, Field

from sqlgateway.auth.scoping import DbScope
from sqlgateway.catalog.model import Catalog
from sqlgateway.db.encode import EncodedResult, clip_text
from sqlgateway.db.executor import QueryPlan
from sqlgateway.errors import ForbiddenError, GatewayError
from sqlgateway.guard import Verdict
from sqlgateway.guard.dialects import DEFAULT_DIALECT, Dialect, to_postgres
from sqlgateway.guard.sensitive import check_sensitive, reads_sensitive_table
from sqlgateway.hints.explain import Attempt, hints_for
from sqlgateway.hints.notices import (
    answer_notices,
    empty_answer_notice,
    joined,
    may_notice,
    needs_catalog,
)
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

logger = logging.getLogger(__name__)

#: Statements up to this length are checked (and explained) on the event loop (typically
#: < 0.5 ms); longer ones in a worker thread.
GUARD_INLINE_MAX_CHARS = 2_000
#: Longest executed SQL echoed in a response (`sql`); longer texts are clipped with a marker.
MAX_ECHOED_SQL_CHARS = 4_000
#: Error codes that mean "this SQL": they get hints.
_HINTED_CODES = frozenset({"rejected", "syntax_error", "query_error"})


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
    """Check and run `query` for the caller `record` describes; GatewayError when refused
    (with hints that name the fix)."""
    check_free_sql(services)
    record.sql_received = query.sql
    dialect = query.dialect or DEFAULT_DIALECT
    record.dialect = dialect
    record.db_role = scope.role
    attempt = Attempt(text=query.sql, dialect=dialect, sql=query.sql)
    try:
        if dialect == DEFAULT_DIALECT:
            verdict = attempt.verdict = await _approve(services, query.sql, record)
            plan = _plan(verdict, query, record, scope, await _notice(services, verdict))
            return await _run(services, plan, record)
        started = time.perf_counter()
        sql = attempt.sql = to_postgres(query.sql, dialect)
        record.guard_ms = (time.perf_counter() - started) * 1000  # translation counts as guard
        try:
            verdict = attempt.verdict = await _approve(services, sql, record)
            # the executed SQL leads the body, inside the same budget as the rows
            echoed = _echoed(verdict.sql, services.settings.max_response_chars)
            notice = await _notice(services, verdict)
            plan = _plan(verdict, query, record, scope, notice, echo_sql=echoed)
            return await _run(services, plan, record)
        except GatewayError as error:
            if error.status_code == 400:
                shown = clip_text(sql, MAX_ECHOED_SQL_CHARS)
                error.add_hint(f"the {dialect} SQL was translated to PostgreSQL as: {shown}")
            raise
    except GatewayError as error:
        if error.code in _HINTED_CODES:
            await _explain(services, error, attempt)
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
    """The verdict on `sql` (`_verdict`). Long statements are checked in a worker thread, one
    at a time: parsing adversarial text can take a second of CPU and tens of MiB, which must
    not stall every other request on the event loop (services.OneAtATime)."""
    started = time.perf_counter()
    try:
        catalog = await services.catalog.get() if services.sensitive else None
        check = functools.partial(_verdict, services, catalog)
        if len(sql) > GUARD_INLINE_MAX_CHARS:
            verdict = await services.long_sql.run(functools.partial(check, sql))
        else:
            verdict = check(sql)
        record.sql_executed = verdict.sql
        record.tables = verdict.tables
        record.functions = verdict.functions
    finally:
        record.guard_ms = (record.guard_ms or 0.0) + (time.perf_counter() - started) * 1000
    return verdict


def _verdict(services: Services, catalog: Catalog | None, sql: str) -> Verdict:
    """The guard's verdict, then, when sensitive columns exist and the statement reads a table
    that has some, ``*`` written out without them and the sensitive-column check."""
    verdict = services.check_sql(sql)
    if catalog is None or not services.sensitive:
        return verdict
    if not reads_sensitive_table(verdict.tables, services.sensitive):
        return verdict  # the check would find no table with sensitive columns
    if verdict.stars and catalog.star_columns:
        verdict = services.check_sql_stars(sql, catalog.star_columns)
    check_sensitive(verdict.sql, catalog.column_map, services.sensitive)
    return verdict


async def _notice(services: Services, verdict: Verdict) -> Notices:
    """The answer's notice before it runs, and what to add if it is empty
    (hints/notices.py): nothing to do, and no catalog asked for, unless the verdict compares
    columns with strings or noted something."""
    if not may_notice(verdict):
        return Notices()
    catalog = None
    if needs_catalog(verdict):
        try:
            catalog = await services.catalog.get()
        except GatewayError:
            catalog = None
    try:
        return Notices(
            joined(answer_notices(verdict, catalog)), empty_answer_notice(verdict, catalog)
        )
    except Exception:  # a notice is advice: a bug in one never costs the answer
        logger.exception("noting the answer failed; answering without a notice")
        return Notices()


class Notices(NamedTuple):
    """An answer's notice, and what it adds when the answer is empty."""

    before: str | None = None
    if_empty: str | None = None


async def _explain(services: Services, error: GatewayError, attempt: Attempt) -> None:
    """Put the hints for `error` first in its hint (hints/explain.py)."""
    try:
        catalog: Catalog | None = await services.catalog.get()
    except GatewayError:
        catalog = None

    def approve(sql: str) -> Verdict | None:
        try:
            return _verdict(services, catalog, sql)
        except GatewayError:
            return None

    explain = functools.partial(hints_for, error, attempt, catalog, approve)
    try:
        if len(attempt.text) > GUARD_INLINE_MAX_CHARS:
            hints = await services.long_sql.run(explain)
        else:
            hints = explain()
    except GatewayError:  # no room to work them out (services.OneAtATime): the error as it is
        return
    except Exception:  # a hint is advice: a bug in one never turns the refusal into a 500
        logger.exception("hinting failed; refusing with the error's own hint")
        return
    for hint in reversed(hints):
        error.add_hint(hint, first=True)


def _plan(
    verdict: Verdict,
    query: QueryRequest,
    record: RequestRecord,
    scope: DbScope,
    notices: Notices,
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
        notice=notices.before,
        nulls_first=verdict.nulls_first,
        if_empty=notices.if_empty,
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
    """Run an approved `plan` within the caller's concurrency slot; fill in `record`. What
    PostgreSQL refuses gets its hints (`answer` gives them for free SQL itself)."""
    try:
        return await _run(services, plan, record)
    except GatewayError as error:
        if error.code in _HINTED_CODES:
            attempt = Attempt(verdict.sql, DEFAULT_DIALECT, verdict.sql, verdict)
            await _explain(services, error, attempt)
        raise


async def _run(services: Services, plan: QueryPlan, record: RequestRecord) -> EncodedResult:
    """Run `plan` within the caller's concurrency slot; fill in `record`. UnavailableError,
    before the SQL runs, when the audit trail could not store its event."""
    if services.audit is not None:
        services.audit.admit()
    timeout_s = services.settings.pool_acquire_timeout_ms / 1000
    async with services.limiter.slot(record.actor, timeout_s):
        started = time.perf_counter()
        try:
            result = await services.database.run(plan)
        finally:
            record.db_ms = (time.perf_counter() - started) * 1000
    record.rows = result.row_count
    record.truncated = result.truncated
    record.outcome = TRUNCATED if result.truncated else OK
    return result
