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

from sqlgateway.catalog.domains import JSON_BOOLEAN, Domain, domain_of
from sqlgateway.catalog.introspect import LiveTable
from sqlgateway.catalog.schema_docs import (
    DEFAULT_SCHEMA,
    ColumnDoc,
    ExampleDoc,
    SchemaDocs,
    TableDoc,
)
from sqlgateway.catalog.spelling import json_access
from sqlgateway.guard.policy import StarColumns
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
    aliases: tuple[str, ...] = ()  # other names people use for it (schema docs)
    enum_values: tuple[str, ...] = ()  # labels, when the live type is an enum
    checks: tuple[str, ...] = ()  # CHECK expressions on this column alone (live)
    #: json/jsonb: the documented keys of its objects, each named by its path
    #: (``vehicle.make``) and read with ``->>`` (schema docs).
    keys: tuple[ColumnInfo, ...] = ()
    #: a documented key of a json column (then `type` is its JSON type, read with ``->>``)
    in_json: bool = False

    def key(self, path: tuple[str, ...]) -> ColumnInfo | None:
        """The documented key at `path` (``("vehicle", "make")``), or None: a key named
        ``'vehicle.make'`` is not the nested one, as ``->>`` reads it."""
        return next((key for key in self.keys if tuple(key.name.split(".")) == path), None)

    @cached_property
    def domain(self) -> Domain | None:
        """What its values can be (catalog/domains.py); None when unknown or sensitive."""
        if self.sensitive:
            return None
        return domain_of(
            column=self.name,
            enum_values=self.enum_values,
            checks=self.checks,
            allowed_values=self.allowed_values,
            examples=self.examples,
            json_type=self.type if self.in_json else None,
        )


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
    aliases: tuple[str, ...] = ()  # other names people use for it (schema docs)

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

    def memo(self, name: str, most: int = 1_024) -> dict[Any, Any]:
        """A cache that lives as long as this catalog (what is derived from it and worth
        keeping between requests), emptied when it reaches `most` entries."""
        memos: dict[str, dict[Any, Any]] = self._memos
        found = memos.setdefault(name, {})
        if len(found) >= most:
            found.clear()
        return found

    @cached_property
    def _memos(self) -> dict[str, dict[Any, Any]]:
        return {}

    @cached_property
    def star_columns(self) -> tuple[StarColumns, ...]:
        """What ``*`` may show of each live table with sensitive columns."""
        return tuple(
            StarColumns(
                t.key,
                tuple(c.name for c in t.columns if not c.sensitive),
                tuple(c.name for c in t.columns if c.sensitive),
            )
            for t in self.tables
            if t.live and any(c.sensitive for c in t.columns)
        )

    @cached_property
    def sensitive_tables(self) -> frozenset[str]:
        """``schema.table`` of the tables with sensitive columns."""
        return frozenset(name.rpartition(".")[0] for name in self.sensitive)

    @cached_property
    def value_owners(self) -> dict[str, tuple[str, ...]]:
        """A listed value (lower case) → ``table.column`` of every column (or documented JSON
        key) whose domain lists it: "'auto' is a value of policies.product"."""
        owners: dict[str, list[str]] = {}
        for table in self.tables:
            for column in table.columns:
                named = [(f"{table.shown_name}.{column.name}", column)]
                named += [
                    (json_access(f"{table.shown_name}.{column.name}", key.name.split(".")), key)
                    for key in column.keys
                ]
                for owner, holder in named:
                    domain = holder.domain
                    if domain is None or domain is JSON_BOOLEAN:
                        continue  # 'true' says nothing about which column was meant
                    for value in domain.values:
                        owners.setdefault(value.lower(), []).append(owner)
        return {value: tuple(names) for value, names in owners.items()}

    @cached_property
    def columns_by_relation(self) -> dict[str, dict[str, ColumnInfo]]:
        """Relation name as a verdict names it (``table`` or ``schema.table``, lower case) →
        column name → column: the lookup of the success path's value-domain check."""
        found: dict[str, dict[str, ColumnInfo]] = {}
        for table in self.tables:
            columns = {column.name: column for column in table.columns}
            for name in (table.key.lower(), table.name.lower()):
                found.setdefault(name, columns)
        return found


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
                aliases=tuple(cdoc.aliases) if cdoc else (),
                enum_values=column.enum_values,
                checks=column.checks,
                keys=_keys(cdoc) if cdoc else (),
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
        aliases=tuple(doc.aliases) if doc else (),
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
                aliases=tuple(c.aliases),
                keys=_keys(c),
            )
            for c in doc.columns
        ),
        foreign_keys=(),
        live=False,
        aliases=tuple(doc.aliases),
    )


def _keys(doc: ColumnDoc) -> tuple[ColumnInfo, ...]:
    """The documented keys of a json column, as columns of their own (their domains come
    the same way); none for a sensitive column, whose values are never shown."""
    if doc.sensitive:
        return ()
    return tuple(
        ColumnInfo(
            name=key.name,
            type=key.type or "",
            description=key.description,
            unit=key.unit,
            allowed_values=dict(key.allowed_values),
            examples=tuple(key.examples),
            in_json=True,
        )
        for key in doc.keys
    )
