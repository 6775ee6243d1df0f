"""SQL written in another dialect, transpiled to PostgreSQL before the guard sees it.

Pure. sqlglot reads the text in the source dialect and writes PostgreSQL; anything it cannot
express in PostgreSQL is refused rather than approximated. The guard then checks the
transpiled text like any other, so a dialect never widens what may run.

A few habits sqlglot leaves as written (or writes wrongly) are rewritten on the way
(`_habits`): Oracle's ``WHERE ROWNUM <= n`` becomes ``LIMIT n``, ``FROM dual`` goes, T-SQL's
``+`` between strings becomes ``||``, JSON access is written with ``->``/``->>`` (which work on
``jsonb`` too, json_access.py), Oracle's truncation units (``TRUNC(d, 'MM')``) become
PostgreSQL's (``DATE_TRUNC('month', d)``), and ``TO_DATE(ts, 'YYYY-MM-DD')`` of a value that is
not a string becomes a cast to date; DuckDB's ``ARG_MAX(x, y)`` (Snowflake's ``MAX_BY``) becomes
``(ARRAY_AGG(x ORDER BY y DESC NULLS LAST))[1]``.

>>> to_postgres("SELECT TOP 3 claim_id FROM claims", "tsql")
'SELECT claim_id FROM claims LIMIT 3'
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Literal, get_args

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, ParseError, TokenError, UnsupportedError
from sqlglot.tokens import Tokenizer

from sqlgateway.errors import GuardError, RejectedError
from sqlgateway.guard.json_access import has_json_access, rewrite_json_access
from sqlgateway.guard.parse import MAX_NODES_BASE, MAX_NODES_PER_TOKEN
from sqlgateway.guard.syntax import clean_problem, syntax_error

__all__ = ["DEFAULT_DIALECT", "DIALECTS", "Dialect", "to_postgres"]

_TEXT_TYPES = frozenset(
    {
        exp.DType.TEXT,
        exp.DType.VARCHAR,
        exp.DType.NVARCHAR,
        exp.DType.CHAR,
        exp.DType.NCHAR,
    }
)

Dialect = Literal[
    "postgres", "mysql", "tsql", "sqlite", "bigquery", "snowflake", "duckdb", "oracle"
]
DIALECTS: tuple[str, ...] = get_args(Dialect)
DEFAULT_DIALECT = "postgres"

_HINT = "write the query in PostgreSQL (leave `dialect` out) or use only portable SQL"


def parse_bounded(sql: str, dialect: str) -> list[exp.Expr]:
    """The statements of `sql` in `dialect`, within the guard's parser work budget: sqlglot's
    parse time grows exponentially with some nestings (ARRAY[ARRAY[…]]: seconds at depth 16),
    and this runs before the guard, on the event loop."""
    source = sqlglot.Dialect.get_or_raise(dialect)
    tokens = _tokenizer(source, dialect).tokenize(sql)
    parser = source.parser(
        error_level=ErrorLevel.IMMEDIATE,
        max_nodes=MAX_NODES_BASE + MAX_NODES_PER_TOKEN * len(tokens),
    )
    try:
        return [tree for tree in parser.parse(tokens, sql) if tree is not None]
    except ParseError:
        if parser._node_count > parser.max_nodes:
            raise RejectedError(
                f"the {dialect} SQL is too complex to translate",
                construct="parser work limit",
                hint="simplify deeply nested constructs such as ARRAY[ARRAY[…]]",
            ) from None
        raise


_parse_cached = lru_cache(maxsize=512)(parse_bounded)
_THREAD = threading.local()


def _tokenizer(source: sqlglot.Dialect, dialect: str) -> Tokenizer:
    """One tokenizer per dialect and thread: building one costs more than tokenizing a
    short statement (guard/parse.py does the same for PostgreSQL)."""
    tokenizers: dict[str, Tokenizer] | None = getattr(_THREAD, "tokenizers", None)
    if tokenizers is None:
        tokenizers = _THREAD.tokenizers = {}
    found = tokenizers.get(dialect)
    if found is None:
        found = tokenizers[dialect] = source.tokenizer()
    return found


def to_postgres(sql: str, dialect: str, *, cache: bool = True) -> str:
    """`sql` in `dialect`, written as PostgreSQL. SQLSyntaxError when it does not parse in
    that dialect, RejectedError when it uses something PostgreSQL cannot express. `cache`
    False: the parse is not remembered (guesses on the error path, hints/dialects.py)."""
    if dialect == DEFAULT_DIALECT:
        return sql
    if dialect not in DIALECTS:
        raise RejectedError(
            f"unknown dialect {dialect!r}",
            construct="dialect",
            hint=f"use one of {', '.join(DIALECTS)}",
        )
    try:
        trees = (_parse_cached if cache else parse_bounded)(sql, dialect)
        for tree in trees:
            if isinstance(tree, exp.Command):
                raise UnsupportedError(f"{tree.name.upper()} statements")
        out = [
            _habits(tree, dialect).sql(dialect="postgres", unsupported_level=ErrorLevel.RAISE)
            for tree in trees
        ]
    except ParseError as error:
        raise _syntax_error(sql, dialect, error) from None
    except TokenError as error:
        raise syntax_error(
            sql, None, str(error).splitlines()[0], source=f" in {dialect} SQL", hint=_HINT
        ) from None
    except UnsupportedError as error:
        raise RejectedError(
            f"this {dialect} SQL cannot be translated to PostgreSQL: {error}",
            construct=f"{dialect} feature",
            hint=_HINT,
        ) from None
    except GuardError:
        raise  # the parser's work limit
    except Exception as error:
        # sqlglot's transforms fail in many ways (SqlglotError, RecursionError, ValueError,
        # TypeError from one given fewer arguments than it expects, e.g. T-SQL's
        # DATEDIFF(a, b)): each means the text cannot be translated, never a 500
        raise RejectedError(
            f"this {dialect} SQL cannot be translated to PostgreSQL ({type(error).__name__})",
            construct=f"{dialect} feature",
            hint=_HINT,
        ) from None
    # Several statements are joined so that the guard refuses them as it would in PostgreSQL.
    return ";\n".join(out)


#: MySQL's TIMESTAMPDIFF units counted in seconds (whole units, truncated toward zero).
_DIFF_SECONDS = {
    "SECOND": 1,
    "MINUTE": 60,
    "HOUR": 3600,
    "DAY": 86400,
    "WEEK": 604800,
}
#: …and those counted in months, from age().
_DIFF_MONTHS = {"MONTH": 1, "QUARTER": 3, "YEAR": 12}


def _diff_sql(node: exp.TimestampDiff) -> str | None:
    """MySQL's ``TIMESTAMPDIFF(unit, start, end)`` in PostgreSQL (sqlglot writes it back as
    a TIMESTAMPDIFF PostgreSQL does not have): whole units, truncated toward zero."""
    unit = node.args.get("unit")
    name = unit.name.upper() if isinstance(unit, exp.Var | exp.Identifier) else ""
    end, start = node.this, node.expression
    if not isinstance(end, exp.Expr) or not isinstance(start, exp.Expr):
        return None
    later, earlier = end.sql(dialect="postgres"), start.sql(dialect="postgres")
    if name in _DIFF_SECONDS:
        span = f"CAST({later} AS TIMESTAMP) - CAST({earlier} AS TIMESTAMP)"
        return f"TRUNC(EXTRACT(EPOCH FROM {span}) / {_DIFF_SECONDS[name]})"
    if name in _DIFF_MONTHS:
        age = f"AGE({later}, {earlier})"
        months = f"(EXTRACT(YEAR FROM {age}) * 12 + EXTRACT(MONTH FROM {age}))"
        return f"TRUNC({months} / {_DIFF_MONTHS[name]})"
    return None


#: Oracle's clock, which counts days when a number is added to it (SYSDATE - 30).
_ORACLE_NOW = (exp.CurrentTimestamp, exp.CurrentDate, exp.Systimestamp)


def _plus_days(node: exp.Expr) -> bool:
    """Oracle's ``SYSDATE - 30``: a number of days added to the clock, which PostgreSQL
    writes with an interval (a timestamp minus an integer is an error there)."""
    count = node.expression
    return (
        isinstance(node.this, _ORACLE_NOW)
        and isinstance(count, exp.Literal)
        and not count.is_string
        and count.name.isdigit()
    )


def _habits(tree: exp.Expr, dialect: str) -> exp.Expr:
    """`tree` (a copy, when something changes) with the habits sqlglot keeps rewritten."""
    rownum = [s for s in tree.find_all(exp.Select) if _rownum_limit(s) is not None]
    dual = [s for s in tree.find_all(exp.Select) if _from_dual(s)]
    plus = dialect == "tsql" and any(
        _stringy(a.this) or _stringy(a.expression) for a in tree.find_all(exp.Add)
    )
    brackets = dialect in _JSON_BRACKETS
    json = has_json_access(tree, brackets=brackets)
    units = any(_trunc_unit(t, dialect) for t in tree.find_all(exp.DateTrunc))
    to_date = any(_iso_date_of_value(n) for n in tree.find_all(*_TO_DATE))
    by = any(not n.args.get("count") for n in tree.find_all(exp.ArgMax, exp.ArgMin))
    diffs = dialect == "mysql" and any(_diff_sql(n) for n in tree.find_all(exp.TimestampDiff))
    days = dialect == "oracle" and any(_plus_days(n) for n in tree.find_all(exp.Add, exp.Sub))
    stamps = dialect == "oracle" and tree.find(exp.Systimestamp) is not None
    if not (rownum or dual or plus or json or units or to_date or by or diffs or days or stamps):
        return tree
    tree = tree.copy()
    for select in list(tree.find_all(exp.Select)):
        found = _rownum_limit(select)
        if found is not None:
            condition, count = found
            rest = [c for c in _conjuncts(select.args["where"].this) if c is not condition]
            select.set("where", exp.Where(this=exp.and_(*rest)) if rest else None)
            select.set("limit", exp.Limit(expression=exp.Literal.number(count)))
        if _from_dual(select):
            select.set("from_", None)
    if plus:
        for add in reversed(list(tree.find_all(exp.Add))):
            if _stringy(add.this) or _stringy(add.expression):
                add.replace(exp.DPipe(this=add.this, expression=add.expression, safe=True))
    for trunc in list(tree.find_all(exp.DateTrunc)):
        unit = _trunc_unit(trunc, dialect)
        if unit is not None:
            trunc.set("unit", exp.Literal.string(unit))
    for node in list(tree.find_all(*_TO_DATE)):
        if _iso_date_of_value(node):
            node.replace(exp.Cast(this=node.this, to=exp.DataType.build("date")))
    for step in list(tree.find_all(exp.Add, exp.Sub)) if days else ():
        if _plus_days(step):
            days_text = exp.Literal.string(step.expression.name)
            step.set("expression", exp.Interval(this=days_text, unit=exp.var("DAY")))
    for stamp in list(tree.find_all(exp.Systimestamp)) if dialect == "oracle" else ():
        stamp.replace(exp.CurrentTimestamp())  # sqlglot writes SYSTIMESTAMP() back
    for diff in list(tree.find_all(exp.TimestampDiff)) if diffs else ():
        written = _diff_sql(diff)
        if written is not None:
            diff.replace(sqlglot.parse_one(written, read="postgres"))
    for arg in list(tree.find_all(exp.ArgMax, exp.ArgMin)):
        if not arg.args.get("count"):
            arg.replace(_first_by(arg.this, arg.expression, last=isinstance(arg, exp.ArgMax)))
    return rewrite_json_access(tree, brackets=brackets) if json else tree


#: Dialects where ``doc['key']`` reads JSON (PostgreSQL's jsonb subscript keeps the quotes
#: of a string when cast to text, and json has none).
_JSON_BRACKETS = frozenset({"snowflake", "bigquery"})
#: Truncation units of Oracle (``TRUNC(d, 'MM')``) and others (Snowflake's
#: ``DATE_TRUNC('MM', d)``) that PostgreSQL's date_trunc does not know, with its own.
_TRUNC_UNITS = {
    **dict.fromkeys(("MM", "RM"), "month"),
    **dict.fromkeys(("Q",), "quarter"),
    **dict.fromkeys(("YYYY", "SYYYY", "YYY", "YY", "SYEAR"), "year"),
    **dict.fromkeys(("DD", "DDD", "J"), "day"),
    **dict.fromkeys(("HH", "HH12", "HH24"), "hour"),
    **dict.fromkeys(("MI",), "minute"),
    **dict.fromkeys(("IW",), "week"),
    **dict.fromkeys(("CC", "SCC"), "century"),
}
#: Oracle's: ``D``, ``DY``, ``DAY`` truncate to the first day of the week, not to the day.
_ORACLE_TRUNC_UNITS = {**_TRUNC_UNITS, **dict.fromkeys(("D", "DY", "DAY"), "week")}
#: Parsing a date from text: Oracle's and Snowflake's TO_DATE, MySQL's STR_TO_DATE.
_TO_DATE = (exp.StrToDate, exp.TsOrDsToDate)


def _trunc_unit(trunc: exp.DateTrunc, dialect: str) -> str | None:
    """PostgreSQL's name of `trunc`'s unit when it does not know the one written."""
    unit = trunc.args.get("unit")
    if not isinstance(unit, exp.Literal | exp.Var) or (
        isinstance(unit, exp.Literal) and not unit.is_string
    ):
        return None
    units = _ORACLE_TRUNC_UNITS if dialect == "oracle" else _TRUNC_UNITS
    return units.get(unit.name.upper())


def _first_by(value: exp.Expr, key: exp.Expr, *, last: bool) -> exp.Expr:
    """``(ARRAY_AGG(value ORDER BY key DESC NULLS LAST))[1]``: the value at the greatest key
    (`last`) or at the least, as ARG_MAX/ARG_MIN, MAX_BY/MIN_BY give it."""
    ordered = exp.Ordered(this=key, desc=last, nulls_first=False)
    aggregate = exp.ArrayAgg(this=exp.Order(this=value, expressions=[ordered]))
    return exp.Bracket(this=exp.Paren(this=aggregate), expressions=[exp.Literal.number(0)])


def _iso_date_of_value(node: exp.Expr) -> bool:
    """``TO_DATE(x, 'YYYY-MM-DD')`` of anything but a string literal: PostgreSQL's to_date
    takes text only, and a timestamp (or an ISO date in text) is a cast to date."""
    value, format_ = node.this, node.args.get("format")
    return (
        isinstance(format_, exp.Literal)
        and format_.this == "%Y-%m-%d"
        and not (isinstance(value, exp.Literal) and value.is_string)
    )


def _conjuncts(node: exp.Expr) -> list[exp.Expr]:
    if isinstance(node, exp.And):
        return _conjuncts(node.this) + _conjuncts(node.expression)
    return [node]


def _rownum_limit(select: exp.Select) -> tuple[exp.Expr, int] | None:
    """(the ``ROWNUM <= n`` condition, n) of a SELECT without LIMIT, or None."""
    where = select.args.get("where")
    if where is None or select.args.get("limit") is not None:
        return None
    for condition in _conjuncts(where.this):
        if not isinstance(condition, exp.LTE | exp.LT | exp.EQ):
            continue
        column, bound = condition.this, condition.expression
        if (
            isinstance(column, exp.Column)
            and column.name.upper() == "ROWNUM"
            and not column.table
            and isinstance(bound, exp.Literal)
            and not bound.is_string
            and str(bound.this).isdigit()
        ):
            count = int(str(bound.this))
            if isinstance(condition, exp.EQ):
                if count != 1:
                    continue  # ROWNUM = 2 matches no row in Oracle either
                return condition, 1
            return condition, count - 1 if isinstance(condition, exp.LT) else count
    return None


def _from_dual(select: exp.Select) -> bool:
    source = select.args.get("from_")
    table = source.this if isinstance(source, exp.From) else None
    return (
        isinstance(table, exp.Table)
        and table.name.lower() == "dual"
        and not table.db
        and not select.args.get("joins")
    )


def _stringy(node: exp.Expr | None) -> bool:
    """A string literal, a concatenation, or a cast to a string type."""
    if isinstance(node, exp.Literal):
        return bool(node.is_string)
    if isinstance(node, exp.DPipe | exp.Concat):
        return True
    if isinstance(node, exp.Cast):
        to = node.args.get("to")
        return isinstance(to, exp.DataType) and to.this in _TEXT_TYPES
    if isinstance(node, exp.Add):
        return _stringy(node.this) or _stringy(node.expression)
    return False


def _syntax_error(sql: str, dialect: str, error: ParseError) -> GuardError:
    source = f" in {dialect} SQL"
    if not error.errors:
        return syntax_error(sql, None, str(error), source=source, hint=_HINT)
    first = error.errors[0]
    line, column = first.get("line"), first.get("col")
    problem = str(first.get("description") or "invalid syntax")
    highlight = str(first.get("highlight") or "").strip()
    if highlight:
        problem = f'{clean_problem(problem)} near "{highlight[:40]}"'
    if not isinstance(line, int) or not isinstance(column, int):
        return syntax_error(sql, None, problem, source=source, hint=_HINT)
    lines = sql.splitlines(keepends=True)
    start = max(0, column - len(highlight) if highlight else column - 1)
    offset = sum(len(part) for part in lines[: line - 1]) + start
    return syntax_error(
        sql, offset, problem, source=source, hint=f"fix the {dialect} SQL at the caret, or {_HINT}"
    )
