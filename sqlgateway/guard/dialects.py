"""SQL written in another dialect, transpiled to PostgreSQL before the guard sees it.

Pure. sqlglot reads the text in the source dialect and writes PostgreSQL; anything it cannot
express in PostgreSQL is refused rather than approximated. The guard then checks the
transpiled text like any other, so a dialect never widens what may run.

>>> to_postgres("SELECT TOP 3 claim_id FROM claims", "tsql")
'SELECT claim_id FROM claims LIMIT 3'
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal, get_args

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, ParseError, SqlglotError, TokenError, UnsupportedError

from sqlgateway.errors import GuardError, RejectedError
from sqlgateway.guard.parse import MAX_NODES_BASE, MAX_NODES_PER_TOKEN
from sqlgateway.guard.syntax import clean_problem, syntax_error

__all__ = ["DEFAULT_DIALECT", "DIALECTS", "Dialect", "to_postgres"]

Dialect = Literal[
    "postgres", "mysql", "tsql", "sqlite", "bigquery", "snowflake", "duckdb", "oracle"
]
DIALECTS: tuple[str, ...] = get_args(Dialect)
DEFAULT_DIALECT = "postgres"

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
        raise syntax_error(
            sql, None, str(error).splitlines()[0], source=f" in {dialect} SQL", hint=_HINT
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
