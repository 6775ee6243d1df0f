"""Hints for what PostgreSQL refused: the usual mistakes, each with its fix.

Pure. One rule per SQLSTATE (asyncpg maps each to a class; `QueryError.sqlstate` keeps it);
the details a fix needs (which operator, which types, which name) come from PostgreSQL's
message and from the tree of the SQL that ran, parsed again here, on the error path only.
Messages are read in PostgreSQL's default English; a server set to another language gets the
generic hints.

Every rule returns the hints it can give, most specific first, or nothing.
"""

from __future__ import annotations

import re

from sqlglot import exp

from sqlgateway.catalog.model import TableInfo
from sqlgateway.catalog.spelling import quoted
from sqlgateway.catalog.suggest import (
    column_hint,
    json_key_hint,
    split_name,
    table_hint,
    unknown_name_at,
)
from sqlgateway.guard.literals import sources
from sqlgateway.guard.names import fold
from sqlgateway.hints.failure import Failure, Rule
from sqlgateway.hints.foreign import foreign_column_hint
from sqlgateway.hints.lists import conditions_hint
from sqlgateway.hints.syntax import (
    interval_hint,
    recursive_types,
    syntax,
    unsupported,
    with_item,
)
from sqlgateway.hints.types import datetime, invalid_text, undefined_function
from sqlgateway.hints.units import string_argument, unit_alone
from sqlgateway.hints.zones import time_zone


def undefined_column(failure: Failure) -> list[str]:
    """42703: a double-quoted string, a select-list alias in WHERE, or the names meant."""
    error = failure.error
    position = error.position
    if position is not None and failure.sql[position - 1 : position] == '"':
        name = failure.quoted_names()[0] if failure.quoted_names() else ""
        same = [c.name for t in failure.tables for c in t.columns if c.name.lower() == name.lower()]
        if same:
            return [
                f'names in double quotes keep their case: write {same[0]} (or "{same[0]}"), '
                f'not "{name}"'
            ]
        return [
            f'"{name}" in double quotes is a column name in PostgreSQL; write the string in '
            f"single quotes: '{name}'" + _domain_of_string(failure, name)
        ]
    found = unknown_name_at(failure.sql, position, failure.message)
    if not found:
        return []
    parts = split_name(found)
    name = parts[-1] if parts else found
    alias = _select_alias(failure, name)
    if alias is not None:
        return [alias]
    if len(parts) == 1 and name.lower() == "interval":  # INTERVAL(30 DAY)
        return [interval_hint()]
    foreign = foreign_column_hint(name) if len(parts) == 1 else None
    if foreign is not None:
        return [foreign]
    quoted_fix = string_argument(failure.sql, position, name) if len(parts) == 1 else None
    if quoted_fix is not None:
        return [quoted_fix]
    if failure.catalog is None:
        return []
    owners = failure.catalog.value_owners.get(name.lower())
    if owners and len(parts) == 1:
        return [
            f"{name} is a value of {' and '.join(owners[:2])}, not a column: write it in single "
            f"quotes, '{name}'"
        ]
    unit = unit_alone(failure, name) if len(parts) == 1 else None
    qualified = _source_table(failure, parts[0]) if len(parts) == 2 else None
    known = column_hint(found, failure.tables, failure.catalog, qualified=qualified)
    return [hint for hint in (unit, known) if hint]


def _source_table(failure: Failure, alias: str) -> TableInfo | None:
    """The catalog's table the query reads under `alias` (``a`` in ``JOIN adjusters a``)."""
    tree = failure.tree
    if tree is None or failure.catalog is None:
        return None
    for select in tree.find_all(exp.Select):
        for name, source in sources(select):
            if name == alias and isinstance(source, exp.Table):
                return failure.catalog.find(
                    f"{source.db}.{source.name}" if source.db else source.name
                )
    return None


def _domain_of_string(failure: Failure, value: str) -> str:
    """`` ('x' is not a value of t.c: …)`` when the string compared to a column is outside its
    domain."""
    tree = failure.tree
    if tree is None:
        return ""
    for node in tree.find_all(exp.EQ, exp.NEQ):
        for this, other in ((node.this, node.expression), (node.expression, node.this)):
            if (
                isinstance(other, exp.Column)
                and other.name == value
                and isinstance(this, exp.Column)
            ):
                found = failure.column(this.name)
                domain = found[1].domain if found else None
                miss = domain.miss(value, "=") if domain else None
                if found and domain and miss:
                    fix = f"; did you mean {quoted(miss.fix)}?" if miss.fix else ""
                    return f" ({found[0].shown_name}.{this.name} is {domain.describe(value)}{fix})"
    return ""


