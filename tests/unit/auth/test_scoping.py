"""scoping: identity claims → the role and RLS settings a request's transaction gets."""

from __future__ import annotations

from typing import Any

import pytest

from sqlgateway.auth import Identity
from sqlgateway.auth.scoping import DbScope, begin_statements, scope_for
from sqlgateway.db.sql import quote_literal
from sqlgateway.errors import ForbiddenError
from sqlgateway.settings import Settings

OAUTH: dict[str, Any] = {
    "auth": "oauth",
    "oauth_issuer": "https://idp.example/",
    "oauth_audience": "sqlgateway",
    "oauth_jwks_url": "https://idp.example/jwks.json",
}
SCOPED = Settings(
    **OAUTH,
    scope_role_claim="db_role",
    scope_allowed_roles="holder,adjuster",
    scope_settings="sqlgateway.user_id=sub,sqlgateway.email=email",
)


def who(**claims: Any) -> Identity:
    return Identity(actor=str(claims.get("sub", "anon")), auth_mode="oauth", claims=claims)


def test_claims_become_role_and_settings() -> None:
    scope = scope_for(who(sub="17", email="a@b.c", db_role="holder"), SCOPED)
    assert scope == DbScope(
        role="holder",
        settings=(
            ("sqlgateway.actor", "17"),
            ("sqlgateway.user_id", "17"),
            ("sqlgateway.email", "a@b.c"),
        ),
    )


def test_a_list_claim_picks_the_first_allowed_role() -> None:
    scope = scope_for(who(sub="1", email="e", db_role=["admin", "adjuster"]), SCOPED)
    assert scope.role == "adjuster"


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "1", "email": "e", "db_role": "postgres"},  # not in the allowlist
        {"sub": "1", "email": "e", "db_role": ["postgres"]},
        {"sub": "1", "email": "e"},  # no role, no default
        {"sub": "1", "db_role": "holder"},  # no email claim
        {"sub": "1", "email": "", "db_role": "holder"},
        {"sub": "1", "email": {"nested": 1}, "db_role": "holder"},
        {"sub": "1", "email": "a\x00b", "db_role": "holder"},
        {"sub": "1", "email": "x" * 2000, "db_role": "holder"},
    ],
)
def test_claims_that_do_not_allow_a_scope_are_forbidden(claims: dict[str, Any]) -> None:
    with pytest.raises(ForbiddenError):
        scope_for(who(**claims), SCOPED)


def test_the_default_role_serves_tokens_without_the_claim() -> None:
    settings = Settings(
        **OAUTH,
        scope_role_claim="db_role",
        scope_allowed_roles="holder",
        scope_default_role="holder",
    )
    assert scope_for(who(sub="1"), settings).role == "holder"


def test_api_keys_can_run_as_one_default_role() -> None:
    settings = Settings(scope_allowed_roles="holder", scope_default_role="holder")
    scope = scope_for(Identity(actor="gpt", auth_mode="api_key"), settings)
    assert scope.role == "holder"


def test_without_scoping_only_the_actor_is_published() -> None:
    scope = scope_for(Identity(actor="claims-gpt", auth_mode="api_key"), Settings())
    assert scope == DbScope(role=None, settings=(("sqlgateway.actor", "claims-gpt"),))


def test_values_are_quoted_so_they_cannot_end_the_literal() -> None:
    hostile = "x'; RESET ROLE; SELECT '\\"
    assert quote_literal(hostile) == "E'x''; RESET ROLE; SELECT ''\\\\'"
    statements = begin_statements(DbScope(role='we"ird', settings=(("a.b", hostile),)))
    assert statements == [
        'SET LOCAL ROLE "we""ird"',
        "SET LOCAL \"a\".\"b\" = E'x''; RESET ROLE; SELECT ''\\\\'",
    ]
