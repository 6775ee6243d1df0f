"""Tree → the SQL the executor runs, written by sqlglot's PostgreSQL generator.

Comments are dropped, function names are kept as written (sqlglot would upper-case quoted
names), and anything the generator cannot express for PostgreSQL is refused rather than
written approximately.

String values holding a backslash are written as ``E'…'`` strings (backslashes doubled), so
the SQL means the same whatever ``standard_conforming_strings`` is: with it off, a backslash in
a plain ``'…'`` string escapes the next character, and ``'a\\'' …`` could end the string where
the guard did not see it end.
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.errors import ErrorLevel, UnsupportedError

from sqlgateway.errors import RejectedError
from sqlgateway.guard.parse import DIALECT, NESTING_HINT

_PLAIN_STRINGS = (exp.Literal, exp.RawString, exp.National)


def render(tree: exp.Expr, *, backslashes: bool = True) -> str:
    """PostgreSQL text of `tree`. The tree is modified: render it last.

    `backslashes=False` promises that no string in the tree holds a backslash (true when the
    source text has none) and skips looking for them.
    """
    if backslashes:
        _escape_strings_with_backslashes(tree)
    try:
        return DIALECT.generate(
            tree,
            copy=False,
            comments=False,
            normalize_functions=False,
            unsupported_level=ErrorLevel.RAISE,
        )
    except UnsupportedError as exc:
        problem = str(exc).split("\n", 1)[0]
        raise RejectedError(
            f"this query cannot be written back as PostgreSQL: {problem}",
            construct="unsupported construct",
            hint="rewrite the query with standard PostgreSQL syntax",
        ) from None
    except RecursionError:
        raise RejectedError(
            "the query is nested too deeply", construct="deep nesting", hint=NESTING_HINT
        ) from None


def _escape_strings_with_backslashes(tree: exp.Expr) -> None:
    # One pass over the parents: Expr.replace is linear in the siblings, so calling it for
    # every string of a long list would be quadratic.
    for node in list(tree.walk()):
        for key, value in list(node.args.items()):
            if isinstance(value, list):
                if any(_holds_backslash(item) for item in value):
                    node.set(key, [_escape_string(item) for item in value])
            elif _holds_backslash(value):
                node.set(key, _escape_string(value))


def _holds_backslash(value: object) -> bool:
    if not isinstance(value, _PLAIN_STRINGS):
        return False
    if isinstance(value, exp.Literal) and not value.is_string:
        return False
    return "\\" in str(value.this)


def _escape_string(value: object) -> object:
    if isinstance(value, _PLAIN_STRINGS) and _holds_backslash(value):
        return exp.ByteString(this=value.this)
    return value
