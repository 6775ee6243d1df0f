"""Auth over /mcp, identical to /query: API keys and OAuth access tokens, the gateway as an
OAuth 2.0 protected resource (RFC 9728), and per-user scoping on the demo: two
policyholders' tokens see disjoint claims, and nothing of one call reaches the next."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from conftest import TEST_API_KEY, admin_fetch, make_settings
from live import live_server
from mcp import Client
from mcp_client import MODES, over_http

from sqlgateway.auth.devtoken import DEV_AUDIENCE, DEV_ISSUER, ensure_dev_keys, mint_token
from sqlgateway.demo.database import DemoDatabase

PUBLIC_URL = "https://gw.example.com"
METADATA_URL = f"{PUBLIC_URL}/.well-known/oauth-protected-resource"
LIST = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
JSON = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("mcp-oauth")
    ensure_dev_keys(directory)
    return directory


@pytest.fixture(scope="module")
def api_key_url(demo: DemoDatabase) -> Iterator[str]:
    with live_server(make_settings(demo)) as url:
        yield url


@pytest.fixture(scope="module")
def oauth_url(demo: DemoDatabase, keys: Path) -> Iterator[str]:
    settings = make_settings(
        demo,
        auth="oauth",
        oauth_issuer=DEV_ISSUER,
        oauth_audience=DEV_AUDIENCE,
        oauth_jwks_url=(keys / "jwks.json").resolve().as_uri(),
        oauth_scopes="claims.read",
        scope_role_claim="db_role",
        scope_allowed_roles=f"{demo.policyholder_role},{demo.adjuster_role}",
        scope_settings="sqlgateway.user_id=sub",
        public_url=PUBLIC_URL,
    )
    with live_server(settings) as url:
        yield url


def bearer(
    keys: Path,
    sub: str,
    role: str | None,
    *,
    audience: str = DEV_AUDIENCE,
    lifetime_s: int = 600,
) -> dict[str, str]:
    claims: dict[str, Any] = {} if role is None else {"db_role": role}
    signed = mint_token(
        keys,
        issuer=DEV_ISSUER,
        audience=audience,
        subject=sub,
        claims=claims,
        lifetime_s=lifetime_s,
    )
    return {"Authorization": f"Bearer {signed}"}


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


def claim_ids(url: str, headers: dict[str, str], mode: str = "auto") -> set[int]:
    async def work(client: Client) -> Any:
        return await client.call_tool(
            "run_query", {"sql": "SELECT claim_id FROM claims", "max_rows": 5_000}
        )

    result = over_http(url, headers, work, mode)
    assert not result.is_error, result.content
    return {row[0] for row in (result.structured_content or {})["rows"]}


# -- API keys --------------------------------------------------------------------------------


def test_api_keys_work_over_mcp(api_key_url: str) -> None:
    headers = {"Authorization": f"Bearer {TEST_API_KEY}"}
    result = over_http(
        api_key_url, headers, lambda c: c.call_tool("run_query", {"sql": "SELECT 1"})
    )
    assert not result.is_error


@pytest.mark.parametrize(
    "credentials", [{}, {"Authorization": "Bearer wrong-key-0123456789abcdef"}]
)
def test_without_a_valid_key_mcp_gets_401(api_key_url: str, credentials: dict[str, str]) -> None:
    response = httpx2.post(f"{api_key_url}/mcp", json=LIST, headers={**JSON, **credentials})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert "resource_metadata" not in response.headers["www-authenticate"]


def test_with_api_keys_there_is_no_resource_metadata(api_key_url: str) -> None:
    response = httpx2.get(f"{api_key_url}/.well-known/oauth-protected-resource")
    assert response.status_code == 404
    assert "API keys" in response.json()["error"]["message"]


# -- OAuth: the protected resource ------------------------------------------------------------


def test_no_token_gets_401_naming_the_resource_metadata(oauth_url: str) -> None:
    response = httpx2.post(f"{oauth_url}/mcp", json=LIST, headers=JSON)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        f'Bearer realm="sqlgateway", resource_metadata="{METADATA_URL}"'
    )


def test_the_resource_metadata_names_the_authorization_server(oauth_url: str) -> None:
    response = httpx2.get(f"{oauth_url}/.well-known/oauth-protected-resource")
    assert response.status_code == 200
    assert response.json() == {
        "resource": PUBLIC_URL,
        "authorization_servers": [DEV_ISSUER],
        "scopes_supported": ["claims.read"],
        "bearer_methods_supported": ["header"],
        "resource_name": "sqlgateway",
    }


@pytest.mark.parametrize(
    "case", ["expired", "another audience", "not a token", "no actor role claim"]
)
def test_bad_tokens_are_refused_over_mcp(
    oauth_url: str, keys: Path, demo: DemoDatabase, case: str
) -> None:
    headers = {
        "expired": bearer(keys, "1", demo.policyholder_role, lifetime_s=-120),
        "another audience": bearer(
            keys, "1", demo.policyholder_role, audience="https://another.example"
        ),
        "not a token": {"Authorization": "Bearer not-a-token"},
        "no actor role claim": bearer(keys, "1", None),
    }[case]
    response = httpx2.post(f"{oauth_url}/mcp", json=LIST, headers={**JSON, **headers})
    if case == "no actor role claim":  # a valid token without the claim scoping needs
        assert response.status_code == 403
        return
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert (
        'error="invalid_token"' in challenge and f'resource_metadata="{METADATA_URL}"' in challenge
    )


# -- OAuth: per-user scoping ---------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_two_policyholders_see_their_own_disjoint_claims_over_mcp(
    oauth_url: str,
    keys: Path,
    demo: DemoDatabase,
    holders: list[tuple[int, set[int]]],
    mode: str,
) -> None:
    seen = []
    for holder, expected in holders:
        got = claim_ids(oauth_url, bearer(keys, str(holder), demo.policyholder_role), mode)
        assert got == expected
        seen.append(got)
    assert seen[0] and seen[1] and not seen[0] & seen[1]


def test_nothing_of_one_user_s_call_reaches_the_next(
    oauth_url: str, keys: Path, demo: DemoDatabase, holders: list[tuple[int, set[int]]]
) -> None:
    """Interleaved calls of two users, some of them trying to change who they are: every
    answer is its caller's own, whatever came before it on the same server."""
    (first, first_claims), (second, second_claims) = holders
    tokens = {
        first: bearer(keys, str(first), demo.policyholder_role),
        second: bearer(keys, str(second), demo.policyholder_role),
    }
    expected = {first: first_claims, second: second_claims}
    attempt = f"SELECT set_config('sqlgateway.user_id', '{second}', false)"

    async def as_user(client: Client) -> Any:
        refused = await client.call_tool("run_query", {"sql": attempt})
        rows = await client.call_tool(
            "run_query", {"sql": "SELECT claim_id FROM claims", "max_rows": 5_000}
        )
        return refused, rows

    for holder in (first, second, first, second, first):
        refused, rows = over_http(oauth_url, tokens[holder], as_user)
        assert refused.is_error
        assert {row[0] for row in (rows.structured_content or {})["rows"]} == expected[holder]
