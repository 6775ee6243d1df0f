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
from sqlgateway.hints.dialects import foreign_column_hint
from sqlgateway.hints.failure import TIME_TYPES, Failure, Rule
from sqlgateway.hints.lists import array_hint, conditions_hint
from sqlgateway.hints.types import datetime, invalid_text, undefined_function


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
    foreign = foreign_column_hint(name) if len(parts) == 1 else None
    if foreign is not None:
        return [foreign]
    quoted_fix = _string_argument(failure.sql, position, name) if len(parts) == 1 else None
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
    unit = _unit_alone(failure, name) if len(parts) == 1 else None
    return [hint for hint in (unit, column_hint(name, failure.tables, failure.catalog)) if hint]


#: Fields of date_trunc/date_part/extract, which PostgreSQL takes as strings ('month').
DATE_UNITS = frozenset(
    {
        *("microsecond", "millisecond", "second", "minute", "hour", "day", "week", "month"),
        *("quarter", "year", "decade", "century", "millennium", "dow", "doy", "isodow"),
        *("isoyear", "epoch", "julian", "timezone", "timezone_hour", "timezone_minute"),
    }
)
_UNIT_PLURALS = {"centuries": "century", "millennia": "millennium", "millenniums": "millennium"}
#: Functions whose first argument is a date unit, and those whose second is a format.
_UNIT_FUNCTIONS = frozenset({"date_trunc", "date_part"})
_FORMAT_FUNCTIONS = frozenset({"to_char", "to_date", "to_timestamp", "to_number"})
#: Farthest back (characters) the call around an unknown name is looked for.
_CALL_REACH_CHARS = 2_000


def date_unit(name: str) -> str | None:
    """``month`` for Month, MONTHS…; None if `name` is no date unit."""
    word = name.lower()
    word = _UNIT_PLURALS.get(word, word)
    if word not in DATE_UNITS and word.endswith("s") and word[:-1] in DATE_UNITS:
        word = word[:-1]
    return word if word in DATE_UNITS else None


def _string_argument(sql: str, position: int | None, name: str) -> str | None:
    """``date_trunc('month', reported_at)``: a date unit or format written as a name, in the
    call of date_trunc, date_part, to_char… around `position`, quoted (a unit comes first)."""
    call = _call_around(sql, position) if position is not None else None
    if call is None:
        return None
    function, arguments, at = call
    bare = function.rsplit(".", 1)[-1].lower()
    unit = date_unit(name)
    if bare in _UNIT_FUNCTIONS and unit is not None and date_unit(arguments[at]) == unit:
        others = [a for i, a in enumerate(arguments) if i != at]
        fixed = f"{function}({', '.join([quoted(unit), *others])})"
        return f"the unit of {function}() is a string, not a name: write {_clip(fixed)}"
    if bare in _FORMAT_FUNCTIONS and at == 1 and re.fullmatch(r"[\w :/.,-]+", arguments[1]):
        # the SQL that ran is the guard's rendering: YYYY-MM came back as YYYY - MM
        pattern = re.sub(r"\s*([-/:.])\s*", r"\1", arguments[1])
        shown = [*arguments[:1], quoted(pattern), *arguments[2:]]
        fixed = f"{function}({', '.join(shown)})"
        return f"the format of {function}() is a string, not a name: write {_clip(fixed)}"
    return None


def _call_around(sql: str, position: int) -> tuple[str, list[str], int] | None:
    """The function call whose argument list holds the character at `position` (1-based), as
    (its name as written, its arguments' texts, the index of the argument there)."""
    depth, quote, start = 0, False, position - 2
    while start >= max(0, position - _CALL_REACH_CHARS):
        char = sql[start]
        if char == "'":
            quote = not quote
        elif not quote and char == ")":
            depth += 1
        elif not quote and char == "(":
            if depth == 0:
                break
            depth -= 1
        start -= 1
    else:
        return None
    named = re.search(r"([A-Za-z_][\w.]*)\s*$", sql[max(0, start - 100) : start])
    if named is None:
        return None
    arguments: list[str] = []
    piece, depth, quote, at = "", 0, False, -1
    for index in range(start + 1, min(len(sql), start + _CALL_REACH_CHARS)):
        char = sql[index]
        if index == position - 1:
            at = len(arguments)
        if char == "'":
            quote = not quote
        elif not quote and char == "(":
            depth += 1
        elif not quote and char == ")" and depth == 0:
            arguments.append(piece.strip())
            return (named.group(1), arguments, at) if at >= 0 else None
        elif not quote and char == ")":
            depth -= 1
        elif not quote and char == "," and depth == 0:
            arguments.append(piece.strip())
            piece = ""
            continue
        piece += char
    return None


def _unit_alone(failure: Failure, name: str) -> str | None:
    """For a date unit used as a column: how to get that part of a timestamp column."""
    unit = date_unit(name)
    if unit is None:
        return None
    times = [c.name for t in failure.tables for c in t.columns if c.type.startswith(TIME_TYPES)]
    column = times[0] if times else "ts"
    return (
        f"{name} is no column; date units are strings in PostgreSQL: for the {unit} of a "
        f"timestamp write date_trunc('{unit}', {column}) or extract({unit} FROM {column})"
    )


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
    return None


def undefined_table(failure: Failure) -> list[str]:
    """42P01: a JSON column used as a table (``details.channel``), a table missing from FROM,
    or the table meant."""
    names = failure.quoted_names()
    if not names or failure.catalog is None:
        return []
    name = names[0]
    if failure.message.startswith("missing FROM-clause entry"):
        return _missing_from(failure, name)
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
    if "must be type boolean" in message:
        joined = conditions_hint(failure.tree) if failure.tree is not None else None
        if joined is not None and message.startswith(("argument of OR", "argument of AND")):
            return [joined]
        return ["WHERE, HAVING and ON need a condition, e.g. col = 1 or col IS NOT NULL"]
    return []


def syntax(failure: Failure) -> list[str]:
    """42601 (what the guard's parser read but PostgreSQL did not), 42809: a list where
    one array belongs (``= ANY('a', 'b')``), an array where a list belongs (``IN ARRAY[…]``)."""
    tree = failure.tree
    if tree is None:
        return []
    found = array_hint(tree) or _is_value(tree)
    return [found] if found is not None else []


_TRUTHS = {"true": "TRUE", "t": "TRUE", "1": "TRUE", "false": "FALSE", "f": "FALSE", "0": "FALSE"}


def _is_value(tree: exp.Expr) -> str | None:
    """``status IS 'paid'``: IS tests NULL, true and false only; values are compared with =."""
    for node in tree.find_all(exp.Is):
        value = node.expression
        if not isinstance(value, exp.Literal):
            continue
        column, shown = node.this.sql(dialect="postgres"), value.sql(dialect="postgres")
        negated = isinstance(node.parent, exp.Not)
        truth = str(value.this).strip().lower()
        if truth in _TRUTHS:
            written = f"IS {'NOT ' if negated else ''}{_TRUTHS[truth]}"
            return f"TRUE and FALSE are written without quotes: {column} {written}"
        operator, distinct = (
            ("<>", "IS DISTINCT FROM") if negated else ("=", "IS NOT DISTINCT FROM")
        )
        return (
            f"IS only tests NULL, TRUE or FALSE: compare a value with {operator}, "
            f"{column} {operator} {shown} (or {column} {distinct} {shown} to treat NULL as a value)"
        )
    return None


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
}


def postgres_hints(failure: Failure) -> list[str]:
    rule = RULES.get(failure.error.sqlstate or "")
    return rule(failure) if rule is not None else []


def _clip(text: str, most: int = 120) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"
