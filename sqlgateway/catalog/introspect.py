"""Reading the live catalog: the tables the role may read, their columns, keys, comments and
single-column CHECK constraints (catalog/domains.py reads value domains out of those).

Everything runs inside ``BEGIN READ ONLY`` with a local statement timeout and ends in
ROLLBACK, on whatever connection the caller hands in (the gateway's pool, or a CLI's own
connection). `sample_values` and `sample_keys` read a bounded number of rows of one column,
for drafting docs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from sqlgateway.db.sql import quote_ident
from sqlgateway.settings import Settings

Connection = asyncpg.Connection | PoolConnectionProxy

#: Longest the catalog queries may take, in milliseconds.
CATALOG_TIMEOUT_MS = 10_000


@dataclass(frozen=True)
class LiveColumn:
    name: str
    type: str  # format_type(): e.g. "numeric(12,2)", "claim_status", "text[]"
    nullable: bool
    comment: str | None
    enum_values: tuple[str, ...] = ()  # labels, when the type is an enum
    text_like: bool = False  # a string or enum type: worth sampling for allowed values
    checks: tuple[str, ...] = ()  # CHECK expressions on this column alone, as pg_get_expr


@dataclass(frozen=True)
class ForeignKey:
    columns: tuple[str, ...]
    ref_table: str  # schema.table
    ref_columns: tuple[str, ...]


@dataclass(frozen=True)
class LiveTable:
    schema: str
    name: str
    kind: str  # table, view, materialized view, foreign table, partitioned table
    comment: str | None
    row_estimate: int | None  # planner statistics; None when never analysed or a view
    columns: tuple[LiveColumn, ...]
    primary_key: tuple[str, ...]
    foreign_keys: tuple[ForeignKey, ...]

    @property
    def key(self) -> str:
        return f"{self.schema}.{self.name}"


_KINDS = {
    "r": "table",
    "p": "partitioned table",
    "v": "view",
    "m": "materialized view",
    "f": "foreign table",
}

_TABLES = """
SELECT c.oid, n.nspname AS schema, c.relname AS name, c.relkind::text AS kind,
       obj_description(c.oid, 'pg_class') AS comment, c.reltuples::float8 AS reltuples
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition
  AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
  AND has_schema_privilege(n.oid, 'USAGE') AND has_table_privilege(c.oid, 'SELECT')
ORDER BY n.nspname, c.relname
"""

_COLUMNS = """
SELECT a.attrelid AS oid, a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
       NOT a.attnotnull AS nullable, col_description(a.attrelid, a.attnum) AS comment,
       CASE WHEN t.typtype = 'e' THEN ARRAY(
           SELECT e.enumlabel::text FROM pg_catalog.pg_enum e
           WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder) END AS enum_values,
       (t.typcategory = 'S' OR t.typtype = 'e') AS text_like
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum
"""

_KEYS = """
SELECT con.conrelid AS oid, con.contype::text AS kind,
       ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY AS k(num, i)
             JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num
             ORDER BY k.i) AS columns,
       fn.nspname AS ref_schema, f.relname AS ref_name,
       ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY AS k(num, i)
             JOIN pg_catalog.pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.num
             ORDER BY k.i) AS ref_columns
