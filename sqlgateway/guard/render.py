"""Tree → the SQL the executor runs, written by sqlglot's PostgreSQL generator.

Comments are dropped, function names are kept as written (sqlglot would upper-case quoted
names), and anything the generator cannot express for PostgreSQL is refused rather than
written approximately.
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.errors import ErrorLevel, UnsupportedError

from sqlgateway.errors import RejectedError
from sqlgateway.guard.parse import DIALECT, NESTING_HINT


def render(tree: exp.Expr) -> str:
    """PostgreSQL text of `tree`. The tree may be modified: render it last."""
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
