"""Bind parameters (``$1`` … ``$n``): refused in free SQL, allowed in named queries.

A named query's ``:name`` parameters become ``$1`` … ``$n`` before the guard sees the SQL
(`sqlgateway.named.compile`), and the guard checks it with ``GuardPolicy.bind_parameters = n``.
Each parameter must be one of those numbers, written plainly, and stand (with the casts and
parentheses around it) where a value does:
never as a table, column, alias or field name, and never as a whole sort or grouping key
(``ORDER BY $1`` sorts by a constant, not by the column a caller names). PostgreSQL itself
never takes a bind parameter as an identifier; the check exists so that a named query written
that way stops the gateway at start with a message, instead of failing on every call.
"""

from __future__ import annotations

from sqlglot import exp

from sqlgateway.errors import RejectedError

__all__ = ["check_parameter"]

#: Parents under which a parameter would stand for a name or a sort/grouping key.
_NOT_A_VALUE: dict[type[exp.Expr], str] = {
    exp.Column: "a column name",
    exp.Table: "a table name",
    exp.TableAlias: "an alias",
    exp.Dot: "a field name",
    exp.Identifier: "a name",
    exp.Ordered: "a sort key",
    exp.Group: "a grouping key",
}
_IDENTIFIER_HINT = (
    "identifiers (table, column and sort names) cannot be parameters: write them into the SQL, "
    "and use a CASE expression to choose between a few of them"
)


def check_parameter(node: exp.Expr, allowed: int) -> None:
    """Refuse the parameter `node` unless it is ``$k`` with 1 ≤ k ≤ `allowed`, as a value.
    (With no parameters allowed, the node allowlist refuses every parameter.)"""
    number = node.this
    text = str(number.this) if isinstance(number, exp.Literal) else str(number)
    if not text.isdigit() or str(int(text)) != text or not 1 <= int(text) <= allowed:
        raise RejectedError(
            f"parameter ${text} is not one of the named query's",
            construct="query parameter",
            hint=f"the named query binds $1 to ${allowed} only",
        )
    value = node  # the parameter, or the casts and parentheses around it
    while isinstance(value.parent, exp.Cast | exp.Paren) and value.arg_key == "this":
        value = value.parent
    parent = value.parent
    role = _NOT_A_VALUE.get(type(parent)) if parent is not None else None
    if isinstance(parent, exp.Alias) and value.arg_key == "alias":
        role = "an alias"
    if role is not None:
        raise RejectedError(
            f"parameter ${text} stands for {role}",
            construct="parameter as identifier",
            hint=_IDENTIFIER_HINT,
        )
