"""Hints for JSON read the wrong way: ``->`` (json) compared with a string or a number,
``->>`` (text) compared with a number or boolean, ``::`` binding before ``->>``, a key cast
to a number that holds booleans, a key that lives deeper in the object.

Pure; rules of types.py's, on PostgreSQL's English messages.
"""

from __future__ import annotations

from sqlglot import exp

from sqlgateway.catalog.spelling import json_access, quoted
from sqlgateway.catalog.suggest import json_path
from sqlgateway.hints.failure import COMPARISONS, Failure

#: The four ways to read JSON: ->, ->>, #>, #>>.
JSON_ACCESS = (exp.JSONExtract, exp.JSONExtractScalar, exp.JSONBExtract, exp.JSONBExtractScalar)


def json_comparison(failure: Failure, right: str) -> str | None:
    """JSON read with ``->``/``->>`` compared with a `right` (a number or boolean type): the
    cast that makes it comparable, or the deeper key meant."""
    tree = failure.tree
    if tree is None:
        return None
    for node in tree.find_all(*COMPARISONS):
        left = node.this
        while isinstance(left, exp.Paren):
            left = left.this
        if isinstance(left, JSON_ACCESS):
            nested = _nested_key(failure, left)
            if nested is not None:
                return nested
            if isinstance(left, exp.JSONExtract | exp.JSONBExtract):
                left = exp.JSONExtractScalar(this=left.this, expression=left.expression)
            access = left.sql(dialect="postgres")
            cast = "boolean" if right == "boolean" else "numeric" if right == "numeric" else "int"
            operator = COMPARISONS.get(type(node), "=")
            value = node.expression.sql(dialect="postgres")
            fix = f"({access})::{cast} {operator} {value}"
            extra = ""
            if right == "boolean":
                column = left.this.sql(dialect="postgres")
                key = left.expression.sql(dialect="postgres").strip("'")
                extra = f", or test containment: {column} @> '{{\"{key}\": {value.lower()}}}'"
            return f"->> gives text (-> gives json): cast it before comparing with a {right}: {fix}{extra}"
    return None


def json_key(access: exp.Expr) -> str | None:
    """The key an ``->``/``->>`` access reads (sqlglot keeps it as a JSON path or a string)."""
    key = access.args.get("expression")
    if isinstance(key, exp.JSONPath):
        steps = [step for step in key.expressions if isinstance(step, exp.JSONPathKey)]
        return str(steps[-1].this) if steps else None
    if isinstance(key, exp.Literal) and key.is_string:
        return str(key.this)
    return None


def _nested_key(failure: Failure, access: exp.Expr) -> str | None:
    """``model_year is a key of details' vehicle`` when a top-level access names a key that
    the column's documented examples hold deeper down."""
    column = access.this
    key = json_key(access)
    if not isinstance(column, exp.Column) or key is None:
        return None
    found = failure.column(column.name)
    if found is None:
        return None
    path = json_path(key, found[1])
    if path is None or len(path) < 2:
        return None
    return (
        f"{key} is inside the {path[-2]} object of {column.name}: write "
        f"{json_access(column.name, path)} (cast it, e.g. ::int, to compare with a number)"
    )


def key_values(failure: Failure, access: exp.Expr, value: str) -> str:
    """`` (and 'online' is not one of its values: …)`` when the documented key `access` reads
    has a domain without `value`."""
    column, key = access.this, json_key(access)
    if not isinstance(column, exp.Column) or key is None:
        return ""
    found = failure.column(column.name)
    documented = found[1].key((key,)) if found is not None else None
    domain = documented.domain if documented is not None else None
    miss = domain.miss(value, "=") if domain is not None else None
    if domain is None or miss is None:
        return ""
    meant = f"did you mean {quoted(miss.fix)}? " if miss.fix else ""
    return f"; and {quoted(value)} is not one of its values: {meant}({key} is {domain.describe(value)})"


def json_cast_to(tree: exp.Expr, types: tuple[str, ...]) -> exp.Expr | None:
    """The first ``(col->>'key')::type`` of the statement with `type` among `types`."""
    for cast in tree.find_all(exp.Cast):
        access = cast.this
        while isinstance(access, exp.Paren):
            access = access.this
        wanted = cast.to.sql(dialect="postgres").lower() in (*types, "int", "bigint", "decimal")
        if wanted and isinstance(access, exp.JSONExtractScalar | exp.JSONBExtractScalar):
            return access
    return None


def json_value_hint(failure: Failure, access: exp.Expr, kind: str, value: str) -> str:
    """A JSON key cast to a number holds `value`, which is not one."""
    shown = access.sql(dialect="postgres").replace(" ->> ", "->>").replace(" -> ", "->")
    if value.lower() in ("true", "false"):
        return (
            f"{shown} holds JSON booleans ({quoted(value)}), not numbers: cast it to boolean, "
            f"({shown})::boolean, or compare the text, {shown} = 'true'"
        )
    return (
        f"{shown} is not a number on every row ({quoted(value)} is one value): cast only the "
        f"numbers, e.g. CASE WHEN {shown} ~ '^-?[0-9.]+$' THEN ({shown})::{kind} END"
    )