FROM pg_catalog.pg_constraint con
LEFT JOIN pg_catalog.pg_class f ON f.oid = con.confrelid
LEFT JOIN pg_catalog.pg_namespace fn ON fn.oid = f.relnamespace
WHERE con.conrelid = ANY($1::oid[]) AND con.contype IN ('p', 'f')
ORDER BY con.conrelid, con.conname
"""


_CHECKS = """
SELECT con.conrelid AS oid, a.attname AS name, pg_get_expr(con.conbin, con.conrelid) AS expr
FROM pg_catalog.pg_constraint con
JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = con.conkey[1]
WHERE con.conrelid = ANY($1::oid[]) AND con.contype = 'c' AND cardinality(con.conkey) = 1
ORDER BY con.conrelid, con.conname
"""


@asynccontextmanager
async def read_only(conn: Connection, timeout_ms: int) -> AsyncIterator[None]:
    """A READ ONLY transaction with a local statement timeout, always rolled back."""
    await conn.execute(f"BEGIN TRANSACTION READ ONLY; SET LOCAL statement_timeout = {timeout_ms}")
    try:
        yield
    finally:
        if not conn.is_closed():
            await conn.execute("ROLLBACK")


async def read_live_tables(
    conn: Connection,
    *,
    schemas: Sequence[str] = (),
    tables: Sequence[str] = (),
) -> tuple[LiveTable, ...]:
    """The relations the connected role may SELECT, outside system schemas; restricted to
    `schemas` and `schema.table` names in `tables` when those are given (lower-case)."""
    async with read_only(conn, CATALOG_TIMEOUT_MS):
        rows = [
            row
            for row in await conn.fetch(_TABLES)
            if (not schemas or row["schema"].lower() in schemas)
            and (not tables or f"{row['schema']}.{row['name']}".lower() in tables)
        ]
        oids = [row["oid"] for row in rows]
        columns = await conn.fetch(_COLUMNS, oids)
        keys = await conn.fetch(_KEYS, oids)
        checks = await conn.fetch(_CHECKS, oids)
    checks_of: dict[tuple[int, str], list[str]] = {}
    for check in checks:
        checks_of.setdefault((check["oid"], check["name"]), []).append(check["expr"])
    by_table: dict[int, list[LiveColumn]] = {oid: [] for oid in oids}
    for col in columns:
        by_table[col["oid"]].append(
            LiveColumn(
                name=col["name"],
                type=col["type"],
                nullable=col["nullable"],
                comment=col["comment"],
                enum_values=tuple(col["enum_values"] or ()),
                text_like=bool(col["text_like"]),
                checks=tuple(checks_of.get((col["oid"], col["name"]), ())),
            )
        )
    primary: dict[int, tuple[str, ...]] = {}
    foreign: dict[int, list[ForeignKey]] = {oid: [] for oid in oids}
    for key in keys:
        if key["kind"] == "p":
            primary[key["oid"]] = tuple(key["columns"])
        else:
            foreign[key["oid"]].append(
                ForeignKey(
                    columns=tuple(key["columns"]),
                    ref_table=f"{key['ref_schema']}.{key['ref_name']}",
                    ref_columns=tuple(key["ref_columns"]),
                )
            )
    return tuple(
        LiveTable(
            schema=row["schema"],
            name=row["name"],
            kind=_KINDS.get(row["kind"], row["kind"]),
            comment=row["comment"],
            row_estimate=_estimate(row["kind"], row["reltuples"]),
            columns=tuple(by_table[row["oid"]]),
            primary_key=primary.get(row["oid"], ()),
            foreign_keys=tuple(foreign[row["oid"]]),
        )
        for row in rows
    )


async def read_live_tables_at(url: str, settings: Settings) -> tuple[LiveTable, ...]:
    """`read_live_tables` on a connection of its own to `url`, within the allowed schemas and
    tables of `settings`."""
    conn = await asyncpg.connect(url)
    try:
        return await read_live_tables(
            conn,
            schemas=[s.lower() for s in settings.allowed_schemas],
            tables=[t.lower() for t in settings.allowed_tables],
        )
    finally:
        await conn.close()


def _estimate(kind: str, reltuples: float) -> int | None:
    if kind not in ("r", "p", "m") or reltuples < 0:
        return None
    return int(reltuples)


async def sample_values(
    conn: Connection,
    table: LiveTable,
    column: str,
    *,
    max_values: int,
    scan_rows: int,
    timeout_ms: int,
) -> list[Any] | None:
    """The distinct non-null values of `column` among the first `scan_rows` rows, if there
    are at most `max_values` of them; None when there are more or the query runs too long.

    Bounded twice: the scan stops after `scan_rows` rows, and a statement timeout applies."""
    relation = f"{quote_ident(table.schema)}.{quote_ident(table.name)}"
    name = quote_ident(column)
    sql = (
        f"SELECT DISTINCT v FROM (SELECT {name} AS v FROM {relation} LIMIT {int(scan_rows)}) AS s "
        f"WHERE v IS NOT NULL ORDER BY 1 LIMIT {int(max_values) + 1}"
    )
    try:
        async with read_only(conn, timeout_ms):
            rows = await conn.fetch(sql)
    except (asyncpg.QueryCanceledError, asyncpg.InsufficientPrivilegeError):
        return None
    if len(rows) > max_values:
        return None
    return [row[0] for row in rows]


@dataclass(frozen=True)
class SampledKey:
    """A key of a json column's objects, found by `sample_keys`: its path (``vehicle.make``
    is ``("vehicle", "make")``), the JSON types it held, and its values when few strings."""

    path: tuple[str, ...]
    types: tuple[str, ...]  # jsonb_typeof: string, number, boolean, object, array
    values: tuple[str, ...] = ()


async def sample_keys(
    conn: Connection,
    table: LiveTable,
    column: str,
    *,
    max_keys: int,
    max_values: int,
    scan_rows: int,
    timeout_ms: int,
) -> list[SampledKey] | None:
    """The keys of the objects of json column `column` among the first `scan_rows` rows, and
    of the objects one level below (``vehicle.make``), if there are at most `max_keys`; a
    string key with at most `max_values` distinct values gets them. None when there are more
    keys, or a query runs too long.

    Bounded like `sample_values`: `scan_rows` rows per query, under a statement timeout."""
    relation = f"{quote_ident(table.schema)}.{quote_ident(table.name)}"
    rows_of = (
        f"(SELECT {quote_ident(column)}::jsonb AS d FROM {relation} LIMIT {int(scan_rows)}) AS s"
    )
    keys_sql = f"""
        WITH top AS (
            SELECT e.key, e.value FROM {rows_of}
            CROSS JOIN LATERAL jsonb_each(CASE jsonb_typeof(s.d) WHEN 'object' THEN s.d END) AS e
        ), paths AS (
            SELECT ARRAY[key] AS path, jsonb_typeof(value) AS type FROM top
            UNION ALL
            SELECT ARRAY[top.key, n.key], jsonb_typeof(n.value) FROM top
            CROSS JOIN LATERAL jsonb_each(
                CASE jsonb_typeof(top.value) WHEN 'object' THEN top.value END) AS n
        )
        SELECT path, array_agg(DISTINCT type ORDER BY type) AS types FROM paths
        GROUP BY path ORDER BY path LIMIT {int(max_keys) + 1}"""
    try:
        async with read_only(conn, timeout_ms):
            found = await conn.fetch(keys_sql)
            if len(found) > max_keys:
                return None
            keys = []
            for row in found:
                path, types = tuple(row["path"]), tuple(row["types"])
                if any("." in key for key in path):
                    continue  # schema docs name nested keys with dots
                values: tuple[str, ...] = ()
                if set(types) - {"null"} == {"string"}:
                    values = await _key_values(conn, rows_of, path, max_values)
                keys.append(SampledKey(path, types, values))
    except (asyncpg.QueryCanceledError, asyncpg.InsufficientPrivilegeError):
        return None
    return keys


async def _key_values(
    conn: Connection, rows_of: str, path: tuple[str, ...], max_values: int
) -> tuple[str, ...]:
    """The distinct values at `path`, if at most `max_values`; () otherwise."""
    rows = await conn.fetch(
        f"SELECT DISTINCT v FROM (SELECT s.d #>> $1::text[] AS v FROM {rows_of}) AS k "
        f"WHERE v IS NOT NULL ORDER BY 1 LIMIT {int(max_values) + 1}",
        list(path),
    )
    return tuple(row[0] for row in rows) if len(rows) <= max_values else ()
