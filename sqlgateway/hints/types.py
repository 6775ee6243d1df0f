"""Hints for values of the wrong type: operators and functions PostgreSQL has no version of
for the types given (42883), text it cannot read as the type wanted (22P02, 22007, 22008).

Pure; rules of postgres.py's table, on PostgreSQL's English messages.
"""

from __future__ import annotations

import re

from sqlglot import exp

from sqlgateway.catalog.spelling import quoted, ranked_values, reformat
from sqlgateway.hints.failure import COMPARISONS, NUMBER_TYPES, TEXT_TYPES, TIME_TYPES, Failure
from sqlgateway.hints.json_types import (
    JSON_ACCESS,
    json_cast_to,
    json_comparison,
    json_key,
    json_value_hint,
    key_values,
)
from sqlgateway.hints.like import like_hint
from sqlgateway.hints.lists import conditions_hint
from sqlgateway.hints.notices import conventions_about

_OPERATOR = re.compile(r"operator does not exist: (.+) ([^\w\s]+) (.+)$")
_FUNCTION = re.compile(r"function (\w+)\((.*)\) does not exist")
_ENUM = re.compile(r'invalid input value for enum (\S+): "(.*)"')
_SYNTAX_FOR = re.compile(r'invalid input syntax for type ([\w ]+?)(?:: "(.*)"|$| \()')


def undefined_function(failure: Failure) -> list[str]:
    """42883: operators and functions called with the wrong types."""
    message = failure.message
    operator = _OPERATOR.search(message)
    if operator is not None:
        left, op, right = operator.groups()
        return _operator_hint(failure, left.strip(), op, right.strip())
    function = _FUNCTION.search(message)
    if function is not None:
        name, arguments = function.groups()
        if name == "round" and "double precision" in arguments:
            return [
                "round(x, n) needs numeric: cast the value, round(x::numeric, 2) "
                "(avg, extract and division of floats give double precision)"
            ]
        first = arguments.split(",")[0].strip()
        timely = _ON_TIMES.get(name.lower()) if first.startswith(TIME_TYPES) else None
        if timely is not None:
            return [timely.format(arg=_argument(failure, name) or "x")]
        return [f"cast the arguments of {name}() to the types it takes, e.g. x::numeric or x::text"]
    return []


#: Functions on text or numbers that other databases call on a date or time (Oracle's habits).
_ON_TIMES = {
    "trunc": "trunc() truncates numbers; for dates and times write date_trunc('month', {arg}) "
    "(units: day, week, month, quarter, year)",
    "to_date": "to_date() reads text; {arg} is already a date or time: write {arg}::date",
    "to_timestamp": "to_timestamp() reads text or epoch seconds; {arg} is already a time: "
    "use it as it is, or date_trunc('second', {arg})",
    "to_number": "to_number() reads text; for a part of a date or time write "
    "extract(year FROM {arg})",
    "round": "round() rounds numbers; for dates and times write date_trunc('day', {arg})",
}


def _argument(failure: Failure, name: str) -> str | None:
    """The first argument of the first call of `name` (as written in PostgreSQL: sqlglot
    names some calls its own way, TO_DATE as StrToDate)."""
    tree = failure.tree
    if tree is None:
        return None
    for call in tree.find_all(exp.Func):
        if not call.sql(dialect="postgres").lower().startswith(f"{name.lower()}("):
            continue
        first = call.expressions[0] if isinstance(call, exp.Anonymous) else call.this
        if isinstance(first, exp.Expr):
            return first.sql(dialect="postgres")
    return None


