"""answer.py without a database: finding a query and binding its values (arguments checked,
defaults filled, identity parameters from the caller only)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from named_queries import STATUS_QUERY, compiled

from sqlgateway.auth import Identity
from sqlgateway.errors import ForbiddenError, InvalidRequestError, NotFoundError
from sqlgateway.named.answer import bind, example_arguments, find
from sqlgateway.named.compile import NamedQueries, NamedQuery

OAUTH = {
    "auth": "oauth",
    "oauth_issuer": "https://idp.example/",
    "oauth_audience": "api",
    "oauth_jwks_url": "https://idp.example/jwks",
}
MINE = {
    "name": "getMyClaims",
    "description": "The caller's claims.",
    "sql": "SELECT * FROM claims c JOIN policies p USING (policy_id) "
    "WHERE p.policyholder_id = :me AND c.status = CAST(:status AS claim_status) "
    "AND c.reported_at >= :since AND :by = :by",
    "parameters": {
        "me": {"type": "integer", "description": "d", "identity": "claim:sub", "minimum": 1},
        "status": {
            "type": "enum",
            "description": "d",
            "allowed_values": ["paid", "denied"],
            "default": "paid",
        },
        "since": {"type": "date", "description": "d", "required": False},
        "by": {"type": "string", "description": "d", "identity": "actor"},
    },
}
ALICE = Identity(actor="alice", auth_mode="oauth", claims={"sub": "6"})


@pytest.fixture
def named(tmp_path: Path) -> NamedQueries:
    return compiled(tmp_path, STATUS_QUERY, MINE, **OAUTH)


def _query(named: NamedQueries, name: str) -> NamedQuery:
    query = named.get(name)
    assert query is not None
    return query


def test_values_come_in_bind_order_with_defaults_and_identity(named: NamedQueries) -> None:
    mine = _query(named, "getMyClaims")
    assert mine.order == ("me", "status", "since", "by")
    assert bind(mine, None, ALICE) == (6, "paid", None, "alice")
    assert bind(mine, {"status": "denied", "since": "2025-01-01"}, ALICE) == (
        6,
        "denied",
        date(2025, 1, 1),
        "alice",
    )
    assert bind(mine, {"status": None}, ALICE)[1] == "paid"  # null: the default


@pytest.mark.parametrize(
    "arguments",
    [{"me": 7}, {"me": "7"}, {"by": "bob"}, {"me": None}, {"status": "paid", "me": 7}],
)
def test_identity_parameters_cannot_be_sent(named: NamedQueries, arguments: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequestError) as refused:
        bind(_query(named, "getMyClaims"), arguments, ALICE)
    assert refused.value.status_code == 400
    assert "is set from the caller's identity and cannot be sent" in refused.value.message


@pytest.mark.parametrize(
    ("claims", "says"),
    [
        ({}, "claim:sub is missing"),
        ({"sub": ""}, "claim:sub is missing"),
        ({"sub": "auth0|6"}, "claim:sub must be an integer of at least 1"),
        ({"sub": "0"}, "must be an integer of at least 1"),
        ({"sub": ["6"]}, "must be an integer"),
        ({"sub": True}, "must be an integer"),
    ],
)
def test_an_identity_without_the_claim_is_forbidden(
    named: NamedQueries, claims: dict[str, Any], says: str
) -> None:
    with pytest.raises(ForbiddenError, match=says):
        bind(_query(named, "getMyClaims"), {}, Identity("alice", "oauth", claims))


def test_every_problem_is_named_at_once(named: NamedQueries) -> None:
    with pytest.raises(InvalidRequestError) as refused:
        bind(_query(named, "getMyClaims"), {"status": "open", "since": "soon", "x": 1}, ALICE)
    message = refused.value.message
    assert message.startswith("invalid parameters for getMyClaims: ")
    assert "unknown parameter 'x'" in message
    assert "status must be one of paid, denied" in message
    assert "since must be a date YYYY-MM-DD" in message
    assert 'send a JSON object such as {"status":"paid"}' in (refused.value.hint or "")


@pytest.mark.parametrize("body", [[], ["CLM-0000123"], "CLM-0000123", 5])
def test_the_body_must_be_an_object(named: NamedQueries, body: Any) -> None:
    with pytest.raises(InvalidRequestError, match="must be a JSON object"):
        bind(_query(named, "getClaimStatus"), body, ALICE)


def test_a_required_parameter_must_be_sent(named: NamedQueries) -> None:
    with pytest.raises(InvalidRequestError, match="claim_number is required: a string matching"):
        bind(_query(named, "getClaimStatus"), {}, ALICE)


def test_unknown_names_get_404_with_the_closest(named: NamedQueries) -> None:
    with pytest.raises(NotFoundError) as missing:
        find(named, "getClaimStatuss")
    assert "did you mean getClaimStatus" in missing.value.message
    assert "getMyClaims" in (missing.value.hint or "")


def test_known_but_unserved_names_get_403(tmp_path: Path) -> None:
    with_keys = compiled(tmp_path, STATUS_QUERY, MINE)
    with pytest.raises(ForbiddenError, match="getMyClaims is not available on this gateway"):
        find(with_keys, "getMyClaims")


def test_example_arguments(named: NamedQueries) -> None:
    assert example_arguments(_query(named, "getClaimStatus")) == {"claim_number": "CLM-0000123"}
    assert example_arguments(_query(named, "getMyClaims")) == {"status": "paid"}
