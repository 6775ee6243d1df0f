"""The catalog the GPT sees: schema docs merged with the live database catalog.

`merge` is pure: docs give meanings (purpose, descriptions, units, allowed values, examples,
sensitive columns); the live catalog gives what exists (tables, column types, keys, comments,
row estimates). Live facts win on existence and types; docs win on meanings, falling back to
``COMMENT ON`` text. `CatalogSource` reads the live part through the gateway's pool when first
needed and again once it is older than ``SQLGATEWAY_CATALOG_REFRESH_S``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from sqlgateway.catalog.introspect import LiveTable
from sqlgateway.catalog.schema_docs import DEFAULT_SCHEMA, ExampleDoc, SchemaDocs, TableDoc
from sqlgateway.named.docs import QueryDoc


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    type: str
    nullable: bool | None = None
    description: str | None = None
    unit: str | None = None
    allowed_values: dict[str, str] = field(default_factory=dict)  # value → meaning ("" unknown)
    examples: tuple[Any, ...] = ()
    sensitive: bool = False
    references: str | None = None  # "schema.table.column" of a single-column foreign key


@dataclass(frozen=True)
class TableInfo:
    schema: str
    name: str
    kind: str
    purpose: str | None
    rows: int | None  # the live estimate
    rows_note: str | None  # what the docs say about the size
    primary_key: tuple[str, ...]
    columns: tuple[ColumnInfo, ...]
    foreign_keys: tuple[str, ...]  # "(a, b) -> schema.table(c, d)"
    live: bool  # exists in the database (False: documented only)

    @property
    def key(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def shown_name(self) -> str:
        """How queries name it: bare in the default schema, qualified elsewhere."""
        return self.name if self.schema == DEFAULT_SCHEMA else self.key


@dataclass(frozen=True)
class Catalog:
    database: str | None
    description: str | None
    conventions: tuple[str, ...]
    tables: tuple[TableInfo, ...]
    relationships: tuple[str, ...]
    join_paths: dict[str, str]
    examples: tuple[ExampleDoc, ...]
    live: bool  # the live catalog was read (False: docs only)
    queries: tuple[QueryDoc, ...] = ()  # the docs' named queries

    def find(self, name: str) -> TableInfo | None:
        """The table named `name` (``table`` or ``schema.table``, any case), or None."""
        wanted = name.strip().lower()
        for table in self.tables:
            if wanted in (table.key.lower(), table.name.lower()):
                return table
        return None

    @cached_property
    def column_map(self) -> dict[str, list[str]]:
        """``schema.table`` → its column names, for the sensitive-column check."""
        return {t.key: [c.name for c in t.columns] for t in self.tables if t.live}

    @cached_property
    def sensitive(self) -> frozenset[str]:
        return frozenset(f"{t.key}.{c.name}" for t in self.tables for c in t.columns if c.sensitive)


def merge(docs: SchemaDocs | None, live: tuple[LiveTable, ...] | None) -> Catalog:
    """The catalog from `docs` and the `live` tables (None: not read). Documented tables that
    do not exist are kept only when the live catalog was not read."""
    documented = docs.tables if docs is not None else {}
    tables: list[TableInfo] = []
    if live is not None:
        # documented tables in the docs' order (the author's), then the others by name
        order = {key: index for index, key in enumerate(documented)}
        ordered = sorted(live, key=lambda t: (order.get(t.key, len(order)), t.schema, t.name))
        tables = [_merge_table(table, documented.get(table.key)) for table in ordered]
    else:
        tables = [_doc_only(key, table) for key, table in documented.items()]
    return Catalog(
        database=docs.database if docs else None,
        description=docs.description if docs else None,
        conventions=tuple(docs.each("conventions")) if docs else (),
        tables=tuple(tables),
        relationships=tuple(docs.each("relationships")) if docs else (),
        join_paths=docs.join_paths if docs else {},
        examples=tuple(docs.each("examples")) if docs else (),
        live=live is not None,
        queries=tuple(docs.each("queries")) if docs else (),
    )


def _merge_table(table: LiveTable, doc: TableDoc | None) -> TableInfo:
    column_docs = {c.name: c for c in doc.columns} if doc else {}
    references = {
        fk.columns[0]: f"{fk.ref_table}.{fk.ref_columns[0]}"
        for fk in table.foreign_keys
        if len(fk.columns) == 1
    }
    columns = []
    for column in table.columns:
        cdoc = column_docs.get(column.name)
        allowed = dict(cdoc.allowed_values) if cdoc and cdoc.allowed_values else {}
        if not allowed and column.enum_values:
            allowed = {value: "" for value in column.enum_values}
        columns.append(
            ColumnInfo(
                name=column.name,
                type=column.type,
                nullable=column.nullable,
                description=(cdoc.description if cdoc else None) or column.comment,
                unit=cdoc.unit if cdoc else None,
                allowed_values=allowed,
                examples=tuple(cdoc.examples) if cdoc else (),
                sensitive=bool(cdoc and cdoc.sensitive),
                references=references.get(column.name),
            )
        )
    return TableInfo(
        schema=table.schema,
        name=table.name,
        kind=table.kind,
        purpose=(doc.purpose if doc else None) or table.comment,
        rows=table.row_estimate,
        rows_note=str(doc.rows) if doc and doc.rows is not None else None,
        primary_key=table.primary_key,
        columns=tuple(columns),
        foreign_keys=tuple(
            f"({', '.join(fk.columns)}) -> {fk.ref_table}({', '.join(fk.ref_columns)})"
            for fk in table.foreign_keys
        ),
        live=True,
    )


def _doc_only(key: str, doc: TableDoc) -> TableInfo:
    schema, _, name = key.partition(".")
    return TableInfo(
        schema=schema,
        name=name,
        kind="table",
        purpose=doc.purpose,
        rows=None,
        rows_note=str(doc.rows) if doc.rows is not None else None,
        primary_key=tuple(doc.primary_key),
        columns=tuple(
            ColumnInfo(
                name=c.name,
                type=c.type or "unknown",
                description=c.description,
                unit=c.unit,
                allowed_values=dict(c.allowed_values),
                examples=tuple(c.examples),
                sensitive=c.sensitive,
            )
            for c in doc.columns
        ),
        foreign_keys=(),
        live=False,
    )
