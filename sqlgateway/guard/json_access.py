"""Other dialects' JSON access, written with PostgreSQL's operators (guard/dialects.py).

Pure. sqlglot reads MySQL's ``JSON_EXTRACT(details, '$.a.b')``, BigQuery's
``JSON_EXTRACT_SCALAR``/``JSON_VALUE``, Snowflake's ``details:a.b``, SQLite's
``json_extract``, T-SQL's and Oracle's ``JSON_VALUE`` as JSON extractions and writes them as
``JSON_EXTRACT_PATH(details, 'a', 'b')``, a function PostgreSQL has for ``json`` only: on a
``jsonb`` column it fails. The operators ``->``, ``->>`` work on both, so every extraction
whose path is plain keys and array indexes is written with them:

>>> import sqlglot
>>> tree = sqlglot.parse_one("SELECT JSON_VALUE(details, '$.vehicle.make') FROM claims", "tsql")
>>> rewrite_json_access(tree).sql("postgres")
"SELECT details -> 'vehicle' ->> 'make' FROM claims"

What the value is stays what the dialect meant: a scalar extraction (``JSON_VALUE``,
``JSON_EXTRACT_SCALAR``, ``JSON_UNQUOTE(JSON_EXTRACT(…))``, ``->>``, a cast to a string) is
text (``->>``); MySQL's ``JSON_EXTRACT`` and Snowflake's ``details:a`` are JSON (``->``). JSON
compared with a literal, matched with LIKE, summed or cast is read as text first, cast to the
literal's type: ``details -> 'injuries' = true`` fails in PostgreSQL (jsonb = boolean), so
MySQL's ``JSON_EXTRACT(details, '$.injuries') = true`` becomes
``CAST(details ->> 'injuries' AS BOOLEAN) = TRUE``.
"""

from __future__ import annotations

from sqlglot import exp

__all__ = ["has_json_access", "rewrite_json_access"]

_EXTRACTS = (exp.JSONExtract, exp.JSONExtractScalar, exp.JSONValue)
#: Comparisons whose JSON operand is read as a value of the other operand's type.
_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ, exp.NullSafeNEQ)
_JSON_TYPES = frozenset({exp.DType.JSON, exp.DType.JSONB})
_TEXT_TYPES = frozenset(
    {exp.DType.TEXT, exp.DType.VARCHAR, exp.DType.NVARCHAR, exp.DType.CHAR, exp.DType.NCHAR}
)


def has_json_access(tree: exp.Expr, *, brackets: bool = False) -> bool:
    """Whether `tree` extracts from JSON in a way `rewrite_json_access` writes anew
    (`brackets`: ``doc['key']`` is JSON access too, as in Snowflake and BigQuery)."""
    if brackets and any(_bracket_key(node) is not None for node in tree.find_all(exp.Bracket)):
        return True
    return any(_steps(node) is not None for node in tree.find_all(*_EXTRACTS))


def rewrite_json_access(tree: exp.Expr, *, brackets: bool = False) -> exp.Expr:
    """`tree` (changed in place) with its JSON extractions written as ``->``/``->>``."""
    if brackets:
        for bracket in reversed(list(tree.find_all(exp.Bracket))):
            key = _bracket_key(bracket)
            if key is not None:
                path = exp.JSONPath(expressions=[exp.JSONPathRoot(), exp.JSONPathKey(this=key)])
                bracket.replace(exp.JSONExtract(this=bracket.this, expression=path))
    for call in list(tree.find_all(exp.Anonymous)):
        _unquote(call)
    for value in list(tree.find_all(exp.JSONValue)):
        _json_value(value)
    for extract in list(tree.find_all(exp.JSONExtract)):
        _as_value(extract)
    for node in list(tree.find_all(exp.JSONExtract, exp.JSONExtractScalar)):
        steps = _steps(node)
        if steps is not None:
            node.replace(_arrows(node.this, steps, text=isinstance(node, exp.JSONExtractScalar)))
    return tree


def _steps(node: exp.Expr) -> list[str | int] | None:
    """The keys and array indexes of `node`'s path (``$.a[0].b`` → ['a', 0, 'b']), or None
    when it is not a plain path (wildcards, filters, a path computed at run time)."""
    if any(node.args.get(arg) for arg in ("expressions", "option", "on_condition", "emits")):
        return None  # several paths, or options PostgreSQL's operators do not have
    path = node.args.get("path") if isinstance(node, exp.JSONValue) else node.expression
    if not isinstance(path, exp.JSONPath) or not path.expressions:
        return None
    parts = path.expressions
    if not isinstance(parts[0], exp.JSONPathRoot) or len(parts) < 2:
        return None
    steps: list[str | int] = []
    for part in parts[1:]:
        key = part.this
        is_key = type(part) is exp.JSONPathKey and isinstance(key, str)
        is_index = type(part) is exp.JSONPathSubscript and isinstance(key, int) and key >= 0
        if not (is_key or is_index):
            return None
        steps.append(key)
    return steps


