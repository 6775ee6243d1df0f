"""Sensitive columns: refused wherever a query references them.

Pure. sqlglot's optimizer qualifies every column of the (already guard-approved) statement
against the live columns, expanding ``*`` and ``t.*``, so a sensitive column is found in the
select list, WHERE, ORDER BY, joins, subqueries, CTEs and set operations alike. What the
qualifier cannot resolve is refused when it could read a sensitive table:

- whole-row references (``SELECT h FROM policyholders h``, ``to_jsonb(h)``, ``(h).email``,
  ``row_to_json(h.*)``), which carry every column of the row;
- column aliases on a table with sensitive columns (``FROM policyholders h(a, b, c)``), which
  rename its columns by position, so ``c`` would read a sensitive column;
- a ``*`` left unexpanded next to a sensitive table (one of the other sources is unknown);
- a query the qualifier fails on, when it reads a table with sensitive columns.

    check_sensitive("SELECT full_name FROM policyholders",
                    {"public.policyholders": ["full_name", "email"]},
                    {"public.policyholders.email"})          # passes
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, traverse_scope

from sqlgateway.errors import RejectedError

__all__ = ["check_sensitive", "reads_sensitive_table"]

DEFAULT_SCHEMA = "public"
_CONSTRUCT = "sensitive column"


def _key(name: str) -> str:
    """``table`` → ``public.table``; ``schema.table`` unchanged."""
    return name if "." in name else f"{DEFAULT_SCHEMA}.{name}"


def reads_sensitive_table(tables: Iterable[str], sensitive: Collection[str]) -> bool:
    """Whether a verdict's `tables` (lower-cased, qualified as written) include a table of
    the `sensitive` columns (``schema.table.column``): when not, `check_sensitive` would find
    nothing, so it need not parse the statement. Compared in lower case, so a quoted name
    in any case still counts (the check itself then decides).

    >>> reads_sensitive_table(["claims", "public.policyholders"], {"public.policyholders.email"})
    True
    """
    owners = {_key(name.rpartition(".")[0]).lower() for name in sensitive}
    return any(_key(table).lower() in owners for table in tables)


def check_sensitive(
    sql: str | exp.Expr,
    columns: Mapping[str, Sequence[str]],
    sensitive: Collection[str],
) -> None:
    """Raise RejectedError naming the first sensitive column `sql` references.

    `columns`: ``schema.table`` (or ``table`` for schema public) → its column names, as in
    the database. `sensitive`: ``schema.table.column`` (or ``table.column``) names."""
    if not sensitive:
        return
    by_table: dict[str, set[str]] = {}
    for name in sensitive:
        table, _, column = name.rpartition(".")
        by_table.setdefault(_key(table), set()).add(column)
    tree = sqlglot.parse_one(sql, read="postgres") if isinstance(sql, str) else sql.copy()
    read = [node for node in tree.find_all(exp.Table) if _table_key(node) in by_table]
    if not read:
        return
    for node in read:
        alias = node.args.get("alias")
        if isinstance(alias, exp.TableAlias) and alias.columns:
            # policyholders h(a, b, c) renames columns by position: c would be email
            raise _refused(
                f"column aliases on {node.name} rename its columns by position, sensitive "
                "ones included",
                [_table_key(node)],
            )
    schema: dict[str, object] = {}
    for name, names in columns.items():
        key = _key(name)
        db, _, table = key.partition(".")
        # documented sensitive columns count even if the catalog read missed them
        known = [*names, *sorted(by_table.get(key, set()) - set(names))]
        tables = schema.setdefault(db, {})
        assert isinstance(tables, dict)
        tables[table] = {column: "text" for column in known}
    try:
        qualified = qualify(
            tree,
            schema=schema,
            dialect="postgres",
            db=DEFAULT_SCHEMA,
            validate_qualify_columns=False,
            quote_identifiers=False,
            identify=False,
        )
        scopes = traverse_scope(qualified)
    except (SqlglotError, RecursionError, ValueError, KeyError):
        # e.g. an unknown column of a known table: PostgreSQL will report it, unless the
        # query could reach a sensitive column some other way
        if _could_read_sensitive(tree, by_table):
            raise _refused(
                "the query reads a table with sensitive columns in a way the gateway cannot verify",
                sorted(by_table),
            ) from None
        return
    for scope in scopes:
        _check_scope(scope, by_table)


def _could_read_sensitive(tree: exp.Expr, by_table: Mapping[str, set[str]]) -> bool:
    """Without qualification: any star but count(*), or any name that is a sensitive column
    or names a sensitive table (a whole-row reference)."""
    columns = {column for names in by_table.values() for column in names}
    aliases = {
        name
        for table in tree.find_all(exp.Table)
        if _table_key(table) in by_table
        for name in (table.name, table.alias_or_name)
    }
    if any(not isinstance(star.parent, exp.Count) for star in tree.find_all(exp.Star)):
        return True
    return any(
        column.name in columns or (not column.table and column.name in aliases)
        for column in tree.find_all(exp.Column)
    )


def _table_key(table: exp.Table) -> str:
    return f"{table.db or DEFAULT_SCHEMA}.{table.name}"


def _source(scope: Scope | None, alias: str) -> exp.Table | None:
    """The table `alias` names in `scope` or an enclosing one (correlated references)."""
    while scope is not None:
        source = scope.sources.get(alias)
        if source is not None:
            return source if isinstance(source, exp.Table) else None
        scope = scope.parent
    return None


def _sensitive_aliases(scope: Scope | None, by_table: Mapping[str, set[str]]) -> dict[str, str]:
    """Alias → ``schema.table`` for the sensitive tables visible in `scope`."""
    aliases: dict[str, str] = {}
    while scope is not None:
        for alias, source in scope.sources.items():
            if isinstance(source, exp.Table) and _table_key(source) in by_table:
                aliases.setdefault(alias, _table_key(source))
        scope = scope.parent
    return aliases


def _check_scope(scope: Scope, by_table: Mapping[str, set[str]]) -> None:
    aliases = _sensitive_aliases(scope, by_table)
    if not aliases:
        return
    unresolved = {column for key in aliases.values() for column in by_table[key]}
    for node in scope.expression.find_all(exp.Column, exp.Star, exp.TableColumn):
        if _inner_scope_node(node, scope):
            continue
        if isinstance(node, exp.TableColumn):
            if node.name in aliases:
                raise _refused(
                    f"the whole-row reference `{node.name}` includes sensitive columns",
                    [aliases[node.name]],
                )
            continue
        if isinstance(node, exp.Star):
            if isinstance(node.parent, exp.Column | exp.Count):
                continue  # t.* is checked as a column; count(*) reads no column
            raise _refused("`*` here would include sensitive columns", sorted(aliases.values()))
        assert isinstance(node, exp.Column)
        qualifier = node.table
        if isinstance(node.this, exp.Star):
            if qualifier in aliases:
                raise _refused(f"`{qualifier}.*` includes sensitive columns", [aliases[qualifier]])
            continue
        if not qualifier:  # the qualifier could not resolve it: whole row, or unknown name
            if _output_name(node, scope):
                continue  # ORDER BY count_alias: PostgreSQL reads the output column first
            if node.name in aliases or node.name in unresolved:
                raise _refused(
                    f"`{node.name}` may refer to a sensitive column", sorted(set(aliases.values()))
                )
            continue
        table = _source(scope, qualifier)
        if table is None:
            continue
        key = _table_key(table)
        if node.name in by_table.get(key, ()):
            shown = f"{key.removeprefix(DEFAULT_SCHEMA + '.')}.{node.name}"
            raise _refused(f"column {shown} is sensitive", [key])


def _output_name(node: exp.Column, scope: Scope) -> bool:
    """`node` is a whole ORDER BY key naming an output column of `scope`'s SELECT, which
    PostgreSQL reads as that column, not as an input one (``SELECT count(*) AS policyholders
    FROM policyholders ORDER BY policyholders``; the qualifier writes ``ORDER BY 2`` so too).
    Not within an expression: there the name is an input column again."""
    ordered, select = node.parent, scope.expression
    if not isinstance(ordered, exp.Ordered) or not isinstance(select, exp.Select):
        return False
    if ordered.parent is not select.args.get("order"):
        return False
    return any(
        isinstance(output, exp.Alias) and output.alias == node.name for output in select.expressions
    )


def _inner_scope_node(node: exp.Expr, scope: Scope) -> bool:
    """Whether `node` belongs to a subquery of `scope` (checked as its own scope)."""
    parent = node.parent
    while parent is not None and parent is not scope.expression:
        if isinstance(parent, exp.Query):
            return True
        parent = parent.parent
    return False


def _refused(what: str, tables: Sequence[str]) -> RejectedError:
    shown = ", ".join(t.removeprefix("public.") for t in tables)
    return RejectedError(
        f"{what}: sensitive columns cannot be read or referenced through this gateway",
        construct=_CONSTRUCT,
        hint=f"leave the sensitive columns of {shown} out: name the columns you need instead of "
        "*, and do not reference the sensitive ones anywhere (GET /schema marks them)",
    )
