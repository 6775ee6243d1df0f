"""Identity parameters end to end with OAuth access tokens: filled from the verified token,
never from the body or the query string, with and without row-level security."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import ClientFactory, admin_fetch
from named_queries import typed_docs_dir
from starlette.testclient import TestClient

from sqlgateway.auth.devtoken import DEV_AUDIENCE, DEV_ISSUER, ensure_dev_keys, mint_token
from sqlgateway.demo.database import DemoDatabase

OPEN = ("submitted", "under_review", "approved", "reopened")


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("named-oauth")
    ensure_dev_keys(directory)
    return directory


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return typed_docs_dir(tmp_path_factory.mktemp("named-identity-docs"))


def _oauth(make_client: ClientFactory, keys: Path, docs: Path, **scoping: Any) -> TestClient:
    client = make_client(
        auth="oauth",
        oauth_issuer=DEV_ISSUER,
        oauth_audience=DEV_AUDIENCE,
        oauth_jwks_url=(keys / "jwks.json").resolve().as_uri(),
        schema_docs_dir=docs,
        **scoping,
    )
    client.headers.pop("Authorization", None)
    return client


@pytest.fixture
def scoped(make_client: ClientFactory, keys: Path, docs: Path, demo: DemoDatabase) -> TestClient:
    """Per-user scoping as in the demo: the role from db_role, RLS keyed on sub."""
    return _oauth(
        make_client,
        keys,
        docs,
        scope_role_claim="db_role",
        scope_allowed_roles=f"{demo.policyholder_role},{demo.adjuster_role}",
        scope_settings="sqlgateway.user_id=sub",
    )


@pytest.fixture
def unscoped(make_client: ClientFactory, keys: Path, docs: Path) -> TestClient:
    """OAuth without row-level security: the reader sees every row."""
    return _oauth(make_client, keys, docs)


def token(keys: Path, sub: str, **claims: Any) -> dict[str, str]:
    signed = mint_token(keys, subject=sub, claims=claims, lifetime_s=600)
    return {"Authorization": f"Bearer {signed}"}


@pytest.fixture(scope="module")
def holders(demo: DemoDatabase) -> list[tuple[int, list[str]]]:
    """Two policyholders with open claims, and their open claims' numbers, newest first."""
    rows = admin_fetch(
        demo,
        "SELECT p.policyholder_id AS holder, "
        "array_agg(c.claim_number ORDER BY c.reported_at DESC) AS claims "
        "FROM claims c JOIN policies p USING (policy_id) "
        "WHERE c.status IN ('submitted', 'under_review', 'approved', 'reopened') "
        "GROUP BY 1 HAVING count(*) >= 2 ORDER BY 1 LIMIT 2",
    )
    return [(row["holder"], list(row["claims"])) for row in rows]


def _numbers(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    body = response.json()
    index = [c["name"] for c in body["columns"]].index("claim_number")
    return [row[index] for row in body["rows"]]


@pytest.mark.parametrize("mode", ["scoped", "unscoped"])
def test_my_open_claims_are_the_callers(
    request: pytest.FixtureRequest,
    mode: str,
    keys: Path,
    demo: DemoDatabase,
    holders: list[tuple[int, list[str]]],
) -> None:
    client: TestClient = request.getfixturevalue(mode)
    for holder, expected in holders:
        headers = token(keys, str(holder), db_role=demo.policyholder_role)
        got = _numbers(client.post("/queries/getMyOpenClaims", headers=headers))
        assert got == expected
        statuses = {row[1] for row in client.post(
            "/queries/getMyOpenClaims", headers=headers).json()["rows"]}  # fmt: skip
        assert statuses <= set(OPEN)


@pytest.mark.parametrize("mode", ["scoped", "unscoped"])
def test_the_identity_cannot_be_overridden(
    request: pytest.FixtureRequest,
    mode: str,
    keys: Path,
    demo: DemoDatabase,
    holders: list[tuple[int, list[str]]],
) -> None:
    client: TestClient = request.getfixturevalue(mode)
    (me, mine), (other, _) = holders
    headers = token(keys, str(me), db_role=demo.policyholder_role)
    attempts = [
        {"json": {"policyholder_id": other}},
        {"json": {"policyholder_id": str(other)}},
        {"json": {"policyholder_id": None}},
        {"params": {"policyholder_id": str(other)}},
        {"params": {"policyholder_id": str(other)}, "json": {}},
        {"params": {"sub": str(other)}},
    ]
    for attempt in attempts:
        response = client.post("/queries/getMyOpenClaims", headers=headers, **attempt)
        assert response.status_code == 400, (attempt, response.text)
        assert response.json()["error"]["code"] == "invalid_request"
    # the actor of whoAmI neither
    refused = client.post("/queries/whoAmI", headers=headers, json={"who": "admin"})
    assert refused.status_code == 400
    assert "is set from the caller's identity" in refused.json()["error"]["message"]
    assert _numbers(client.post("/queries/getMyOpenClaims", headers=headers)) == mine


def test_the_actor_is_the_token_s_subject(unscoped: TestClient, keys: Path) -> None:
    response = unscoped.post("/queries/whoAmI", headers=token(keys, "user-42"))
    assert response.json()["rows"] == [["user-42", None]]


@pytest.mark.parametrize(("sub", "status"), [("auth0|6", 403), ("0", 403)])
def test_a_subject_that_does_not_fit_is_forbidden(
    unscoped: TestClient, keys: Path, sub: str, status: int
) -> None:
    response = unscoped.post("/queries/getMyOpenClaims", headers=token(keys, sub))
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == "forbidden" and "claim:sub" in error["message"]


def test_without_credentials_nothing_answers(unscoped: TestClient) -> None:
    assert unscoped.post("/queries/getMyOpenClaims").status_code == 401


def test_the_claim_bound_queries_are_in_the_oauth_spec(unscoped: TestClient) -> None:
    paths = unscoped.get("/openapi.json").json()["paths"]
    assert "/queries/getMyOpenClaims" in paths and "/queries/myClaims" in paths
    assert "requestBody" not in paths["/queries/getMyOpenClaims"]["post"]