def _operator_hint(failure: Failure, left: str, op: str, right: str) -> list[str]:
    if op in ("->>", "->") and left in TEXT_TYPES:
        return [
            "->> gives text, which has no keys: use -> for every key but the last, e.g. "
            "details->'vehicle'->>'make'"
        ]
    if op in ("~~", "~~*", "!~~", "!~~*"):
        return [like_hint(failure, left)]
    enum = _enum_column(failure, left)
    if enum is not None and right in TEXT_TYPES:
        return [
            f"{enum} is an enum: compare it with string literals (IN ('a', 'b')), or cast it, "
            f"{enum.rpartition('.')[2]}::text = …"
        ]
    if op in ("+", "-") and (left.startswith(TIME_TYPES) and right in NUMBER_TYPES):
        number = _number_after(failure, op) or "30"
        return [
            f"add or subtract an interval, not a number: {op} interval '{number} days' "
            f"(or make_interval(days => {number}))"
        ]
    if left == "interval" and right in NUMBER_TYPES:
        number = _number_after(failure, op) or "30"
        return [
            f"compare an interval with an interval: {op} interval '{number} days', or count "
            "days with extract(epoch FROM a - b) / 86400"
        ]
    if "interval" in (left, right) and "integer" in (left, right) and op in COMPARISONS.values():
        written = re.search(r"\d+", _interval_after(failure) or "") if right == "interval" else None
        days = written.group(0) if written else "30"
        return [
            f"date - date is a number of days in PostgreSQL, not an interval: compare it with "
            f"a number, e.g. end_date - start_date {op} {days} (timestamps subtract to intervals)"
        ]
    if "boolean" in (left, right) and ({left, right} & set(NUMBER_TYPES)) and op in ("=", "<>"):
        return [
            "a boolean is TRUE or FALSE, not 1 or 0: write x = TRUE (or just x; NOT x for false), "
            "or x::int = 1"
        ]
    if op == "+" and (left in TEXT_TYPES or right in TEXT_TYPES):
        return ["|| concatenates strings in PostgreSQL, not +: 'CLM-' || claim_id"]
    json = json_comparison(failure, right)
    if json:
        return [json]
    if left in TEXT_TYPES and right in (*NUMBER_TYPES, "boolean"):
        return _text_compared_with(failure, right)
    if right in TEXT_TYPES and left in NUMBER_TYPES:
        return [f"cast one side so both are {left} (or both text), e.g. x::{left} or x::text"]
    return [f"cast one side so that {left} {op} {right} becomes one type, e.g. x::text"]


def _interval_after(failure: Failure) -> str | None:
    """The text of the interval literal at the error's position."""
    position = failure.error.position
    if position is None:
        return None
    match = re.match(r"\s*[<>=!]+\s*(interval\s*'[^']*')", failure.sql[position - 1 :], re.I)
    return match.group(1) if match else None


def _enum_column(failure: Failure, type_name: str) -> str | None:
    for table in failure.tables:
        for column in table.columns:
            if column.enum_values and column.type == type_name:
                return f"{table.shown_name}.{column.name}"
    return None


def _number_after(failure: Failure, op: str) -> str | None:
    position = failure.error.position
    if position is None:
        return None
    match = re.match(r"\s*[-+<>=!]+\s*(\d+)", failure.sql[position - 1 :])
    return match.group(1) if match else None


def _text_compared_with(failure: Failure, kind: str) -> list[str]:
    tree = failure.tree
    if tree is not None:
        for node in tree.find_all(*COMPARISONS):
            column, literal = node.this, node.expression
            if not isinstance(column, exp.Column):
                column, literal = literal, column
            if not isinstance(column, exp.Column) or not isinstance(literal, exp.Literal):
                continue
            found = failure.column(column.name)
            if found is None:
                continue
            table, info = found
            value = str(literal.this)
            domain = info.domain
            examples = [e for e in info.examples if isinstance(e, str)]
            fix = reformat(value, domain.accepts, domain.examples) if domain else None
            shown = quoted(fix or value)
            seen = (
                f" (values look like {', '.join(quoted(e) for e in examples[:2])})"
                if examples
                else ""
            )
            return [
                f"{table.shown_name}.{info.name} is {info.type}: compare it with a quoted "
                f"string, {info.name} = {shown}{seen}"
            ]
    return [f"compare text with a quoted string ('…'), or cast the column to {kind}"]


def invalid_text(failure: Failure) -> list[str]:
    """22P02: an enum label that does not exist, or text where a number was expected."""
    message = failure.message
    enum = _ENUM.search(message)
    if enum is not None:
        return _enum_hint(failure, enum.group(1), enum.group(2))
    found = _SYNTAX_FOR.search(message)
    if "malformed array literal" in message and "ARRAY[" in failure.sql:
        return [
            "[name] is T-SQL quoting and PostgreSQL read it as an array: write the column bare "
            'or in double quotes ("name"), or resend the text with "dialect": "tsql"'
        ]
    if found is None:
        return []
    kind, value = found.group(1), found.group(2) or ""
    if kind in NUMBER_TYPES:
        return _not_a_number(failure, kind, value)
    if kind == "boolean":
        joined = conditions_hint(failure.tree, value) if failure.tree is not None else None
        if joined is not None:
            return [joined]
        return ["booleans are true or false (or 't'/'f'): compare with true, not a string"]
    if kind.startswith("json") and failure.tree is not None:
        for node in failure.tree.find_all(exp.EQ, exp.NEQ):
            if isinstance(node.this, exp.JSONExtract | exp.JSONBExtract) and isinstance(
                node.expression, exp.Literal
            ):
                inner = node.this.this.sql(dialect="postgres").replace(" -> ", "->")
                access = f"{inner}->>'{json_key(node.this)}'"
                return [
                    "-> gives json, which a string is not: use ->> for the last key to compare "
                    f"text, {access} = {node.expression.sql(dialect='postgres')}"
                    + key_values(failure, node.this, str(node.expression.this))
                ]
    if kind.startswith(("json", "uuid")):
        return [
            f"the string is not valid {kind}: write JSON with double-quoted keys, '{{\"k\": 1}}'"
        ]
    return datetime(failure)