def _bracket_key(node: exp.Bracket) -> str | None:
    """The key of ``doc['key']`` (one string: an array's index is left as written)."""
    keys = node.expressions
    if len(keys) == 1 and isinstance(keys[0], exp.Literal) and keys[0].is_string:
        return str(keys[0].this)
    return None


def _arrows(this: exp.Expr, steps: list[str | int], *, text: bool) -> exp.Expr:
    """``this -> 'a' -> 0 ->> 'b'`` (the last arrow ``->>`` when `text`)."""
    node = this
    for position, step in enumerate(steps):
        key = exp.Literal.number(step) if isinstance(step, int) else exp.Literal.string(step)
        last = position == len(steps) - 1
        kind = exp.JSONExtractScalar if last and text else exp.JSONExtract
        node = kind(this=node, expression=key)
    return node


def _scalar(node: exp.JSONExtract) -> exp.JSONExtractScalar:
    return exp.JSONExtractScalar(this=node.this, expression=node.expression)


def _unquote(node: exp.Anonymous) -> None:
    """MySQL's ``JSON_UNQUOTE(JSON_EXTRACT(…))`` (or of ``->``) is the text extraction."""
    if node.name.upper() != "JSON_UNQUOTE" or len(node.expressions) != 1:
        return
    inner = node.expressions[0]
    if isinstance(inner, exp.JSONExtract) and _steps(inner) is not None:
        node.replace(_scalar(inner))


def _json_value(node: exp.JSONValue) -> None:
    """Oracle's ``JSON_VALUE(doc, '$.a' [RETURNING type])``: the text extraction (cast)."""
    if _steps(node) is None:
        return
    scalar = exp.JSONExtractScalar(this=node.this, expression=node.args["path"])
    returning = node.args.get("returning")
    if isinstance(returning, exp.DataType) and returning.this not in _TEXT_TYPES:
        node.replace(exp.Cast(this=scalar, to=returning))
    else:
        node.replace(scalar)


def _as_value(node: exp.JSONExtract) -> None:
    """A JSON extraction where a value is meant, read as text (and cast to the type meant)."""
    if _steps(node) is None:
        return
    parent = node.parent
    if isinstance(parent, exp.Cast) and parent.this is node:
        to = parent.args.get("to")
        if isinstance(to, exp.DataType) and to.this not in _JSON_TYPES:
            if to.this in _TEXT_TYPES:
                parent.replace(_scalar(node))
            else:
                node.replace(_scalar(node))
        return
    if isinstance(parent, exp.Sum | exp.Avg):
        node.replace(exp.Cast(this=_scalar(node), to=exp.DataType.build("numeric")))
        return
    if isinstance(parent, exp.Like | exp.ILike) and parent.this is node:
        node.replace(_scalar(node))
        return
    literals = _compared_with(node, parent)
    if literals:
        to = _value_type(literals)
        scalar = _scalar(node)
        node.replace(scalar if to is None else exp.Cast(this=scalar, to=exp.DataType.build(to)))


def _compared_with(node: exp.Expr, parent: exp.Expr | None) -> list[exp.Expr]:
    """The literals `node` is compared with (``= 'x'``, ``IN (1, 2)``, ``BETWEEN 1 AND 9``,
    ``IS TRUE``), or none."""
    if isinstance(parent, _COMPARISONS):
        other = parent.expression if parent.this is node else parent.this
        return [other] if _literal(other) else []
    if isinstance(parent, exp.In) and parent.this is node and parent.expressions:
        return list(parent.expressions) if all(map(_literal, parent.expressions)) else []
    if isinstance(parent, exp.Between) and parent.this is node:
        bounds = [parent.args.get("low"), parent.args.get("high")]
        return [b for b in bounds if b is not None] if all(map(_literal, bounds)) else []
    if isinstance(parent, exp.Is) and isinstance(parent.expression, exp.Boolean):
        return [parent.expression]
    return []


def _literal(node: exp.Expr | None) -> bool:
    if isinstance(node, exp.Neg):
        node = node.this
    return isinstance(node, exp.Boolean | exp.Literal)


def _value_type(literals: list[exp.Expr]) -> str | None:
    """The type JSON compared with `literals` is cast to: None (text) for strings."""
    if all(isinstance(literal, exp.Boolean) for literal in literals):
        return "boolean"
    if any(isinstance(literal, exp.Boolean) or literal.is_string for literal in literals):
        return None
    return "numeric"
