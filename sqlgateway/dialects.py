"""SQL written in another dialect, transpiled to PostgreSQL before the guard sees it.

Pure. sqlglot reads the text in the source dialect and writes PostgreSQL; anything it cannot
express in PostgreSQL is refused rather than approximated. The guard then checks the
transpiled text like any other, so a dialect never widens what may run.

>>> to_postgres("SELECT TOP 3 claim_id FROM claims", "tsql")
'SELECT claim_id FROM claims LIMIT 3'
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal, get_args

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, ParseError, SqlglotError, TokenError, UnsupportedError

from sqlgateway.errors import GuardError, RejectedError, SQLSyntaxError
from sqlgateway.guard.parse import MAX_NODES_BASE, MAX_NODES_PER_TOKEN

__all__ = ["DEFAULT_DIALECT", "DIALECTS", "Dialect", "to_postgres"]

Dialect = Literal[
    "postgres", "mysql", "tsql", "sqlite", "bigquery", "snowflake", "duckdb", "oracle"
]
DIALECTS: tuple[str, ...] = get_args(Dialect)
DEFAULT_DIALECT = "postgres"

_SQLGLOT_CLASS = re.compile(r"<class 'sqlglot\.[\w.]*?(\w+)'>")
_HINT = "write the query in PostgreSQL (leave `dialect` out) or use only portable SQL"


@lru_cache(maxsize=512)
def _parse_bounded(sql: str, dialect: str) -> list[exp.Expr]:
    """The statements of `sql` in `dialect`, within the guard's parser work budget: sqlglot's
    parse time grows exponentially with some nestings (ARRAY[ARRAY[…]]: seconds at depth 16),
    and this runs before the guard, on the event loop."""
    source = sqlglot.Dialect.get_or_raise(dialect)
    tokens = source.tokenize(sql)
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


def to_postgres(sql: str, dialect: str) -> str:
    """`sql` in `dialect`, written as PostgreSQL. SQLSyntaxError when it does not parse in
    that dialect, RejectedError when it uses something PostgreSQL cannot express."""
    if dialect == DEFAULT_DIALECT:
        return sql
    if dialect not in DIALECTS:
        raise RejectedError(
            f"unknown dialect {dialect!r}",
            construct="dialect",
            hint=f"use one of {', '.join(DIALECTS)}",
        )
    try:
        trees = _parse_bounded(sql, dialect)
        for tree in trees:
            if isinstance(tree, exp.Command):
                raise UnsupportedError(f"{tree.name.upper()} statements")
        out = [tree.sql(dialect="postgres", unsupported_level=ErrorLevel.RAISE) for tree in trees]
    except ParseError as error:
        raise _syntax_error(sql, dialect, error) from None
    except TokenError as error:
        raise SQLSyntaxError(
            f"syntax error in {dialect} SQL: {str(error).splitlines()[0]}", hint=_HINT
        ) from None
    except UnsupportedError as error:
        raise RejectedError(
            f"this {dialect} SQL cannot be translated to PostgreSQL: {error}",
            construct=f"{dialect} feature",
            hint=_HINT,
        ) from None
    except (SqlglotError, RecursionError, ValueError) as error:
        raise RejectedError(
            f"this {dialect} SQL cannot be translated to PostgreSQL ({type(error).__name__})",
            construct=f"{dialect} feature",
            hint=_HINT,
        ) from None
    # Several statements are joined so that the guard refuses them as it would in PostgreSQL.
    return ";\n".join(out)


def _syntax_error(sql: str, dialect: str, error: ParseError) -> GuardError:
    if not error.errors:
        return SQLSyntaxError(f"syntax error in {dialect} SQL: {error}", hint=_HINT)
    first = error.errors[0]
    line, column = first.get("line"), first.get("col")
    problem = _SQLGLOT_CLASS.sub(r"\1", str(first.get("description") or "invalid syntax"))
    highlight = str(first.get("highlight") or "").strip()
    if highlight:
        problem = f'{problem} near "{highlight[:40]}"'
    if not isinstance(line, int) or not isinstance(column, int):
        return SQLSyntaxError(f"syntax error in {dialect} SQL: {problem}", hint=_HINT)
    text = sql.splitlines()[line - 1] if 0 < line <= len(sql.splitlines()) else ""
    start = max(0, column - len(highlight) if highlight else column - 1)
    excerpt = f"  {text}\n  {' ' * start}^"
    offset = sum(len(part) + 1 for part in sql.splitlines()[: line - 1]) + start
    return SQLSyntaxError(
        f"syntax error in {dialect} SQL at line {line}, column {start + 1}: {problem}\n{excerpt}",
        line=line,
        column=start + 1,
        position=offset + 1,
        hint=f"fix the {dialect} SQL at the caret, or {_HINT}",
    )
