"""Hints for values of the wrong type: operators and functions PostgreSQL has no version of
for the types given (42883), text it cannot read as the type wanted (22P02, 22007, 22008).

Pure; rules of postgres.py's table, on PostgreSQL's English messages.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from sqlglot import exp

from sqlgateway.catalog.spelling import json_access, like_regex, quoted, ranked_values, reformat
from sqlgateway.catalog.suggest import json_path
from sqlgateway.hints.failure import NUMBER_TYPES, TEXT_TYPES, TIME_TYPES, Failure
from sqlgateway.hints.lists import MAX_SHOWN_VALUES, conditions_hint
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
        return [f"cast the arguments of {name}() to the types it takes, e.g. x::numeric or x::text"]
    return []


def _operator_hint(failure: Failure, left: str, op: str, right: str) -> list[str]:
    if op in ("->>", "->") and left in TEXT_TYPES:
        return [
            "->> gives text, which has no keys: use -> for every key but the last, e.g. "
            "details->'vehicle'->>'make'"
        ]
    if op in ("~~", "~~*", "!~~", "!~~*"):
        return [_like_hint(failure, left)]
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
    if op == "+" and (left in TEXT_TYPES or right in TEXT_TYPES):
        return ["|| concatenates strings in PostgreSQL, not +: 'CLM-' || claim_id"]
    json = _json_comparison(failure, right)
    if json:
        return [json]
    if left in TEXT_TYPES and right in (*NUMBER_TYPES, "boolean"):
        return _text_compared_with(failure, right)
    if right in TEXT_TYPES and left in NUMBER_TYPES:
        return [f"cast one side so both are {left} (or both text), e.g. x::{left} or x::text"]
    return [f"cast one side so that {left} {op} {right} becomes one type, e.g. x::text"]


_TEXT_LIKE = ("text", "character", "varchar", "char", "citext", "name")
_DATE_PREFIX = re.compile(r"(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?-?%")


def _like_hint(failure: Failure, type_name: str) -> str:
    """LIKE on a value that is not text: for a time, the range a date prefix means; for an
    enum, the labels the pattern matches; otherwise the cast to text. Names the attempt's own
    column and pattern."""
    found = _like_of(failure)
    if found is None:
        return (
            f"LIKE needs text: cast the column, e.g. col::text LIKE '…' ({type_name} is not text)"
        )
    value, name, pattern, node = found
    negated = bool(node.args.get("negate")) or isinstance(node.parent, exp.Not)
    operator = ("NOT " if negated else "") + ("ILIKE" if isinstance(node, exp.ILike) else "LIKE")
    cast = f"{value}::text {operator} {quoted(pattern)}"
    if type_name.startswith(TIME_TYPES):
        bounds = _date_prefix_range(pattern)
        if bounds is not None and not negated:
            start, end = bounds
            index = " (this keeps the index usable)" if name is not None else ""
            return (
                f"{value} is {type_name}, not text: compare a range, {value} >= '{start}' AND "
                f"{value} < '{end}'{index}"
            )
        if bounds is not None:
            start, end = bounds
            return (
                f"{value} is {type_name}, not text: compare a range, {value} < '{start}' OR "
                f"{value} >= '{end}'"
            )
        return (
            f"{value} is {type_name}, not text: compare a range (col >= '2025-01-01' AND col < "
            f"'2026-01-01'), or format it first, to_char({value}, 'YYYY-MM-DD') {operator} "
            f"{quoted(pattern)}"
        )
    column = failure.column(name) if name is not None else None
    labels = column[1].enum_values if column is not None else ()
    if labels:
        regex = like_regex(pattern, isinstance(node, exp.ILike))
        matching = [label for label in labels if regex is not None and regex.fullmatch(label)]
        if matching:
            listed = ", ".join(quoted(label) for label in matching[:MAX_SHOWN_VALUES])
            inside = "NOT IN" if negated else "IN"
            return (
                f"{value} is an enum ({type_name}): list the labels the pattern means, "
                f"{value} {inside} ({listed}), or cast it, {cast}"
            )
        return (
            f"{value} is an enum ({type_name}) and no label matches {quoted(pattern)}: it takes "
            f"one of {', '.join(quoted(label) for label in labels)}"
        )
    return f"{value} is {type_name}, not text: cast it, {cast}"


def _like_of(failure: Failure) -> tuple[str, str | None, str, exp.Expr] | None:
    """(the value matched, as SQL; its column's name, if a column; the pattern; the LIKE node)
    of the first LIKE/ILIKE with a string pattern whose value is not a text column: the one
    PostgreSQL refused."""
    tree = failure.tree
    if tree is None:
        return None
    for node in tree.find_all(exp.Like, exp.ILike):
        value, pattern = node.this, node.expression
        while isinstance(value, exp.Paren):
            value = value.this
        if not isinstance(pattern, exp.Literal) or not pattern.is_string:
            continue
        if isinstance(value, exp.Column):
            found = failure.column(value.name)
            if found is not None and found[1].type.startswith(_TEXT_LIKE):
                continue  # LIKE on text is not what PostgreSQL refused
            return value.sql(dialect="postgres"), value.name, str(pattern.this), node
        return value.sql(dialect="postgres"), None, str(pattern.this), node
    return None


def _date_prefix_range(pattern: str) -> tuple[str, str] | None:
    """The [start, end) dates a LIKE pattern such as ``'2025%'``, ``'2025-03%'`` or
    ``'2025-03-14%'`` means (dates as text are zero-padded, so ``'2025-06-1%'`` is days 10 to
    19: not a prefix of whole units); None for any other pattern or an impossible date."""
    match = _DATE_PREFIX.fullmatch(pattern)
    if match is None:
        return None
    year = int(match.group(1))
    month, day = (int(part) if part else None for part in match.groups()[1:])
    try:
        if month is None:
            return f"{year}-01-01", f"{year + 1}-01-01"
        if day is None:
            start = date(year, month, 1)
            end = date(year + month // 12, month % 12 + 1, 1)
        else:
            start = date(year, month, day)
            end = start + timedelta(days=1)
    except ValueError:
        return None
    return start.isoformat(), end.isoformat()


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


def _json_comparison(failure: Failure, right: str) -> str | None:
    tree = failure.tree
    if tree is None:
        return None
    kinds = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)
    extracts = (
        exp.JSONExtractScalar,
        exp.JSONBExtractScalar,
        exp.JSONExtract,
        exp.JSONBExtract,
    )
    for node in tree.find_all(*kinds):
        left = node.this
        while isinstance(left, exp.Paren):
            left = left.this
        if isinstance(left, extracts):
            nested = _nested_key(failure, left)
            if nested is not None:
                return nested
            if isinstance(left, exp.JSONExtract | exp.JSONBExtract):
                left = exp.JSONExtractScalar(this=left.this, expression=left.expression)
            access = left.sql(dialect="postgres")
            cast = "boolean" if right == "boolean" else "numeric" if right == "numeric" else "int"
            operator = _SYMBOLS.get(type(node), "=")
            value = node.expression.sql(dialect="postgres")
            fix = f"({access})::{cast} {operator} {value}"
            extra = ""
            if right == "boolean":
                column = left.this.sql(dialect="postgres")
                key = left.expression.sql(dialect="postgres").strip("'")
                extra = f", or test containment: {column} @> '{{\"{key}\": {value.lower()}}}'"
            return f"->> gives text (-> gives json): cast it before comparing with a {right}: {fix}{extra}"
    return None


def json_key(access: exp.Expr) -> str | None:
    """The key an ``->``/``->>`` access reads (sqlglot keeps it as a JSON path or a string)."""
    key = access.args.get("expression")
    if isinstance(key, exp.JSONPath):
        steps = [step for step in key.expressions if isinstance(step, exp.JSONPathKey)]
        return str(steps[-1].this) if steps else None
    if isinstance(key, exp.Literal) and key.is_string:
        return str(key.this)
    return None


def _nested_key(failure: Failure, access: exp.Expr) -> str | None:
    """``model_year is a key of details' vehicle`` when a top-level access names a key that
    the column's documented examples hold deeper down."""
    column = access.this
    key = json_key(access)
    if not isinstance(column, exp.Column) or key is None:
        return None
    found = failure.column(column.name)
    if found is None:
        return None
    path = json_path(key, found[1])
    if path is None or len(path) < 2:
        return None
    return (
        f"{key} is inside the {path[-2]} object of {column.name}: write "
        f"{json_access(column.name, path)} (cast it, e.g. ::int, to compare with a number)"
    )


_SYMBOLS: dict[type[exp.Expr], str] = {
    exp.EQ: "=",
    exp.NEQ: "<>",
    exp.GT: ">",
    exp.GTE: ">=",
    exp.LT: "<",
    exp.LTE: "<=",
}


def _text_compared_with(failure: Failure, kind: str) -> list[str]:
    tree = failure.tree
    if tree is not None:
        for node in tree.find_all(*_SYMBOLS):
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


_JSON_ACCESS = (exp.JSONExtract, exp.JSONExtractScalar, exp.JSONBExtract, exp.JSONBExtractScalar)


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
            if isinstance(parent, exp.Binary) and isinstance(access, _JSON_ACCESS):
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