def _select_alias(failure: Failure, name: str) -> str | None:
    """A select-list alias used where PostgreSQL cannot see it: in WHERE or HAVING, or inside
    an expression of ORDER BY (where an alias may only stand alone)."""
    tree = failure.tree
    if tree is None:
        return None
    for select in tree.find_all(exp.Select):
        aliases = {
            fold(item.args["alias"]): item.this
            for item in select.expressions
            if isinstance(item, exp.Alias) and item.args.get("alias") is not None
        }
        if name not in aliases:
            continue
        for clause in ("where", "having"):
            part = select.args.get(clause)
            if part is not None and any(
                c.name == name and not c.table for c in part.find_all(exp.Column)
            ):
                expression = aliases[name].sql(dialect="postgres")
                return (
                    f"{name} is an alias of the select list, which {clause.upper()} cannot "
                    f"see: repeat the expression ({_clip(expression)}) in {clause.upper()}, or "
                    f"wrap the query: SELECT * FROM (SELECT …) AS s WHERE {name} …"
                )
        order = select.args.get("order")
        if order is not None and _alias_in_expression(order, name):
            return _order_alias(order, name, aliases)
    return None


def _alias_in_expression(order: exp.Order, name: str) -> bool:
    return any(
        not isinstance(ordered.this, exp.Column)
        and any(c.name == name and not c.table for c in ordered.this.find_all(exp.Column))
        for ordered in order.expressions
    )


def _order_alias(order: exp.Order, name: str, aliases: dict[str, exp.Expr]) -> str:
    """``ORDER BY total / n`` → ``ORDER BY SUM(amount_approved) / COUNT(*)``."""

    def expand(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Column) and not node.table and node.name in aliases:
            return exp.paren(aliases[node.name].copy(), copy=False)
        return node

    fixed = [
        ordered if isinstance(ordered.this, exp.Column) else ordered.transform(expand)
        for ordered in order.expressions
    ]
    shown = ", ".join(o.sql(dialect="postgres") for o in fixed)
    shown = re.sub(r"\(((?:[\w.]+)?\([^()]*\))\)", r"\1", shown)  # (SUM(x)) → SUM(x)
    return (
        f"{name} is an alias of the select list: ORDER BY takes an alias only alone, not in an "
        f"expression; repeat the expressions, ORDER BY {_clip(shown, 300)}, or wrap the query: "
        f"SELECT * FROM (SELECT …) AS s ORDER BY …"
    )


def undefined_table(failure: Failure) -> list[str]:
    """42P01: a JSON column used as a table (``details.channel``), a table missing from FROM,
    or the table meant."""
    names = failure.quoted_names()
    if not names or failure.catalog is None:
        return []
    name = names[0]
    if failure.message.startswith("missing FROM-clause entry"):
        return _missing_from(failure, name)
    recursive = with_item(failure, name)
    if recursive is not None:  # the name is the query's own: the table list would be noise
        return [recursive]
    return [table_hint(name, failure.catalog)]


def _missing_from(failure: Failure, name: str) -> list[str]:
    catalog = failure.catalog
    assert catalog is not None
    nested = re.search(rf"\b(\w+)\s*\.\s*{re.escape(name)}\s*\.\s*(\w+)", failure.sql)
    if nested is not None:
        outer = failure.column(nested.group(1))
        if outer is not None and outer[1].type.startswith("json"):
            column, key = nested.group(1), nested.group(2)
            access = f"{column}->'{name}'->>'{key}'"
            return [
                f"{column} is a {outer[1].type} column: write {access}, not {column}.{name}.{key}"
            ]
    found = failure.column(name)
    if found is not None and found[1].type.startswith("json"):
        key = _member_after(failure, name)
        if key:
            hint = json_key_hint(key, [found[0]])
            access = f"{name}->>'{key}'"
            return [hint or f"{name} is a {found[1].type} column: write {access}, not {name}.{key}"]
        return [f"{name} is a {found[1].type} column: read its keys with {name}->>'key'"]
    table = catalog.find(name)
    tree = failure.tree
    aliases = [alias for s in tree.find_all(exp.Select) for alias, _ in sources(s)] if tree else []
    if table is not None and table.name not in aliases:
        return [
            f"{table.shown_name} is not in the FROM clause: add it (JOIN {table.shown_name} …) or "
            f"use the alias the query gave it ({', '.join(a for a in aliases if a) or 'none'})"
        ]
    known = [a for a in aliases if a]
    if known:
        return [f"{name} is not a table or alias of this query; its aliases are {', '.join(known)}"]
    return [table_hint(name, catalog)]


def _member_after(failure: Failure, name: str) -> str | None:
    match = re.search(rf'\b{re.escape(name)}\s*\.\s*"?(\w+)', failure.sql)
    return match.group(1) if match else None


