"""Several values written where PostgreSQL wants one array or one condition per value:
``status = ANY('approved', 'paid')``, ``status IN ARRAY['approved', 'paid']``,
``status = 'approved' OR 'paid'``. The fix names both spellings PostgreSQL has, written with
the attempt's own column and values: ``status IN ('approved', 'paid')`` and ``status = ANY
(ARRAY['approved', 'paid'])``, or one condition per side of OR.

Pure; on the tree of the SQL that failed (hints/failure.py), on the error path only.
"""

from __future__ import annotations

from sqlglot import exp

from sqlgateway.hints.failure import COMPARISONS, parse_again

#: Most values written into a fix (the rest are the attempt's own, left out).
MAX_SHOWN_VALUES = 6

_SYMBOLS: dict[type[exp.Expr], str] = {**COMPARISONS, exp.Like: "LIKE", exp.ILike: "ILIKE"}
_QUANTIFIERS = ("ANY", "SOME", "ALL")


def array_hint(tree: exp.Expr) -> str | None:
    """A list given to ``= ANY``/``<> ALL`` (which take one array), or an array given to
    ``IN`` (which takes a list): both spellings, with the attempt's column and values."""
    for node in tree.find_all(*_SYMBOLS, exp.In):
        if isinstance(node, exp.In):
            field = node.args.get("field")
            if isinstance(field, exp.Array) and field.expressions:
                column, values = _sql(node.this), _values(field.expressions)
                return (
                    f"IN takes a list in parentheses, not an array: {column} IN ({values}), or "
                    f"{column} = ANY (ARRAY[{values}])"
                )
            continue
        listed = _quantified_list(node.expression)
        if listed is None:
            continue
        quantifier, items = listed
        column, values = _sql(node.this), _values(items)
        operator = _SYMBOLS[type(node)]
        shown = "ANY" if quantifier == "SOME" else quantifier
        hint = (
            f"{operator} {shown} takes one array, not a list: "
            f"{column} {operator} {shown} (ARRAY[{values}])"
        )
        if (operator, shown) == ("=", "ANY"):
            hint += f", or {column} IN ({values})"
        elif (operator, shown) == ("<>", "ALL"):
            hint += f", or {column} NOT IN ({values})"
        return hint
    return None


def array_hint_in(sql: str) -> str | None:
    """`array_hint` for SQL the guard refused (``<> ALL('a', 'b')`` reads as a function)."""
    tree = parse_again(sql)
    return array_hint(tree) if tree is not None else None


def _quantified_list(node: exp.Expr) -> tuple[str, list[exp.Expr]] | None:
    """(``ANY``…, the values) for ``ANY (a, b)``, ``ANY ((a, b))`` or ``ALL(a, b)`` (which
    sqlglot reads as a call of a function named ALL)."""
    if isinstance(node, exp.Any | exp.All):
        inner = node.this
        while isinstance(inner, exp.Paren):
            inner = inner.this
        if isinstance(inner, exp.Tuple) and len(inner.expressions) > 1:
            return ("ANY" if isinstance(node, exp.Any) else "ALL"), list(inner.expressions)
        return None
    named = isinstance(node, exp.Anonymous) and str(node.this).upper() in _QUANTIFIERS
    if named and len(node.expressions) > 1:
        return str(node.this).upper(), list(node.expressions)
    return None


def conditions_hint(tree: exp.Expr, value: str | None = None) -> str | None:
    """Values joined by OR/AND as if they were conditions (``status = 'approved' OR
    'paid'``, ``status = ('approved' OR 'paid')``): one condition per side, or IN. `value`:
    the value PostgreSQL could not read as a boolean, when it said (a literal of the fix)."""
    for node in tree.find_all(exp.Or, exp.And):
        if isinstance(node.parent, type(node)):
            continue  # the chain is read from its top
        found = _values_in_chain(node, value) or _values_compared(node, value)
        if found is not None:
            return found
    return None


def _values_in_chain(node: exp.Connector, value: str | None) -> str | None:
    """``status = 'approved' OR 'paid' OR 'closed'``: a comparison, then bare values."""
    operands = [_bare(o) for o in node.flatten()]
    for index, operand in enumerate(operands):
        if not isinstance(operand, exp.Literal) or index == 0:
            continue
        comparison = _last_comparison(operands[index - 1])
        if comparison is None:
            continue
        values = [comparison.expression]
        for after in operands[index:]:
            if not isinstance(after, exp.Literal):
                break
            values.append(after)
        if value is not None and value not in (str(v.this) for v in values):
            continue
        return _one_condition_each(comparison, values, "OR" if isinstance(node, exp.Or) else "AND")
    return None


def _values_compared(node: exp.Connector, value: str | None) -> str | None:
    """``status = ('approved' OR 'paid')``: a column compared with values joined by OR."""
    comparison = node.parent
    while isinstance(comparison, exp.Paren):
        comparison = comparison.parent
    values = [_bare(o) for o in node.flatten()]
    if not isinstance(comparison, exp.EQ | exp.NEQ) or not all(
        isinstance(v, exp.Literal) for v in values
    ):
        return None
    if value is not None and value not in (str(v.this) for v in values):
        return None
    column = comparison.this if isinstance(comparison.expression, exp.Paren) else None
    if column is None:
        return None
    negated = "NOT " if isinstance(comparison, exp.NEQ) else ""
    return (
        f"{node.key.upper()} joins conditions, not values: write "
        f"{_sql(column)} {negated}IN ({_values(values)})"
    )


def _one_condition_each(comparison: exp.Expr, values: list[exp.Expr], joiner: str) -> str:
    column = _sql(comparison.this)
    operator = _SYMBOLS[type(comparison)]
    each = f" {joiner} ".join(f"{column} {operator} {_sql(v)}" for v in values[:MAX_SHOWN_VALUES])
    listed = _values(values)
    head = f"each side of {joiner} is a condition: {each}"
    if operator == "=" and joiner == "OR":
        return f"{head}, or {column} IN ({listed})"
    if operator == "<>" and joiner == "AND":
        return f"{head}, or {column} NOT IN ({listed})"
    if operator == "=":  # AND: no row has two values; either is IN
        return f"{head} (no row has both; for any of them: {column} IN ({listed}))"
    if operator in ("LIKE", "ILIKE") and joiner == "OR":
        return f"{head}, or {column} {operator} ANY (ARRAY[{listed}])"
    return head


def _last_comparison(node: exp.Expr) -> exp.Expr | None:
    """The comparison of a column with a literal that ends `node` (``a AND b = 'x'``)."""
    while isinstance(node, exp.Connector | exp.Paren):
        node = node.expression if isinstance(node, exp.Connector) else node.this
    if type(node) in _SYMBOLS and isinstance(node.expression, exp.Literal):
        return node if isinstance(node.this, exp.Column | exp.Dot | exp.Cast) else None
    return None


def _bare(node: exp.Expr) -> exp.Expr:
    while isinstance(node, exp.Paren):
        node = node.this
    return node


def _values(items: list[exp.Expr]) -> str:
    shown = ", ".join(_sql(item) for item in items[:MAX_SHOWN_VALUES])
    return shown + (", …" if len(items) > MAX_SHOWN_VALUES else "")


def _sql(node: exp.Expr) -> str:
    text = node.sql(dialect="postgres")
    return text if len(text) <= 80 else text[:79] + "…"
