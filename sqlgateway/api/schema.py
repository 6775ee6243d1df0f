"""GET /schema: what the data is, compact enough for the model's context.

Without parameters: every table with its columns in one line each (type, key, reference,
unit, allowed values, a short description), the conventions, relationships, join paths and
example queries. ``?table=claims``: one table in full (descriptions, allowed values with
their meanings, example values, foreign keys both ways, the examples that read it).

The overview starts with how to query (HOW_TO_QUERY: the loop of write, read the hint or
notice, retry once). Both are cut in steps until they fit ``SQLGATEWAY_MAX_RESPONSE_CHARS``: examples first,
then descriptions, then column details. Sensitive columns are listed (so the model leaves
them out) but never with example values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import orjson
import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from starlette.requests import Request
from starlette.responses import Response

from sqlgateway.catalog.model import Catalog, ColumnInfo, TableInfo
from sqlgateway.catalog.suggest import closest
from sqlgateway.errors import InvalidRequestError, NotFoundError
from sqlgateway.http.responses import JSON

if TYPE_CHECKING:
    from sqlgateway.services import Services

#: Characters of a column description kept in the overview (the detail has all of it).
SHORT_DESCRIPTION_CHARS = 90
#: Allowed values listed in the overview's one-line column summary.
OVERVIEW_VALUES = 15
MAX_TABLE_PARAM_CHARS = 200

DETAIL_NOTE = (
    "GET /schema?table=<name> gives one table in full: descriptions, units, allowed values "
    "with meanings, example values, foreign keys and example queries."
)
SENSITIVE_NOTE = "sensitive: refused in queries"
#: How to query, in a few lines: the loop the instructions teach, where the model reads names.
HOW_TO_QUERY = (
    "Write PostgreSQL, or send another dialect with dialect=<name>; strings in 'single "
    'quotes\', "double quotes" only for names.',
    "Use the table names, column names and allowed values below as written.",
    "An error's hint and an answer's notice name the fix (the right name, the valid values, the "
    "PostgreSQL spelling, the call to make): read them and retry once.",
)


async def get_schema(request: Request) -> Response:
    services: Services = request.state.services
    body = await schema_body(services, request.query_params.get("table"))
    return Response(body, media_type=JSON)


async def schema_body(services: Services, table: str | None, limit: int | None = None) -> bytes:
    """The overview (`table` None) or one table in full, as JSON within `limit` bytes
    (default SQLGATEWAY_MAX_RESPONSE_CHARS; bodies of the default size are cached)."""
    if table is not None and (not table.strip() or len(table) > MAX_TABLE_PARAM_CHARS):
        raise InvalidRequestError(
            "table must be a table name such as claims or public.claims", status_code=400
        )
    source = services.catalog
    catalog = await source.get()
    key = None if table is None else table.strip().lower()
    cached = limit is None
    body = source.rendered.get(key) if cached else None
    if body is None:
        limit = services.settings.max_response_chars if limit is None else limit
        body = render_overview(catalog, limit) if key is None else render_table(catalog, key, limit)
        if cached:
            source.rendered[key] = body
    return body


def _dump(value: Any) -> bytes:
    return orjson.dumps(value, default=str)


def _first(variants: Iterator[dict[str, Any]], limit: int) -> bytes:
    """The first variant whose JSON fits in `limit` bytes (the last one regardless)."""
    for variant in variants:
        body = _dump(variant)
        if len(body) <= limit:
            return body
    return _dump({"note": "too large to show within the response limit"})


def _short(text: str | None, most: int) -> str | None:
    if not text:
        return None
    text = " ".join(text.split())
    sentence = text.split(". ")[0].rstrip(".")
    return sentence if len(sentence) <= most else sentence[: most - 1].rstrip() + "…"


def column_line(column: ColumnInfo, *, describe: bool, values: bool) -> str:
    """``bigint, PK`` / ``integer -> policies.policy_id; ...`` in one line."""
    parts = [column.type]
    if column.references:
        parts.append(f"-> {column.references.removeprefix('public.')}")
    if column.sensitive:
        parts.append(SENSITIVE_NOTE)
    if column.unit:
        parts.append(f"unit: {column.unit}")
    if values and column.allowed_values:
        shown = list(column.allowed_values)[:OVERVIEW_VALUES]
        more = len(column.allowed_values) - len(shown)
        parts.append("values: " + "|".join(shown) + (f"|…(+{more})" if more > 0 else ""))
    if values and column.keys:
        names = [key.name for key in column.keys]
        shown = names[:OVERVIEW_VALUES]
        more = len(names) - len(shown)
        parts.append("keys: " + "|".join(shown) + (f"|…(+{more})" if more > 0 else ""))
    short = _short(column.description, SHORT_DESCRIPTION_CHARS) if describe else None
    if short:
        parts.append(short)
    return "; ".join(parts)


def _table_summary(table: TableInfo, level: int) -> dict[str, Any]:
    summary: dict[str, Any] = {"name": table.shown_name}
    if table.kind != "table":
        summary["kind"] = table.kind
    if table.purpose and level < 3:
        summary["purpose"] = (
            _short(table.purpose, 200) if level else " ".join(table.purpose.split())
        )
    if table.rows is not None:
        summary["rows"] = table.rows
    if table.primary_key:
        summary["primary_key"] = list(table.primary_key)
    if level < 3:
        summary["columns"] = {
            c.name: column_line(c, describe=level < 2, values=level < 3) for c in table.columns
        }
    elif level == 3:
        summary["columns"] = [c.name for c in table.columns]
    return summary


def render_overview(catalog: Catalog, limit: int) -> bytes:
    def variants() -> Iterator[dict[str, Any]]:
        for level in range(5):
            overview: dict[str, Any] = {}
            if catalog.database:
                overview["database"] = catalog.database
            if catalog.description:
                overview["description"] = " ".join(catalog.description.split())
            overview["dialect"] = "PostgreSQL"
            overview["how_to_query"] = list(HOW_TO_QUERY)
            if catalog.conventions:
                overview["conventions"] = [" ".join(c.split()) for c in catalog.conventions]
            overview["tables"] = [_table_summary(t, level) for t in catalog.tables]
            if catalog.relationships and level < 4:
                overview["relationships"] = list(catalog.relationships)
            if catalog.join_paths and level < 1:
                overview["join_paths"] = {
                    k: " ".join(v.split()) for k, v in catalog.join_paths.items()
                }
            if catalog.examples and level < 1:
                overview["examples"] = [
                    {"question": e.question, "sql": e.sql.strip()} for e in catalog.examples
                ]
            overview["more"] = DETAIL_NOTE
            yield overview

    return _first(variants(), limit)


def _column_detail(column: ColumnInfo, with_examples: bool) -> dict[str, Any]:
    detail: dict[str, Any] = {"name": column.name}
    if column.type:
        detail["type"] = column.type
    if column.nullable is not None:
        detail["nullable"] = column.nullable
    if column.sensitive:
        detail["sensitive"] = True
    for name in ("description", "unit", "references"):
        value = getattr(column, name)
        if value:
            detail[name] = " ".join(str(value).split())
    if column.allowed_values:
        detail["allowed_values"] = {k: v for k, v in column.allowed_values.items()}
    if with_examples and column.examples and not column.sensitive:
        detail["examples"] = list(column.examples)
    if column.keys:
        detail["keys"] = [_column_detail(key, with_examples) for key in column.keys]
    return detail


def reads_table(sql: str, table: TableInfo) -> bool:
    try:
        tree = sqlglot.parse_one(sql, read="postgres")
    except SqlglotError:
        return False
    return any(
        t.name == table.name and (t.db or "public") == table.schema
        for t in tree.find_all(exp.Table)
    )


def render_table(catalog: Catalog, name: str, limit: int) -> bytes:
    table = catalog.find(name)
    if table is None:
        guesses = closest(name.split(".")[-1], [t.shown_name for t in catalog.tables])
        known = ", ".join(t.shown_name for t in catalog.tables[:60])
        raise NotFoundError(
            f"no table {name!r}" + (f"; did you mean {' or '.join(guesses)}?" if guesses else ""),
            hint=f"tables: {known}" if known else "GET /schema lists the tables",
        )
    referenced_by = [
        f"{other.shown_name} {fk}"
        for other in catalog.tables
        for fk in other.foreign_keys
        if f"-> {table.key}(" in fk
    ]
    examples = [
        {"question": e.question, "sql": e.sql.strip(), **({"note": e.note} if e.note else {})}
        for e in catalog.examples
        if reads_table(e.sql, table)
    ]

    def variants() -> Iterator[dict[str, Any]]:
        steps: list[Callable[[dict[str, Any]], None]] = [
            lambda body: None,
            lambda body: body.pop("examples", None),
            lambda body: _strip_columns(body, "examples"),
            lambda body: _strip_columns(body, "description"),
            lambda body: _strip_columns(body, "allowed_values"),
        ]
        body = _table_body(table, referenced_by, examples)
        for step in steps:
            step(body)
            yield body

    return _first(variants(), limit)


def _table_body(
    table: TableInfo, referenced_by: list[str], examples: list[dict[str, str]]
) -> dict[str, Any]:
    detail: dict[str, Any] = {"name": table.shown_name, "schema": table.schema, "kind": table.kind}
    if table.purpose:
        detail["purpose"] = " ".join(table.purpose.split())
    if table.rows is not None:
        detail["rows"] = table.rows
    if table.rows_note:
        detail["rows_note"] = table.rows_note
    if table.primary_key:
        detail["primary_key"] = list(table.primary_key)
    detail["columns"] = [_column_detail(c, with_examples=True) for c in table.columns]
    if table.foreign_keys:
        detail["foreign_keys"] = list(table.foreign_keys)
    if referenced_by:
        detail["referenced_by"] = referenced_by
    body: dict[str, Any] = {"table": detail}
    if examples:
        body["examples"] = examples
    return body


def _strip_columns(body: dict[str, Any], field: str) -> None:
    for column in body["table"]["columns"]:
        column.pop(field, None)
        for key in column.get("keys", ()):
            key.pop(field, None)
