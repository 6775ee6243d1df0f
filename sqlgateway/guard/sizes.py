"""The value-size rule: refuse values that constants make far larger than any response, before
anything runs (``repeat('x', 300000000)``, ``lpad('', 1000000000)``, ``array_fill(0,
ARRAY[100000, 100000])``, ``string_agg('x', ',')`` over a billion-row ``generate_series``).

Sizes are lower bounds, in characters of a value's text form, worked out from the tree
alone: exact for literals, ``||``, ``concat``, ``repeat``, ``lpad``/``rpad`` (the result is
exactly as long as asked), ``format`` widths, ``array_fill`` (one character a slot at least),
and for aggregates that build one value from every row (``string_agg``, ``array_agg``,
``json_agg``… and ``ARRAY(SELECT …)``) when the rows come from constant ``generate_series``
and ``VALUES`` alone: no WHERE, no GROUP BY, no FILTER, no DISTINCT. Everything else counts as
zero, so the rule never refuses a query for what its data might hold: values built from
columns are bounded by the executor's caps (db/caps.py) and the database's own limits.

The rule reads integer literals, so its verdict holds for those integers only: the verdict
cache must not reuse it for a query that differs in them (``Verdict.reads_integers``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

from sqlglot import exp

from sqlgateway.errors import RejectedError
from sqlgateway.guard.names import fold

#: Calls that can make a value much longer than the SQL that asks for it; without one of
#: them, no value can be much larger than the statement's text, and the rule does nothing.
MULTIPLYING_FUNCTIONS = frozenset(
    {"repeat", "lpad", "rpad", "array_fill", "format", "generate_series"}
)

#: Aggregates that build one value holding every row (string_agg and json_agg are parsed
#: into their own node classes).
_COLLECTING = frozenset(
    {
        "array_agg",
        "json_agg",
        "jsonb_agg",
        "json_agg_strict",
        "jsonb_agg_strict",
        "json_arrayagg",
        "json_object_agg",
        "jsonb_object_agg",
        "xmlagg",
        "string_agg",
    }
)
#: Integers are clamped here (far above any budget) so products of huge constants stay cheap.
_CEILING = 10**15
_FORMAT_WIDTH = re.compile(r"%(?:[0-9]+\$)?-?([0-9]+)[sIL]")
_SERIES = "generate_series"

HINT = (
    "a response holds far less: ask for what you want to know about the value instead: its "
    "size with length(…) or octet_length(…), a sample with left(…, 200), or count(*) instead "
    "of aggregating every row into one value"
)


def check_value_sizes(tree: exp.Expr, functions: Iterable[str], max_chars: int) -> bool:
    """Refuse `tree` if a value it builds from constants has more than `max_chars` characters.

    `functions` are the names the query calls (``inspect_tree``). Returns whether the verdict
    depended on integer literals.

    >>> from sqlgateway.guard.parse import DIALECT
    >>> tree = DIALECT.parse_one("SELECT repeat('ab', 3)")
    >>> check_value_sizes(tree, ["repeat"], 1_000)
    True
    """
    if not any(name.rsplit(".", 1)[-1] in MULTIPLYING_FUNCTIONS for name in functions):
        return False
    sizes = _Sizes()
    for node in reversed(list(tree.walk(bfs=True))):  # children before their parents
        size = sizes.of(node)
        if size > max_chars:
            raise RejectedError(
                f"{_describe(node)} would build a value of at least {size:,} characters; "
                f"values over {max_chars:,} characters are not allowed",
                construct="oversized value",
                hint=HINT,
            )
    return sizes.read_integers


class _Sizes:
    """Lower bounds of the characters of each node's value, computed once per node."""

    def __init__(self) -> None:
        self._known: dict[int, int] = {}
        self.read_integers = False

    def get(self, node: object) -> int:
        return self._known.get(id(node), 0) if isinstance(node, exp.Expr) else 0

    def of(self, node: exp.Expr) -> int:
        size = min(self._size(node), _CEILING)
        self._known[id(node)] = size
        return size

    def integer(self, node: object) -> int | None:
        """The value of an integer constant expression (literals, signs, + - *, casts)."""
        value = _integer(node)
        if value is not None:
            self.read_integers = True
        return value

    def _size(self, node: exp.Expr) -> int:
        if isinstance(node, exp.Literal):
            return len(str(node.this))
        if isinstance(node, exp.Paren | exp.Alias | exp.Cast | exp.TryCast | exp.Order):
            return self.get(node.this)
        if isinstance(node, exp.DPipe):
            return self.get(node.this) + self.get(node.expression)
        if isinstance(node, exp.GroupConcat):  # string_agg: the separator is as given
            return self._collected(node, node.this, node.args.get("separator") or exp.null())
        if isinstance(node, exp.JSONArrayAgg | exp.ArrayAgg):
            return self._collected(node, node.this, None)
        if isinstance(node, exp.Array):
            return self._array(node)
        if isinstance(node, exp.Column):
            return 1 if _series_column(node) else 0
        if isinstance(node, exp.Anonymous):
            return self._call(fold(node.this), node.expressions, node)
        return 0

    def _call(self, name: str, args: list[exp.Expr], node: exp.Expr) -> int:
        if name == "repeat" and len(args) == 2:
            times = self.integer(args[1])
            return self.get(args[0]) * max(0, times or 0)
        if name in ("lpad", "rpad") and len(args) in (2, 3):
            length = max(0, self.integer(args[1]) or 0)
            fill = args[2] if len(args) == 3 else None
            filled = fill is None or self.get(fill) > 0  # with '' it only truncates
            return length if filled else min(length, self.get(args[0]))
        if name == "array_fill" and len(args) >= 2 and isinstance(args[1], exp.Array):
            dims = [self.integer(d) for d in args[1].expressions]
            if not dims or any(d is None for d in dims):
                return 0
            slots = 1
            for d in dims:
                slots = min(slots * max(0, d or 0), _CEILING)
            return slots * (self.get(args[0]) + 1)
        if name in ("concat", "concat_ws"):
            return sum(self.get(arg) for arg in args)
        if name == "format" and args and isinstance(args[0], exp.Literal) and args[0].is_string:
            return sum(int(width) for width in _FORMAT_WIDTH.findall(str(args[0].this)))
        if name == "array" and len(args) == 1 and isinstance(args[0], exp.Select):
            return self._rows(args[0])  # ARRAY(SELECT …): a slot a row, at least
        if name in _COLLECTING and args:
            separator = (args[1:2] or [exp.null()])[0] if name == "string_agg" else None
            return self._collected(node, args[0], separator)
        return 0

    def _collected(self, node: exp.Expr, value: object, separator: object) -> int:
        """An aggregate holding every row of its query: each row adds its value and, between
        rows, a separator (string_agg's as given, else a delimiter at least)."""
        if isinstance(value, exp.Distinct) or isinstance(node.parent, exp.Filter):
            return 0
        select = node.find_ancestor(exp.Select)
        rows = self._rows(select) if select is not None else 0
        between = 1 if separator is None else self.get(separator)
        return rows * self.get(value) + max(0, rows - 1) * between

    def _array(self, node: exp.Array) -> int:
        """ARRAY[a, b, …]: its elements and a delimiter each; ARRAY(SELECT …): a slot a row."""
        if len(node.expressions) == 1 and isinstance(node.expressions[0], exp.Select):
            return self._rows(node.expressions[0])
        return sum(self.get(e) + 1 for e in node.expressions)

    def _rows(self, select: exp.Select) -> int:
        """How many rows `select` reads at least, when they come from constant row sources
        alone (0 when unknown: tables, subqueries, filters, grouping, joins with conditions)."""
        if any(select.args.get(key) for key in ("where", "group", "having", "qualify")):
            return 0
        sources = _sources(select)
        rows = 1 if sources else 0
        for source in sources:
            count = self._source_rows(source)
            if count is None:
                return 0
            rows = min(rows * count, _CEILING)
        return rows

    def _source_rows(self, source: exp.Expr) -> int | None:
        if isinstance(source, exp.Values):
            return len(source.expressions)
        call = source.this if isinstance(source, exp.Table) else None
        if not (isinstance(call, exp.Anonymous) and fold(call.this) == _SERIES):
            return None
        bounds = [self.integer(arg) for arg in call.expressions]
        if len(bounds) not in (2, 3) or any(b is None for b in bounds):
            return None
        start, stop = bounds[0] or 0, bounds[1] or 0
        step = bounds[2] if len(bounds) == 3 else 1
        if not step or step < 0:
            return None
        return max(0, (stop - start) // step + 1)


def _sources(select: exp.Select) -> list[exp.Expr]:
    """The FROM items of `select` joined without conditions (a comma or CROSS JOIN); a join
    with a condition makes the list unknown (empty)."""
    from_ = select.args.get("from_")
    if from_ is None:
        return []
    sources = [from_.this]
    for join in select.args.get("joins") or []:
        if join.args.get("on") or join.args.get("using") or join.args.get("side"):
            return []
        sources.append(join.this)
    return sources


def _series_column(column: exp.Column) -> bool:
    """`column` names the value of a generate_series of its own query (never shorter than
    one character: the series counts integers)."""
    select = column.find_ancestor(exp.Select)
    if select is None:
        return False
    for source in _sources(select):
        call = source.this if isinstance(source, exp.Table) else None
        if not (isinstance(call, exp.Anonymous) and fold(call.this) == _SERIES):
            continue
        alias = source.args.get("alias")
        table = fold(alias.this) if alias is not None and alias.this else _SERIES
        columns = alias.columns if alias is not None else []
        name = fold(columns[0]) if columns else table
        qualifier = fold(column.table) if column.table else None
        if (qualifier is None or qualifier == table) and fold(column.this) == name:
            return True
    return False


def _integer(node: object) -> int | None:
    if isinstance(node, exp.Paren | exp.Cast | exp.TryCast):
        return _integer(node.this)
    if isinstance(node, exp.Literal) and not node.is_string:
        try:
            number = Decimal(str(node.this))
        except InvalidOperation:
            return None
        if not number.is_finite() or number != number.to_integral_value():
            return None
        return int(number) if number < _CEILING else _CEILING
    if isinstance(node, exp.Neg):
        negated = _integer(node.this)
        return None if negated is None else -negated
    if isinstance(node, exp.Mul | exp.Add | exp.Sub):
        left, right = _integer(node.this), _integer(node.expression)
        if left is None or right is None:
            return None
        if isinstance(node, exp.Mul):
            return max(-_CEILING, min(left * right, _CEILING))
        return left + right if isinstance(node, exp.Add) else left - right
    return None


def _describe(node: exp.Expr) -> str:
    """How the refusal names the construct."""
    if isinstance(node, exp.Anonymous):
        return f"{fold(node.this)}(…)"
    if isinstance(node, exp.GroupConcat):
        return "string_agg(…)"
    if isinstance(node, exp.JSONArrayAgg):
        return "json_agg(…)"
    if isinstance(node, exp.Array):
        return "ARRAY(…)"
    if isinstance(node, exp.DPipe):
        return "||"
    return type(node).__name__.lower()
