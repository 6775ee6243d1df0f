"""A first draft of schema docs, written from a live database (`schema-docs generate`).

Comments become descriptions, keys and foreign keys are listed, low-cardinality text and
enum columns get their values (to be given meanings by a person), and json columns the keys
of their objects (two levels), with the values of those that hold few strings. Value sampling reads at
most `scan_rows` rows per column under a statement timeout in a READ ONLY transaction.
Example values are left out on purpose: they could copy personal data into the docs.
"""

from __future__ import annotations

from typing import Any

import yaml

from sqlgateway.catalog.introspect import (
    Connection,
    LiveTable,
    SampledKey,
    read_only,
    sample_keys,
    sample_values,
)

TODO = "TODO: describe"


async def draft_schema_docs(
    conn: Connection,
    tables: tuple[LiveTable, ...],
    *,
    schema: str,
    max_values: int = 20,
    scan_rows: int = 10_000,
    timeout_ms: int = 2_000,
) -> str:
    """The YAML text of a schema docs file for the `tables` of `schema`."""
    async with read_only(conn, timeout_ms):
        database = await conn.fetchval("SELECT current_database()")
        comment = await conn.fetchval(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_catalog.pg_database"
            " WHERE datname = current_database()"
        )
    chosen = [t for t in tables if t.schema == schema]
    doc: dict[str, Any] = {
        "database": database,
        "schema": schema,
        "description": comment or "TODO: what the data is about, for someone new to it",
        "conventions": [],
        "tables": [await _table(conn, t, max_values, scan_rows, timeout_ms) for t in chosen],
        "relationships": [
            f"{t.name}.{fk.columns[0]} -> {fk.ref_table.removeprefix(schema + '.')}."
            f"{fk.ref_columns[0]}"
            for t in chosen
            for fk in t.foreign_keys
            if len(fk.columns) == 1
        ],
        "examples": [],
    }
    header = (
        f"# Drafted by `sqlgateway schema-docs generate` from database {database}, schema "
        f"{schema}.\n# Replace the TODOs, give allowed values their meanings, mark columns "
        "that must never be returned\n# with `sensitive: true`, and add example questions "
        "(docs/schema_docs.md).\n"
    )
    body: str = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)
    return header + body


async def _table(
    conn: Connection, table: LiveTable, max_values: int, scan_rows: int, timeout_ms: int
) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": table.name, "purpose": table.comment or TODO}
    if table.row_estimate is not None:
        entry["rows"] = table.row_estimate
    if table.primary_key:
        entry["primary_key"] = list(table.primary_key)
    columns = []
    for column in table.columns:
        item: dict[str, Any] = {
            "name": column.name,
            "type": column.type,
            "description": column.comment or TODO,
        }
        values: list[Any] | None = list(column.enum_values) or None
        if values is None and column.text_like and table.kind != "foreign table":
            values = await sample_values(
                conn,
                table,
                column.name,
                max_values=max_values,
                scan_rows=scan_rows,
                timeout_ms=timeout_ms,
            )
        if values:
            item["allowed_values"] = {str(value): "" for value in values}
        if column.type in ("json", "jsonb") and table.kind != "foreign table":
            keys = await sample_keys(
                conn,
                table,
                column.name,
                max_keys=MAX_KEYS,
                max_values=max_values,
                scan_rows=scan_rows,
                timeout_ms=timeout_ms,
            )
            if keys:
                item["keys"] = [_key(key) for key in keys]
        columns.append(item)
    entry["columns"] = columns
    return entry


#: Most keys drafted for one json column (more: none, the objects have no fixed keys).
MAX_KEYS = 60
_TYPES = {"string": "text", "number": "numeric", "boolean": "boolean"}


def _key(key: SampledKey) -> dict[str, Any]:
    """A `keys:` entry: the path, the type ->> text casts to, and the values to give meanings."""
    entry: dict[str, Any] = {"name": ".".join(key.path)}
    types = [t for t in key.types if t != "null"]
    if len(types) == 1:
        entry["type"] = _TYPES.get(types[0], types[0])
    entry["description"] = TODO
    if key.values:
        entry["allowed_values"] = {value: "" for value in key.values}
    return entry