def ambiguous_column(failure: Failure) -> list[str]:
    """42702: the qualified candidates."""
    names = failure.quoted_names()
    tree = failure.tree
    if not names or tree is None or failure.catalog is None:
        return []
    name = names[0]
    candidates: list[str] = []
    for select in tree.find_all(exp.Select):
        for alias, source in sources(select):
            if isinstance(source, exp.Table):
                table = failure.catalog.find(source.name)
                if table and any(c.name == name for c in table.columns) and alias:
                    candidates.append(f"{alias}.{name}")
    candidates = list(dict.fromkeys(candidates))
    if len(candidates) < 2:
        return [f"qualify {name} with its table's alias, e.g. t.{name}"]
    return [f"qualify the column: {' or '.join(candidates)}"]


def grouping(failure: Failure) -> list[str]:
    """42803: a column missing from GROUP BY, an aggregate in WHERE."""
    message = failure.message
    if "must appear in the GROUP BY clause" in message:
        names = failure.quoted_names()
        name = names[0] if names else "the column"
        return [
            f"add {name} to GROUP BY (GROUP BY …, {name}), or aggregate it, e.g. max({name}) "
            "or count(DISTINCT …)"
        ]
    if "aggregate functions are not allowed in WHERE" in message:
        return [
            "filter on aggregates with HAVING after GROUP BY (… GROUP BY x HAVING count(*) > 1), "
            "or compute them in a subquery"
        ]
    if "aggregate function calls cannot be nested" in message:
        return ["compute the inner aggregate in a subquery, then aggregate its result"]
    return []


def windowing(failure: Failure) -> list[str]:
    """42P20: a window function where it cannot be."""
    return [
        "compute the window function in a subquery or CTE and filter on its alias outside: "
        "SELECT * FROM (SELECT …, row_number() OVER (…) AS rn FROM …) AS s WHERE rn <= 5"
    ]


def cardinality(failure: Failure) -> list[str]:
    """21000: a subquery used as a value returned several rows."""
    return [
        "a subquery used as a value must return one row: use IN (SELECT …) or = ANY (…), "
        "or aggregate it (max, count), or add ORDER BY … LIMIT 1"
    ]


def division(failure: Failure) -> list[str]:
    """22012."""
    return ["guard the divisor: x / NULLIF(y, 0) gives NULL instead of an error"]


def distinct_order(failure: Failure) -> list[str]:
    """42P10."""
    if "SELECT DISTINCT" in failure.message:
        return [
            "add the ORDER BY expression to the select list, or use GROUP BY instead of DISTINCT"
        ]
    return []


def mismatch(failure: Failure) -> list[str]:
    """42804: branches or arguments of different types."""
    message = failure.message
    if "cannot be matched" in message:
        return ["cast every branch to one type, e.g. x::text (or NULL::numeric)"]
    recursive = recursive_types(failure)
    if recursive is not None:
        return [recursive]
    if "must be type boolean" in message:
        joined = conditions_hint(failure.tree) if failure.tree is not None else None
        if joined is not None and message.startswith(("argument of OR", "argument of AND")):
            return [joined]
        text = _text_as_condition(failure)
        if text is not None:
            return [text]
        return ["WHERE, HAVING and ON need a condition, e.g. col = 1 or col IS NOT NULL"]
    return []


def _text_as_condition(failure: Failure) -> str | None:
    """``WHERE details->>'injuries'``: a JSON key read as text where a condition belongs."""
    tree = failure.tree
    where = tree.find(exp.Where) if tree is not None else None
    test = where.this if where is not None else None
    while isinstance(test, exp.Paren):
        test = test.this
    if not isinstance(test, exp.JSONExtractScalar | exp.JSONBExtractScalar):
        return None
    access = test.sql(dialect="postgres").replace(" ->> ", "->>").replace(" -> ", "->")
    return (
        f"{access} is text, not a condition: for a JSON boolean write ({access})::boolean (or "
        f"{access} = 'true'); to test that the key is there, {access} IS NOT NULL"
    )


RULES: dict[str, Rule] = {
    "42703": undefined_column,
    "42P01": undefined_table,
    "42702": ambiguous_column,
    "42883": undefined_function,
    "42803": grouping,
    "42P20": windowing,
    "22P02": invalid_text,
    "22007": datetime,
    "22008": datetime,
    "21000": cardinality,
    "22012": division,
    "42P10": distinct_order,
    "42804": mismatch,
    "42601": syntax,
    "42809": syntax,
    "22023": time_zone,
    "0A000": unsupported,
}


def postgres_hints(failure: Failure) -> list[str]:
    rule = RULES.get(failure.error.sqlstate or "")
    return rule(failure) if rule is not None else []


def _clip(text: str, most: int = 120) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"
