"""`sqlgateway queries check`: each named query against a live database, for DBAs reviewing
the file (the guard and the declarations were checked when the queries compiled).

For each query, in a READ ONLY transaction that is rolled back, as the role of the URL:

- PostgreSQL prepares it: the tables, columns, functions and operators exist and the
  parameters' types fit where they stand (``claim_status = text`` does not);
- EXPLAIN with sample values (each parameter's example, else its default, else NULL) stays
  within SQLGATEWAY_MAX_PLAN_COST and SQLGATEWAY_MAX_PLAN_ROWS, as a request would;
- it reads no column the schema docs mark sensitive.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import asyncpg
import asyncpg.exceptions as pgerr
import orjson

from sqlgateway.catalog.introspect import read_live_tables, read_only
from sqlgateway.catalog.model import merge
from sqlgateway.catalog.schema_docs import SchemaDocs
from sqlgateway.db.driver_errors import gateway_error
from sqlgateway.errors import GatewayError
from sqlgateway.guard.cost import check_plan, estimate
from sqlgateway.guard.sensitive import check_sensitive
from sqlgateway.named.compile import NamedQueries, NamedQuery
from sqlgateway.named.values import convert
from sqlgateway.settings import Settings

__all__ = ["QueryReport", "check_against", "sample_values"]


@dataclass
class QueryReport:
    """What checking one query found: `problems` (any: exit 1) and `notes`."""

    name: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def sample_values(query: NamedQuery) -> tuple[tuple[Any, ...], list[str]]:
    """Values to EXPLAIN `query` with, and the parameters that had to be NULL."""
    values: list[Any] = []
    missing: list[str] = []
    for name in query.order:
        parameter = query.doc.parameters[name]
        sample = parameter.example if parameter.example is not None else parameter.default
        if sample is None:
            missing.append(name)
            values.append(None)
        else:
            values.append(convert(parameter, sample))
    return tuple(values), missing


async def check_against(
    url: str, named: NamedQueries, docs: SchemaDocs | None, settings: Settings
) -> list[QueryReport]:
    """A report per compiled query (served or not), in the docs' order."""
    conn = await asyncpg.connect(url, statement_cache_size=0)
    try:
        live = await read_live_tables(
            conn,
            schemas=[s.lower() for s in settings.allowed_schemas],
            tables=[t.lower() for t in settings.allowed_tables],
        )
        catalog = merge(docs, live)
        sensitive = docs.sensitive if docs is not None else frozenset()
        reports = []
        for query in named.compiled.values():
            report = QueryReport(query.name)
            reason = named.unavailable.get(query.name)
            if reason is not None:
                report.notes.append(f"not served with these settings: {reason}")
            try:
                check_sensitive(query.sql, catalog.column_map, sensitive)
            except GatewayError as error:
                report.problems.append(error.message)
            await _check_in_database(conn, query, settings, report)
            reports.append(report)
        return reports
    finally:
        await conn.close()


async def _check_in_database(
    conn: asyncpg.Connection, query: NamedQuery, settings: Settings, report: QueryReport
) -> None:
    values, missing = sample_values(query)
    if missing:
        report.notes.append(f"no example for {', '.join(missing)}: EXPLAIN used NULL")
    timeout_ms = query.timeout_ms or settings.statement_timeout_ms
    try:
        async with read_only(conn, timeout_ms):
            await conn.prepare(query.sql)
            explained = await conn.fetchval("EXPLAIN (FORMAT JSON) " + query.sql, *values)
    except pgerr.PostgresError as error:
        if isinstance(error, pgerr.PostgresConnectionError):
            raise
        mapped = gateway_error(error, query.sql, timeout_ms=timeout_ms)
        report.problems.append(f"PostgreSQL refuses it: {mapped.message if mapped else error}")
        return
    plan = estimate(orjson.loads(explained), query.doc.max_rows)
    report.notes.append(f"estimated cost {plan.effective_cost:,.1f}, rows {plan.rows:,.0f}")
    if query.verdict.streams_rows or not (settings.max_plan_cost or settings.max_plan_rows):
        return
    try:
        check_plan(plan, max_cost=settings.max_plan_cost, max_rows=settings.max_plan_rows)
    except GatewayError as error:
        report.problems.append(f"{error.message} ({error.hint})" if error.hint else error.message)
