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


def check_relation(
    table: exp.Table, policy: GuardPolicy, scopes: CteScopes | None = None
) -> str | None:
    """The lower-cased name (qualified as written) of the relation `table` reads, or None when
    it names a CTE in scope or is a function in FROM. Pass the same `scopes` for every table
    of a tree."""
    this = table.this
    if this is None or isinstance(this, exp.Func):
        return None
    if not isinstance(this, exp.Identifier) or table.args.get("catalog") is not None:
        shown = table.sql(dialect="postgres").lower()
        what = "cross-database reference" if isinstance(this, exp.Identifier | exp.Dot) else ""
        raise RejectedError(
            f"{what or 'relation reference'} {shown} is not allowed",
            construct=f"relation {shown}",
            hint="name relations as table or schema.table",
        )
    db = table.args.get("db")
    name = fold(this)
    schema = fold(db) if db is not None else None
    shown = (name if schema is None else f"{schema}.{name}").lower()
    if schema is None and is_cte_reference(table, name, scopes or CteScopes()):
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


class CteScopes:
    """The CTE names of each WITH clause of one tree, worked out once per clause."""

    def __init__(self) -> None:
        self._clauses: dict[int, tuple[dict[str, int], dict[int, int]]] = {}

    def names(self, clause: exp.With) -> tuple[dict[str, int], dict[int, int]]:
        """(folded name → position of its first CTE, id of each CTE → its position)."""
        found = self._clauses.get(id(clause))
        if found is None:
            names: dict[str, int] = {}
            positions: dict[int, int] = {}
            for position, cte in enumerate(clause.expressions):
                names.setdefault(_cte_name(cte), position)
                positions[id(cte)] = position
            found = self._clauses[id(clause)] = (names, positions)
        return found


def is_cte_reference(table: exp.Table, name: str, scopes: CteScopes) -> bool:
    """Whether the unqualified `name` read by `table` resolves to a CTE in scope.

    Scope as in PostgreSQL: a query sees the CTEs of its own WITH and of enclosing queries;
    a CTE's body sees the earlier CTEs of its WITH, or all of them with RECURSIVE.
    """
    child: exp.Expr = table
    node = table.parent
    while node is not None:
        if isinstance(node, exp.With):
            names, positions = scopes.names(node)
            first = names.get(name)
            if first is not None and (
                node.args.get("recursive") or first < positions.get(id(child), 0)
            ):
                return True
            owner = node.parent
            if owner is None:
                return False
            child, node = owner, owner.parent
            continue
        with_ = node.args.get("with_")
        if isinstance(with_, exp.With) and with_ is not child and name in scopes.names(with_)[0]:
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
