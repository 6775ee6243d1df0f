"""The function rule: every call must be a curated safe built-in or an operator-allowed extra.

A call's name is taken as PostgreSQL resolves it (``names.fold``). Unqualified and
``pg_catalog``-qualified calls may use SAFE_FUNCTIONS; a call qualified with any other schema
is a user-defined function and needs its qualified name in ``policy.extra_functions``; an
unqualified extra name allows only unqualified calls.
"""

from __future__ import annotations

from sqlglot import exp

from sqlgateway.errors import RejectedError
from sqlgateway.guard.names import fold
from sqlgateway.guard.policy import GuardPolicy
from sqlgateway.guard.safe_functions import REFUSAL_HINTS, SAFE_FUNCTIONS, TYPED_FUNCTIONS

BUILTIN_SCHEMA = "pg_catalog"

#: Node classes that are function calls.
FUNCTION_NODES: frozenset[type[exp.Expr]] = frozenset({exp.Anonymous, *TYPED_FUNCTIONS})

_UNKNOWN_HINT = (
    "only the built-in PostgreSQL functions on the gateway's safe list can be called "
    "(see docs/guard.md); rewrite the query with those, or ask the operator to add the "
    "function to SQLGATEWAY_ALLOWED_FUNCTIONS"
)
_USER_DEFINED_HINT = (
    "user-defined functions run only when the operator allows them by qualified name "
    "(SQLGATEWAY_ALLOWED_FUNCTIONS=schema.name); use built-in functions instead"
)


def check_function(node: exp.Expr, policy: GuardPolicy) -> str:
    """The lower-cased name (qualified as written) of the call `node`, if it may run.

    Refusals name the function as PostgreSQL would resolve it (quoted names keep their case).
    """
    schema = _qualifier(node)
    if type(node) is exp.Anonymous:
        name = fold(node.this)
        builtin = name in SAFE_FUNCTIONS
    else:
        name = TYPED_FUNCTIONS[type(node)]
        builtin = True
    called = name if schema is None else f"{schema}.{name}"
    if schema is None:
        allowed = builtin or name in policy.extra_functions
    elif schema == BUILTIN_SCHEMA:
        allowed = builtin or called in policy.extra_functions
    else:
        allowed = called in policy.extra_functions
    if not allowed:
        raise RejectedError(
            f"function {called} is not allowed",
            construct=f"function {called}",
            hint=refusal_hint(name.lower(), schema),
        )
    return called.lower()


def refusal_hint(name: str, schema: str | None) -> str:
    """What to do instead of calling the refused function `name`."""
    for prefixes, hint in REFUSAL_HINTS:
        if name.startswith(prefixes):
            return hint
    if schema is not None and schema != BUILTIN_SCHEMA:
        return _USER_DEFINED_HINT
    return _UNKNOWN_HINT


def _qualifier(node: exp.Expr) -> str | None:
    """The folded schema a call is qualified with (``schema.f()``), or None."""
    parent = node.parent
    if isinstance(parent, exp.Dot) and parent.expression is node:
        schema = parent.this
        if isinstance(schema, exp.Identifier):
            return fold(schema)
        raise _cross_database(parent)
    if isinstance(parent, exp.Table) and parent.this is node:
        if parent.args.get("catalog") is not None:
            raise _cross_database(parent)
        db = parent.args.get("db")
        return fold(db) if db is not None else None
    return None


def _cross_database(node: exp.Expr) -> RejectedError:
    return RejectedError(
        "calling a function through a database or a composite value is not allowed",
        construct="qualified function call",
        hint="call functions as name(...) or schema.name(...)",
    )
