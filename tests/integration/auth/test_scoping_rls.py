"""Per-user scoping end to end: OAuth access tokens (signed here, verified against a JWKS),
SET LOCAL ROLE from a claim, RLS settings from claims, on the real demo database.

Two policyholders running the same SQL get disjoint rows; whatever SQL a user writes, they
cannot switch role, change the settings RLS reads, or read another user's rows by id."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import TEST_READER, ClientFactory, admin_fetch, read_events
from starlette.testclient import TestClient

from sqlgateway.auth.devtoken import DEV_AUDIENCE, DEV_ISSUER, ensure_dev_keys, mint_token
from sqlgateway.auth.oauth import INVALID_TOKEN_MESSAGE
from sqlgateway.demo.database import DemoDatabase
from sqlgateway.role.report import UnsafeRoleError


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("dev-oauth")
    ensure_dev_keys(directory)
    return directory


@pytest.fixture
def oauth_client(
    make_client: ClientFactory, demo: DemoDatabase, keys: Path, tmp_path: Path
) -> TestClient:
    client = make_client(
        auth="oauth",
        oauth_issuer=DEV_ISSUER,
        oauth_audience=DEV_AUDIENCE,
        oauth_jwks_url=(keys / "jwks.json").resolve().as_uri(),
        scope_role_claim="db_role",
        scope_allowed_roles=f"{demo.policyholder_role},{demo.adjuster_role}",
        scope_settings="sqlgateway.user_id=sub",
        audit_file=tmp_path / "audit.jsonl",
    )
    client.headers.pop("Authorization", None)
    return client


def token(
    keys: Path, sub: str, role: str | None, lifetime_s: int = 600, **claims: Any
) -> dict[str, str]:
    if role is not None:
        claims["db_role"] = role
    signed = mint_token(
        keys,
        issuer=DEV_ISSUER,
        audience=DEV_AUDIENCE,
        subject=sub,
        claims=claims,
        lifetime_s=lifetime_s,
    )
    return {"Authorization": f"Bearer {signed}"}


def query(client: TestClient, headers: dict[str, str], sql: str) -> Any:
    return client.post("/query", json={"sql": sql, "max_rows": 5_000}, headers=headers)


def ids(response: Any, column: str = "claim_id") -> set[int]:
    assert response.status_code == 200, response.text
    body = response.json()
    index = [c["name"] for c in body["columns"]].index(column)
    return {row[index] for row in body["rows"]}


@pytest.fixture(scope="module")
def holders(demo: DemoDatabase) -> list[tuple[int, set[int]]]:
    """Two policyholders with claims, and the ids of their claims (read as the superuser)."""
    rows = admin_fetch(
        demo,
        "SELECT p.policyholder_id AS holder, array_agg(c.claim_id) AS claims "
        "FROM claims c JOIN policies p USING (policy_id) "
        "GROUP BY 1 HAVING count(*) BETWEEN 2 AND 50 ORDER BY 1 LIMIT 2",
    )
    return [(row["holder"], set(row["claims"])) for row in rows]


def test_two_policyholders_get_their_own_disjoint_rows(
    oauth_client: TestClient, keys: Path, demo: DemoDatabase, holders: list[tuple[int, set[int]]]
) -> None:
    seen = []
    for holder, expected in holders:
        headers = token(keys, str(holder), demo.policyholder_role)
        got = ids(query(oauth_client, headers, "SELECT * FROM claims"))
        assert got == expected
        seen.append(got)
    assert seen[0] and seen[1] and not seen[0] & seen[1]


def test_an_adjuster_sees_exactly_the_claims_assigned_to_them(
    oauth_client: TestClient, keys: Path, demo: DemoDatabase
) -> None:
    row = admin_fetch(
        demo,
        "SELECT adjuster_id, array_agg(claim_id) AS claims FROM claims "
        "WHERE adjuster_id IS NOT NULL GROUP BY 1 ORDER BY 1 LIMIT 1",
    )[0]
    headers = token(keys, str(row["adjuster_id"]), demo.adjuster_role)
    got = ids(query(oauth_client, headers, "SELECT claim_id FROM claims"))
    assert got == set(row["claims"])


@pytest.mark.parametrize(
    "attack",
    [
        "SELECT set_config('sqlgateway.user_id', '{other}', true)",
        "SELECT claim_id FROM claims WHERE set_config('sqlgateway.user_id', '{other}', true) "
        "IS NOT NULL",
        "SET sqlgateway.user_id = '{other}'",
        "SET LOCAL sqlgateway.user_id = '{other}'",
        "SET ROLE {reader}",
        "RESET ROLE",
        "RESET ALL",
        "SELECT current_setting('sqlgateway.user_id')",
        "WITH x AS (SELECT set_config('role', '{reader}', true)) SELECT * FROM x",
        "SELECT claim_id FROM claims; SET ROLE NONE",
    ],
)
def test_a_user_cannot_change_who_the_database_thinks_they_are(
    oauth_client: TestClient,
    keys: Path,
    demo: DemoDatabase,
    holders: list[tuple[int, set[int]]],
    attack: str,
) -> None:
    (mine, my_claims), (other, _) = holders
    headers = token(keys, str(mine), demo.policyholder_role)
    sql = attack.format(other=other, reader=TEST_READER)
    refused = query(oauth_client, headers, sql)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["code"] in {"rejected", "syntax_error"}
    # and the next request still sees only this user's rows
    assert ids(query(oauth_client, headers, "SELECT claim_id FROM claims")) == my_claims


def test_another_users_rows_by_id_come_back_empty(
    oauth_client: TestClient, keys: Path, demo: DemoDatabase, holders: list[tuple[int, set[int]]]
) -> None:
    (mine, _), (other, other_claims) = holders
    headers = token(keys, str(mine), demo.policyholder_role)
    some = min(other_claims)
    for sql in (
        f"SELECT * FROM claims WHERE claim_id = {some}",
        f"SELECT * FROM claim_events WHERE claim_id = {some}",
        f"SELECT * FROM payments WHERE claim_id = {some}",
        f"SELECT * FROM policyholders WHERE policyholder_id = {other}",
        f"SELECT * FROM policies WHERE policyholder_id = {other}",
        "SELECT count(*) AS n FROM claims WHERE claim_id IN "
        f"({', '.join(map(str, sorted(other_claims)))})",
    ):
        response = query(oauth_client, headers, sql)
        assert response.status_code == 200, response.text
        rows = response.json()["rows"]
        assert rows in ([], [[0]]), (sql, rows)


@pytest.mark.parametrize(
    ("role", "extra", "status"),
    [
        ("postgres", {}, 403),  # a role outside the allowlist
        (None, {}, 403),  # no role claim and no default
        ("{policyholder}", {"lifetime_s": -3_600}, 401),  # expired
    ],
)
def test_identities_that_may_not_query_are_refused(
    oauth_client: TestClient,
    keys: Path,
    demo: DemoDatabase,
    role: str | None,
    extra: dict[str, Any],
    status: int,
) -> None:
    if role is not None:
        role = role.format(policyholder=demo.policyholder_role)
    response = query(oauth_client, token(keys, "1", role, **extra), "SELECT 1")
    assert response.status_code == status
    expected = "unauthorized" if status == 401 else "forbidden"
    assert response.json()["error"]["code"] == expected
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_refusals_are_audited_with_a_reason_the_caller_never_sees(
    make_client: ClientFactory, demo: DemoDatabase, keys: Path, tmp_path: Path
) -> None:
    audit_file = tmp_path / "audit.jsonl"
    client = make_client(
        auth="oauth",
        oauth_issuer=DEV_ISSUER,
        oauth_audience=DEV_AUDIENCE,
        oauth_jwks_url=(keys / "jwks.json").resolve().as_uri(),
        audit_file=audit_file,
    )
    expired = token(keys, "alice", None, lifetime_s=-3_600)
    response = client.post("/query", json={"sql": "SELECT 1"}, headers=expired)
    # the caller learns only the generic RFC 6750 answer, the audit log learns why
    assert response.status_code == 401
    assert response.json()["error"]["message"] == INVALID_TOKEN_MESSAGE
    good = client.post("/query", json={"sql": "SELECT 1"}, headers=token(keys, "alice", None))
    assert good.status_code == 200
    client.__exit__(None, None, None)
    events = read_events(audit_file)
    assert [e["outcome"] for e in events] == ["unauthorized", "ok"]
    assert "expired" in events[0]["reason"].lower() and events[1]["actor"] == "alice"
    assert all(e["auth_mode"] == "oauth" for e in events)
    assert expired["Authorization"].split()[1].encode() not in audit_file.read_bytes()


def test_roles_a_request_may_switch_to_are_checked_before_serving(
    demo: DemoDatabase, make_client: ClientFactory
) -> None:
    """An allowlisted role the login role cannot switch to, or one that could write, stops the
    gateway at start (the pool's first connection), like an unsafe login role does."""
    writer = "sqlgateway_test_scoped_writer"
    admin_fetch(
        demo,
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{writer}') "
        f"THEN CREATE ROLE {writer} NOLOGIN; END IF; END $$",
    )
    admin_fetch(demo, f"GRANT INSERT ON claims TO {writer}")
    admin_fetch(demo, f"GRANT {writer} TO {TEST_READER}")
    try:
        for role, finding in (("pg_monitor", "cannot SET ROLE"), (writer, "INSERT")):
            with pytest.raises(UnsafeRoleError) as info:
                make_client(scope_allowed_roles=role, scope_default_role=role)
            assert finding in str(info.value)
    finally:
        admin_fetch(demo, f"REVOKE {writer} FROM {TEST_READER}")
        admin_fetch(demo, f"REVOKE ALL ON claims FROM {writer}")