def _enum_hint(failure: Failure, type_name: str, value: str) -> list[str]:
    catalog = failure.catalog
    labels: tuple[str, ...] = ()
    where = type_name
    if catalog is not None:
        for table in failure.tables or catalog.tables:
            for column in table.columns:
                if column.enum_values and column.type.split(".")[-1] == type_name.split(".")[-1]:
                    labels, where = column.enum_values, f"{table.shown_name}.{column.name}"
                    break
            if labels:
                break
    if not labels:
        return []
    ranked = ranked_values(value, labels)
    meant = ranked[0] if ranked and ranked[0].lower() == value.lower() else None
    head = f"did you mean {quoted(meant)}? labels are case-sensitive. " if meant else ""
    hint = f"{head}{where} ({type_name}) takes one of: {', '.join(quoted(v) for v in ranked)}"
    if catalog is not None and not meant:
        hint += "".join(f"; {text}" for text in conventions_about(value, catalog))
    return [hint]


def _not_a_number(failure: Failure, kind: str, value: str) -> list[str]:
    tree = failure.tree
    if tree is not None:
        for literal in tree.find_all(exp.Literal):
            if not literal.is_string or str(literal.this) != value:
                continue
            parent = literal.parent
            access = parent.parent if parent is not None else None
            while isinstance(access, exp.Paren):
                access = access.parent
            if isinstance(parent, exp.Cast) and isinstance(access, JSON_ACCESS):
                column = access.this.sql(dialect="postgres")
                cast = parent.to.sql(dialect="postgres").lower()
                return [
                    f":: binds tighter than ->>, so {column}->>'{value}'::{cast} casts the key's "
                    f"name: put the access in parentheses, ({column}->>'{value}')::{cast}"
                ]
            if isinstance(parent, exp.Binary) and isinstance(access, JSON_ACCESS):
                column = access.this.sql(dialect="postgres")
                return [
                    f"-> and ->> bind more loosely than arithmetic: put the key access in "
                    f"parentheses and cast it, ({column}->>'{value}')::numeric"
                ]
            if isinstance(parent, exp.Add):
                return ["|| concatenates strings in PostgreSQL, not +: 'CLM-' || claim_id"]
            if isinstance(parent, exp.Coalesce | exp.Case | exp.If | exp.Anonymous):
                return [
                    f"{quoted(value)} is text where a number ({kind}) is expected: cast the "
                    f"other values to text, e.g. coalesce(x::text, {quoted(value)})"
                ]
        cast_key = json_cast_to(tree, NUMBER_TYPES)
        if cast_key is not None:
            return [json_value_hint(failure, cast_key, kind, value)]
    holder = _column_with_value(failure, value)
    if holder is not None:
        return [f"{quoted(value)} looks like a value of {holder}: compare that column instead"]
    return [f"{quoted(value)} is not a number ({kind}): write a plain number, without quotes"]


def _column_with_value(failure: Failure, value: str) -> str | None:
    for table in failure.tables:
        for column in table.columns:
            domain = column.domain
            if domain is not None and domain.miss(value, "=") is None:
                return f"{table.shown_name}.{column.name}"
    return None


def datetime(failure: Failure) -> list[str]:
    """22007/22008: a date or time PostgreSQL cannot read."""
    found = _SYNTAX_FOR.search(failure.message)
    if found is not None and (found.group(2) or "").strip().lower() in ("", "null", "none"):
        return ["test for a missing value with IS NULL (col IS NULL), not = '' or = 'null'"]
    return [
        "write dates as 'YYYY-MM-DD' and times as 'YYYY-MM-DD HH:MM:SS+00'; for a whole year "
        "compare a range: col >= '2025-01-01' AND col < '2026-01-01'; relative times: "
        "timestamptz '…' - interval '30 days'"
    ]
