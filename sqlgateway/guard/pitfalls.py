"""Valid SQL that rarely means what it says: notes for the answer, found as the walk meets
them (pure; nothing changes what runs).

- ``count(…) / count(…)`` divides integers, which truncates: a rate comes out 0;
- ``last_value(x) OVER (… ORDER BY …)`` without a frame sees the rows up to the current one
  only, so it returns the current row's x (``nth_value`` likewise);
- ``ORDER BY total DESC`` puts the NULLs first (PostgreSQL's default): the top rows may have
  no total. Only the answer can tell (its first row): `desc_nulls_first` finds the column.

>>> import sqlglot
>>> tree = sqlglot.parse_one("SELECT count(*) FILTER (WHERE a) / count(*) FROM t", "postgres")
>>> pitfall(tree.find(exp.Div)) == DIVISION_NOTE
True
"""

from __future__ import annotations

import re

from sqlglot import exp

#: Node classes the walk hands to `pitfall`.
PITFALL_NODES: frozenset[type[exp.Expr]] = frozenset({exp.Div, exp.Window})

DIVISION_NOTE = (
    "count(…) / count(…) divides integers, which truncates (2 / 3 is 0): for a rate or a "
    "share write count(…) * 100.0 / count(…), or cast one side, count(…)::numeric"
)
FRAME_NOTE = (
    "{name}(…) OVER (… ORDER BY …) without a frame sees only the rows up to the current one, "
    "so it gives the current row's value: add ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED "
    "FOLLOWING, or use first_value(…) OVER (… ORDER BY … DESC)"
)
_FRAMED = frozenset({"last_value", "nth_value"})


def pitfall(node: exp.Expr) -> str | None:
    """The note for `node`, one of PITFALL_NODES, when it is a pitfall."""
    if isinstance(node, exp.Div):
        return DIVISION_NOTE if _counts(node.this) and _counts(node.expression) else None
    if isinstance(node, exp.Window):
        name = _called(node.this)
        if name not in _FRAMED or node.args.get("spec") is not None or not node.args.get("order"):
            return None
        return FRAME_NOTE.format(name=name)
    return None


def _counts(node: exp.Expr | None) -> bool:
    """`node` is a whole number of rows: count(…), possibly filtered, in parentheses, a
    scalar subquery of one, or counts and integers combined by + - *."""
    while isinstance(node, exp.Paren | exp.Filter | exp.Alias):
        node = node.this
    if isinstance(node, exp.Subquery) and isinstance(node.this, exp.Select):
        selected = node.this.expressions  # (SELECT count(*) FROM …)
        return len(selected) == 1 and _counts(selected[0])
    if _called(node) == "count":
        return True
    if isinstance(node, exp.Add | exp.Sub | exp.Mul):
        sides = (node.this, node.expression)
        return any(_counts(side) for side in sides) and all(
            _counts(side) or _integer(side) for side in sides
        )
    return False


def _called(node: exp.Expr | None) -> str:
    """The name of the function `node` calls ("" for anything else): the guard's parser
    reads every call as exp.Anonymous, sqlglot's own as its class."""
    if isinstance(node, exp.Anonymous):
        return str(node.this).lower()
    if isinstance(node, exp.Func):
        return node.sql_name().lower()
    return ""


def _integer(node: exp.Expr | None) -> bool:
    return isinstance(node, exp.Literal) and not node.is_string and str(node.this).isdigit()


_NULLS_WRITTEN = re.compile(r"\bnulls\s+(?:first|last)\b", re.IGNORECASE)


def desc_nulls_first(tree: exp.Expr, sql: str) -> tuple[int, str] | None:
    """(index, name) of the output column the outermost SELECT sorts on first with ``DESC``
    and PostgreSQL's default ``NULLS FIRST``; None when it sorts otherwise, says where NULLs
    go, or sorts on what is not an output column."""
    first = _first_ordered(tree) if isinstance(tree, exp.Select) else None
    if first is None or not first.args.get("desc"):
        return None
    if _NULLS_WRITTEN.search(sql):
        return None  # the author chose
    outputs = tree.expressions
    key = first.this
    if isinstance(key, exp.Literal) and not key.is_string and str(key.this).isdigit():
        index = int(str(key.this)) - 1
        return (index, _shown(outputs[index])) if 0 <= index < len(outputs) else None
    for index, output in enumerate(outputs):
        named = isinstance(key, exp.Column) and not key.table and key.name == output.alias_or_name
        if named or key == (output.this if isinstance(output, exp.Alias) else output):
            return index, _shown(output)
    return None


def sorts_by_position(tree: exp.Expr) -> bool:
    """The outermost ORDER BY's first key is a position (``ORDER BY 2 DESC``)."""
    first = _first_ordered(tree)
    key = first.this if first is not None else None
    return isinstance(key, exp.Literal) and not key.is_string


def _first_ordered(tree: exp.Expr) -> exp.Ordered | None:
    """The first key of the outermost ORDER BY."""
    order = tree.args.get("order")
    first = order.expressions[0] if isinstance(order, exp.Order) and order.expressions else None
    return first if isinstance(first, exp.Ordered) else None


def _shown(output: exp.Expr) -> str:
    """An output column as the notice names it: its alias or column name, or its SQL."""
    if isinstance(output, exp.Alias | exp.Column):
        return output.alias_or_name
    text = output.sql(dialect="postgres", comments=False)
    return text if len(text) <= 60 else text[:59] + "…"
