"""Per-user scoping: what the database is told about the caller, inside each transaction.

From the caller's identity and the SQLGATEWAY_SCOPE_* settings comes a `DbScope`: the role
the request runs as (`SET LOCAL ROLE`, only roles in the allowlist) and the transaction-local
settings row-level-security policies read (`current_setting('sqlgateway.user_id', true)`).
The executor applies both right after `BEGIN READ ONLY`, before the model's statement, and
ROLLBACK ends them. The model cannot change them: the guard refuses SET, RESET, set_config
and every other way to write a setting (tests/integration/auth/test_scoping_rls.py proves it).

Everything here is pure; values are written as SQL literals by `begin_statements`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlgateway.auth import Identity
from sqlgateway.db.sql import quote_ident, quote_literal
from sqlgateway.errors import ForbiddenError
from sqlgateway.settings import Settings

#: The setting that always carries the actor, for RLS policies and pg_stat_activity joins.
ACTOR_SETTING = "sqlgateway.actor"
#: Longest claim value published as a setting.
MAX_SETTING_CHARS = 1_000


@dataclass(frozen=True, slots=True)
class DbScope:
    role: str | None = None
    settings: tuple[tuple[str, str], ...] = ()


def scope_for(identity: Identity, settings: Settings) -> DbScope:
    """The role and settings for `identity`; ForbiddenError when its claims do not allow one."""
    values = [(ACTOR_SETTING, _setting_value(identity.actor, "actor"))]
    for setting, claim in settings.scope_setting_claims:
        raw = identity.claims.get(claim)
        if raw is None or isinstance(raw, (dict, list, bool)) or raw == "":
            raise ForbiddenError(
                f"the identity has no usable {claim!r} claim, which this gateway needs to "
                "scope queries to the caller",
                hint="sign in again, or ask the operator which claims the token must carry",
            )
        values.append((setting, _setting_value(str(raw), claim)))
    return DbScope(role=_role(identity, settings), settings=tuple(values))


def _role(identity: Identity, settings: Settings) -> str | None:
    if settings.scope_role_claim is None:
        return settings.scope_default_role
    claimed = identity.claims.get(settings.scope_role_claim)
    if isinstance(claimed, list):  # e.g. a `roles` claim: the first allowed one
        claimed = next((r for r in claimed if r in settings.scope_allowed_roles), None)
    if claimed is None:
        if settings.scope_default_role is None:
            raise ForbiddenError(
                f"the identity has no {settings.scope_role_claim!r} claim naming its database role",
                hint="ask the operator to assign a role to this user",
            )
        return settings.scope_default_role
    if not isinstance(claimed, str) or claimed not in settings.scope_allowed_roles:
        raise ForbiddenError(
            "the identity's database role is not one this gateway serves",
            hint="ask the operator to allow the role or assign another one",
        )
    return claimed


def _setting_value(value: str, claim: str) -> str:
    if "\x00" in value or len(value) > MAX_SETTING_CHARS:
        raise ForbiddenError(f"the identity's {claim!r} claim cannot be passed to the database")
    return value


def begin_statements(scope: DbScope) -> list[str]:
    """`SET LOCAL` statements that apply `scope` inside the open transaction."""
    statements = [f"SET LOCAL ROLE {quote_ident(scope.role)}"] if scope.role else []
    statements += [
        f"SET LOCAL {quote_ident(prefix)}.{quote_ident(name)} = {quote_literal(value)}"
        for prefix, name, value in (
            (*setting.split(".", 1), value) for setting, value in scope.settings
        )
    ]
    return statements
