"""Columns compared with string literals, as the guard's walk meets them.

Pure. The walk hands every ``=``, ``<>``, ``IN``, ``LIKE``, ``ILIKE``, ``BETWEEN`` and ``<=``
node to `compared`; those that compare one column (possibly cast, in parentheses, through
``upper``/``lower``, or one JSON key of it read as text: ``details->>'channel'``) with string
literals are kept, and once the walk is over `resolve` names the relations each column may
belong to. The catalog's value domains then tell whether the comparison can match
(catalog/domains.py): ``loss_type = 'flood'`` cannot, and the answer says so instead of a
silent zero; and a timestamp compared with a bare date (``reported_at = '2025-03-04'``)
matches midnight only.

>>> import sqlglot
>>> tree = sqlglot.parse_one("SELECT 1 FROM claims c WHERE c.status IN ('paid', 'x')", "postgres")
>>> found = [compared(node) for node in tree.find_all(exp.In)]
>>> found[0][1], found[0][2]
('=', ('paid', 'x'))
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import NamedTuple

from sqlglot import exp

from sqlgateway.guard.names import fold
from sqlgateway.guard.verdict import Comparison

#: Node classes the walk hands to `compared`.
COMPARISON_NODES: frozenset[type[exp.Expr]] = frozenset(
    {exp.EQ, exp.NEQ, exp.In, exp.Like, exp.ILike, exp.Between, exp.LTE, exp.ArrayContainsAll}
)
#: Longest literal kept: longer ones are no model's idea of a category value.
MAX_LITERAL_CHARS = 200
_MAX_VALUES = 50


class Target(NamedTuple):
    """What a comparison compares: a column, possibly cast, through one ``upper``/``lower``,
    or a key of it read as text (``details->>'channel'``). See verdict.Comparison."""

    column: exp.Column
    applied: str = ""
    cast: bool = False
    key: tuple[str, ...] = ()


#: (target, operator, values, negated): see verdict.Comparison.
Found = tuple[Target, str, tuple[str, ...], bool]
#: Functions a comparison may apply to its column and still be checked against its domain
#: (the guard reads every function call as exp.Anonymous).
_APPLIED = frozenset({"upper", "lower"})

NULL_NOTE = (
    "= NULL and <> NULL are never true (NULL is unknown), so they match no row: write "
    "IS NULL or IS NOT NULL"
)


def compares_with_null(node: exp.Expr) -> bool:
    """``x = NULL`` or ``x <> NULL``: a silent zero in PostgreSQL."""
    return isinstance(node, exp.EQ | exp.NEQ) and (
        isinstance(node.args.get("this"), exp.Null)
        or isinstance(node.args.get("expression"), exp.Null)
    )


#: Node classes a string literal may hide in (the first look of `compared`, which the walk
#: pays for every comparison: most compare with numbers or columns).
_MAYBE_STRING = frozenset({exp.Literal, exp.RawString, exp.Cast, exp.Paren, exp.Any, exp.All})
_LISTS = (exp.In, exp.Between)


def compared(node: exp.Expr) -> Found | None:
    """(target, operator, values, negated) when `node` compares one column (or one JSON key
    of it) with string literals only, else None."""
    args = node.args
    if type(node) not in _LISTS and not (
        type(args.get("expression")) in _MAYBE_STRING or type(args.get("this")) in _MAYBE_STRING
    ):
        return None
    right = args.get("expression")
    if type(right) is exp.Literal and not right.is_string and type(args.get("this")) is exp.Column:
        return None  # col = 42: the point lookup's way
    if isinstance(node, exp.ArrayContainsAll):
        return _contains(node)
    negated = isinstance(node.parent, exp.Not) != bool(args.get("negate"))
    if isinstance(node, exp.Between):
        target = _target(node.this)
        low, high = _string(args.get("low")), _string(args.get("high"))
        if target is None or low is None or high is None:
            return None
        return target, "between", (low, high), negated
    if isinstance(node, exp.In):
        if node.args.get("query") is not None:
            return _not_in_select(node) if negated else None
        target = _target(node.this)
        if target is None or node.args.get("unnest"):
            return None
        values = [_string(item) for item in node.expressions[:_MAX_VALUES]]
        if not values or len(node.expressions) > _MAX_VALUES:
            return None
        strings = tuple(value for value in values if value is not None)
        if len(strings) != len(values):
            return None
        return target, "<>" if negated else "=", strings, False
    left, right = node.args.get("this"), node.args.get("expression")
    if isinstance(node, exp.EQ | exp.NEQ) and isinstance(right, exp.Any | exp.All):
        array = right.this.this if isinstance(right.this, exp.Paren) else right.this
        target = _target(left)
        if (
            target is None
            or not isinstance(array, exp.Array)
            or len(array.expressions) > _MAX_VALUES
        ):
            return None
        values = [_string(item) for item in array.expressions]
        strings = tuple(value for value in values if value is not None)
        if not strings or len(strings) != len(values):
            return None
        equal = isinstance(node, exp.EQ) and isinstance(right, exp.Any)
        if not equal and not (isinstance(node, exp.NEQ) and isinstance(right, exp.All)):
            return None
        operator = "=" if equal != negated else "<>"
        return target, operator, strings, False
    target, value = _target(left), _string(right)
    if target is None or value is None:
        if isinstance(node, exp.Like | exp.ILike | exp.LTE):
            return None  # 'x' LIKE col: the pattern is the column; 'x' <= col: a lower bound
        target, value = _target(right), _string(left)
    if target is None or value is None:
        return None
    if isinstance(node, exp.LTE):
        return target, "<=", (value,), negated
    if isinstance(node, exp.Like | exp.ILike):
        if node.args.get("escape") is not None:
            return None
        operator = "ilike" if isinstance(node, exp.ILike) else "like"
        return target, operator, (value,), negated
    equal = isinstance(node, exp.EQ) != negated
    return target, "=" if equal else "<>", (value,), False


#: Node classes that read a JSON key as text (``details->>'channel'``), which the walk hands
#: to `read_key` wherever they are (the function form, jsonb_extract_path_text, comes as a
#: call: PATH_TEXT).
KEY_READS: frozenset[type[exp.Expr]] = frozenset({exp.JSONExtractScalar, exp.JSONBExtractScalar})


def read_key(node: exp.Expr, noted: Collection[int]) -> Found | None:
    """``col->>'key'`` (or ``#>>``, ``jsonb_extract_path_text``) of a column, anywhere in the
    statement: the notice says when the key is a documented one misspelt, whose reads are
    NULL on every row. `noted`: the ids of the comparisons already noted (the walk meets a
    comparison before its operands), which say it with what they then match."""
    target = _target(node)
    if target is None or not target.key:
        return None
    outer = node.parent
    while isinstance(outer, exp.Paren | exp.Cast) or (
        isinstance(outer, exp.Anonymous) and str(outer.this).lower() in _APPLIED
    ):
        outer = outer.parent
    if id(outer) in noted:
        return None
    return target, "->>", (), False


def _not_in_select(node: exp.In) -> Found | None:
    """``x NOT IN (SELECT col FROM t …)``: the subquery's column, unless the subquery already
    keeps its NULLs out (``WHERE col IS NOT NULL``)."""
    query = node.args["query"]
    select = query.this if isinstance(query, exp.Subquery) else query
    if not isinstance(select, exp.Select) or len(select.expressions) != 1:
        return None
    column = select.expressions[0]
    column = column.this if isinstance(column, exp.Alias) else column
    if not isinstance(column, exp.Column) or not isinstance(column.this, exp.Identifier):
        return None
    where = select.args.get("where")
    for test in where.find_all(exp.Is) if where is not None else ():
        tested, negated = test.this, bool(test.args.get("negate"))
        kept_out = negated != isinstance(test.parent, exp.Not)  # IS NOT NULL, NOT (… IS NULL)
        same = isinstance(tested, exp.Column) and fold(tested.this) == fold(column.this)
        if kept_out and same and isinstance(test.expression, exp.Null):
            return None
    return Target(column), "not in select", (), False


def _contains(node: exp.ArrayContainsAll) -> Found | None:
    """``col @> '{"key": value}'``: a JSON object literal contained in a column (the notice
    reads its keys and values against the documented ones)."""
    target, value = _target(node.this), _string(node.expression)
    if target is None or target.key or target.applied or value is None:
        return None
    if not value.lstrip().startswith("{"):
        return None  # an array literal, or an array column
    return target, "@>", (value,), False


def resolve(found: Found, relation_of: Mapping[int, str]) -> Comparison | None:
    """The comparison `found`, with the relations its column may belong to, or None when no
    relation can be named (a CTE, a subquery, an unknown alias)."""
    target, operator, values, negated = found
    column, applied, cast, key = target
    qualifier = column.args.get("table")
    name = fold(column.this)
    # the column's own SELECT: the comparison's, or for NOT IN (SELECT col …) the subquery's
    select = column.find_ancestor(exp.Select)
    while select is not None:
        named = sources(select)
        if qualifier is None:
            relations = tuple(relation_of.get(id(source), "") for _, source in named)
            if not relations or "" in relations:
                return None
            return Comparison(name, relations, operator, values, negated, applied, cast, key)
        wanted = fold(qualifier)
        for alias, source in named:
            if alias == wanted:
                relation = relation_of.get(id(source))
                if relation is None:
                    return None
                return Comparison(name, (relation,), operator, values, negated, applied, cast, key)
        select = select.find_ancestor(exp.Select)  # a correlated reference
    return None


def sources(select: exp.Select) -> list[tuple[str, exp.Expr]]:
    """(alias as PostgreSQL resolves it, source node) of the FROM list and joins of `select`;
    the alias is "" for a source without a name."""
    found: list[tuple[str, exp.Expr]] = []
    from_ = select.args.get("from_")
    items = [from_.this] if isinstance(from_, exp.From) else []
    items += [join.this for join in select.args.get("joins") or ()]
    for item in items:
        alias = item.args.get("alias")
        if isinstance(alias, exp.TableAlias) and alias.this is not None:
            found.append((fold(alias.this), item))
        elif isinstance(item, exp.Table) and isinstance(item.this, exp.Identifier):
            found.append((fold(item.this), item))
        else:
            found.append(("", item))
    return found


def _target(node: exp.Expr | None) -> Target | None:
    """The column `node` is, possibly in parentheses, cast, through one `upper`/`lower`, or
    one JSON key of it read as text (``->>``, ``#>>``)."""
    applied, cast = "", False
    while True:
        if isinstance(node, exp.Cast):
            cast = True
        elif isinstance(node, exp.Anonymous) and not applied and len(node.expressions) == 1:
            name = str(node.this).lower()
            if name not in _APPLIED:
                break
            applied = name
            node = node.expressions[0]
            continue
        elif not isinstance(node, exp.Paren):
            break
        node = node.this
    key: tuple[str, ...] = ()
    if isinstance(node, exp.JSONExtractScalar | exp.JSONBExtractScalar):
        found = _json_key(node)
        if found is None:
            return None
        node, key = found
    elif isinstance(node, exp.Anonymous) and str(node.this).lower() in PATH_TEXT:
        # jsonb_extract_path_text(col, 'vehicle', 'make'): col #>> '{vehicle,make}'
        steps = [_string(step) for step in node.expressions[1:]]
        if not steps or len(steps) > _MAX_KEY_DEPTH or None in steps:
            return None
        node, key = node.expressions[0], tuple(step for step in steps if step is not None)
    if isinstance(node, exp.Column) and isinstance(node.this, exp.Identifier):
        return Target(node, applied, cast, key)
    return None


#: The functions that read the text at a path of keys, as ``#>>`` does.
PATH_TEXT = frozenset({"json_extract_path_text", "jsonb_extract_path_text"})
_JSON_STEPS = (exp.JSONExtract, exp.JSONBExtract, exp.JSONExtractScalar, exp.JSONBExtractScalar)
#: The steps that take a path of keys, ``#>`` and ``#>>`` (the others take one key).
_PATH_STEPS = (exp.JSONBExtract, exp.JSONBExtractScalar)
_MAX_KEY_DEPTH = 8


def _json_key(node: exp.Expr) -> tuple[exp.Expr, tuple[str, ...]] | None:
    """(the column, the path of keys) of ``col->'a'->>'b'`` or ``col #>> '{a,b}'``; None when
    a step is not a constant key (an array index, an expression)."""
    path: list[str] = []
    while isinstance(node, _JSON_STEPS):
        keys = _json_path_keys(node.expression, path=isinstance(node, _PATH_STEPS))
        if keys is None or len(path) + len(keys) > _MAX_KEY_DEPTH:
            return None
        path[:0] = keys
        node = node.this
    return (node, tuple(path)) if path else None


def _json_path_keys(step: exp.Expr | None, *, path: bool) -> list[str] | None:
    """The keys one step reads: a key (``->``, ``->>``: sqlglot keeps it as a JSON path, or
    as the string when dollar-quoted) or a path of keys (``#>``, ``#>>``: ``'{a,b}'``)."""
    if isinstance(step, exp.JSONPath):
        parts = [part for part in step.expressions if not isinstance(part, exp.JSONPathRoot)]
        if parts and all(isinstance(part, exp.JSONPathKey) for part in parts):
            keys = [part.this for part in parts]
            return keys if all(isinstance(key, str) for key in keys) else None
        return None
    text = _string(step)
    if text is not None and not path:  # -> $$key$$
        return [text] if text else None
    if text is not None and text.startswith("{") and text.endswith("}"):  # #>> '{a,b}'
        keys = [key.strip() for key in text[1:-1].split(",")]
        return keys if all(key and not key.isdigit() and '"' not in key for key in keys) else None
    return None


def _string(node: exp.Expr | None) -> str | None:
    """The value of a plain or dollar-quoted string literal; None for anything else, and for
    strings with a backslash (written back as E'…' strings, whose text is escaped)."""
    while isinstance(node, exp.Paren | exp.Cast):
        node = node.this
    if (isinstance(node, exp.Literal) and node.is_string) or isinstance(node, exp.RawString):
        text = str(node.this)
        return text if len(text) <= MAX_LITERAL_CHARS and "\\" not in text else None
    return None
