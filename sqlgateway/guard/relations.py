"""The relation rule: which tables and views a query may read.

Refused: relations in system schemas (``pg_catalog``, ``information_schema``, ``pg_toast``,
``pg_temp*`` — every schema starting with ``pg_``) and unqualified names starting with
``pg_`` (``pg_catalog`` is implicitly first on the search path, so ``FROM pg_authid`` reads
the catalog), unless listed in ``policy.allowed_system_relations``; cross-database names; and,
when the policy restricts them, schemas and tables it does not list (unqualified names count
as schema ``public``). A name that refers to a CTE in scope is not a relation.
"""

from __future__ import annotations

from sqlglot import exp

from sqlgateway.errors import RejectedError
from sqlgateway.guard.names import fold
from sqlgateway.guard.policy import GuardPolicy

DEFAULT_SCHEMA = "public"
SYSTEM_PREFIX = "pg_"
SYSTEM_SCHEMAS = frozenset({"information_schema"})

_SYSTEM_HINT = (
    "system catalogs, statistics and other sessions' activity are not readable through this "
    "gateway; query the application's tables instead"
)
_POLICY_HINT = "query only the tables this gateway exposes (see the schema documentation)"


def check_relation(table: exp.Table, policy: GuardPolicy) -> str | None:
    """The lower-cased name (qualified as written) of the relation `table` reads, or None when
    it names a CTE in scope or is a function in FROM."""
    this = table.this
    if this is None or isinstance(this, exp.Func):
        return None
    if not isinstance(this, exp.Identifier) or table.args.get("catalog") is not None:
        shown = table.sql(dialect="postgres").lower()
        raise RejectedError(
            f"cross-database reference {shown} is not allowed",
            construct=f"relation {shown}",
            hint="name relations as table or schema.table",
        )
    db = table.args.get("db")
    name = fold(this)
    schema = fold(db) if db is not None else None
    shown = (name if schema is None else f"{schema}.{name}").lower()
    if schema is None and is_cte_reference(table, name):
        return None
    if _is_system(schema, name):
        qualified = f"{schema or 'pg_catalog'}.{name}"
        if qualified in policy.allowed_system_relations:
            return shown
        raise _refused(shown, _SYSTEM_HINT)
    schema = schema or DEFAULT_SCHEMA
    if policy.allowed_schemas and schema not in policy.allowed_schemas:
        raise _refused(shown, _POLICY_HINT)
    if policy.allowed_tables and f"{schema}.{name}" not in policy.allowed_tables:
        raise _refused(shown, _POLICY_HINT)
    return shown


def is_cte_reference(table: exp.Table, name: str) -> bool:
    """Whether the unqualified `name` read by `table` resolves to a CTE in scope.

    Scope as in PostgreSQL: a query sees the CTEs of its own WITH and of enclosing queries;
    a CTE's body sees the earlier CTEs of its WITH, or all of them with RECURSIVE.
    """
    child: exp.Expr = table
    node = table.parent
    while node is not None:
        if isinstance(node, exp.With):
            recursive = bool(node.args.get("recursive"))
            for cte in node.expressions:
                if cte is child and not recursive:
                    break
                if _cte_name(cte) == name:
                    return True
            owner = node.parent
            if owner is None:
                return False
            child, node = owner, owner.parent
            continue
        with_ = node.args.get("with_")
        if (
            isinstance(with_, exp.With)
            and with_ is not child
            and any(_cte_name(cte) == name for cte in with_.expressions)
        ):
            return True
        child, node = node, node.parent
    return False


def _cte_name(cte: exp.Expr) -> str:
    alias = cte.args.get("alias")
    return fold(alias.this) if isinstance(alias, exp.TableAlias) else ""


def _is_system(schema: str | None, name: str) -> bool:
    if schema is None:
        return name.lower().startswith(SYSTEM_PREFIX)
    schema = schema.lower()
    return schema.startswith(SYSTEM_PREFIX) or schema in SYSTEM_SCHEMAS


def _refused(shown: str, hint: str) -> RejectedError:
    return RejectedError(
        f"relation {shown} is not allowed", construct=f"relation {shown}", hint=hint
    )
