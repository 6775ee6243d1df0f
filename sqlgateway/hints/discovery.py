"""Discovering the schema with SQL, and several statements at once: the way to do it instead.

Pure. ``information_schema``/``pg_catalog`` reads, ``SHOW TABLES``, ``DESCRIBE t``, psql's
``\\d``, SQLite's ``sqlite_master``, SQL Server's ``sys.tables``, Oracle's ``all_tables``: all
refused (or unknown), and all answered by getSchema (``GET /schema``, ``?table=``), which the
hint names with the table list when it is short. Several statements: one per call, or one
SELECT combining them, shown when the gateway can write it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from sqlgateway.catalog.model import Catalog
from sqlgateway.catalog.suggest import split_name
from sqlgateway.errors import GatewayError, RejectedError, UnknownTableError
from sqlgateway.guard import Verdict

#: Statements that only describe the schema (as the guard names them).
DISCOVERY_STATEMENTS = frozenset(
    {"SHOW", "DESCRIBE", "DESC", "psql meta-command", "PRAGMA", "EXEC", "EXECUTE", "HELP", "LIST"}
)
#: Catalogs of other databases, by name or schema.
FOREIGN_CATALOGS = frozenset(
    {
        "sqlite_master",
        "sqlite_schema",
        "all_tables",
        "user_tables",
        "dba_tables",
        "all_tab_columns",
        "user_tab_columns",
        "all_objects",
        "user_objects",
        "tabs",
        "cols",
        "dictionary",
    }
)
FOREIGN_CATALOG_SCHEMAS = frozenset({"sys", "information_schema", "mysql", "performance_schema"})
#: Longest table list written into a hint.
MAX_LISTED_CHARS = 400
#: Longest text split into statements to combine them.
MAX_COMBINED_CHARS = 4_000

_RELATION = re.compile(r'relation "?([^"\s]+)"?')


def is_discovery(error: GatewayError) -> bool:
    if isinstance(error, RejectedError):
        if error.construct in DISCOVERY_STATEMENTS:
            return True
        if error.construct.startswith("relation "):
            return _catalog_name(error.construct.removeprefix("relation "))
        return False
    if isinstance(error, UnknownTableError) and not error.message.startswith("missing FROM"):
        found = _RELATION.search(error.message)
        return found is not None and _catalog_name(found.group(1))
    return False


def _catalog_name(name: str) -> bool:
    parts = [part.lower() for part in split_name(name)]
    if not parts:
        return False
    schema = parts[-2] if len(parts) > 1 else ""
    table = parts[-1]
    return (
        schema in FOREIGN_CATALOG_SCHEMAS
        or schema.startswith("pg_")
        or (not schema and table.startswith("pg_"))
        or table in FOREIGN_CATALOGS
    )


def discovery_hint(text: str, catalog: Catalog | None) -> str:
    """Call getSchema instead; names the table the text asks about when it names one."""
    named = _named_table(text, catalog) if catalog is not None else None
    one = named or "<name>"
    hint = (
        "the schema is not readable with SQL here: call getSchema (GET /schema) for every "
        f"table with its columns, or getSchema with table={one} (GET /schema?table={one}) "
        "for one table in full"
    )
    if catalog is not None and catalog.tables:
        names = ", ".join(t.shown_name for t in catalog.tables)
        if len(names) <= MAX_LISTED_CHARS:
            hint += f"; tables: {names}"
    return hint


def _named_table(text: str, catalog: Catalog) -> str | None:
    words = set(re.findall(r"[A-Za-z_][\w$]*", text[:10_000].lower()))
    for table in catalog.tables:
        if table.name.lower() in words:
            return table.shown_name
    return None


def several_statements_hint(text: str, approve: Callable[[str], Verdict | None]) -> str:
    """One statement per call, or one SELECT: the combined SELECT itself when every statement
    returns one value and the guard accepts the combination."""
    combined = _combined(text, approve)
    if combined is not None:
        return f"send one statement per call, or combine them into one: {combined}"
    return (
        "send one statement per call, or combine them into one SELECT: single values as scalar "
        "subqueries, SELECT (SELECT count(*) FROM a) AS a_count, (SELECT count(*) FROM b) AS "
        "b_count; rows with the same columns with UNION ALL"
    )


def _combined(text: str, approve: Callable[[str], Verdict | None]) -> str | None:
    if len(text) > MAX_COMBINED_CHARS:
        return None
    try:
        trees = [t for t in sqlglot.parse(text, read="postgres") if t is not None]
    except (SqlglotError, RecursionError, ValueError):
        return None
    if not 2 <= len(trees) <= 10:
        return None
    parts = []
    for index, tree in enumerate(trees, 1):
        if not isinstance(tree, exp.Select) or len(tree.expressions) != 1:
            return None
        if tree.args.get("group") or tree.args.get("limit"):
            return None
        item = tree.expressions[0]
        table = tree.find(exp.Table)
        name = item.alias_or_name
        if name in ("", "*"):
            named = isinstance(item, exp.Func) and table is not None
            name = f"{table.name}_{item.key}" if named and table else f"value_{index}"
        if isinstance(item, exp.Alias):
            tree = tree.copy()
            tree.set("expressions", [item.this.copy()])
        parts.append(f"({tree.sql(dialect='postgres')}) AS {exp.to_identifier(name).sql()}")
    if len({p.rsplit(" AS ", 1)[1] for p in parts}) != len(parts):
        parts = [f"{p.rsplit(' AS ', 1)[0]} AS value_{i}" for i, p in enumerate(parts, 1)]
    combined = "SELECT " + ", ".join(parts)
    verdict = approve(combined)
    return verdict.sql if verdict is not None else None
