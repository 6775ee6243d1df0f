"""auth.devtoken: a local key pair made once and reused, and tokens the gateway accepts when
pointed at it."""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path

import jwt
import pytest
from starlette.datastructures import Headers

from sqlgateway.auth import Identity
from sqlgateway.auth.devtoken import (
    DEV_AUDIENCE,
    DEV_ISSUER,
    PRIVATE_KEY_FILE,
    dev_environment,
    ensure_dev_keys,
    mint_token,
)
from sqlgateway.auth.oauth import OAuthAuthenticator
from sqlgateway.errors import UnauthorizedError
from sqlgateway.settings import Settings


def authenticate(settings: Settings, token: str) -> Identity:
    async def run() -> Identity:
        authenticator = OAuthAuthenticator(settings)
        try:
            return await authenticator.authenticate(Headers({"authorization": f"Bearer {token}"}))
        finally:
            await authenticator.aclose()

    return asyncio.run(run())


@pytest.fixture
def dev_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name, value in dev_environment(ensure_dev_keys(tmp_path / "dev")).items():
        monkeypatch.setenv(name, value)
    return Settings()


def test_the_key_pair_is_made_once_and_reused(tmp_path: Path) -> None:
    directory = tmp_path / "dev"
    jwks_path = ensure_dev_keys(directory)
    key_path = directory / PRIVATE_KEY_FILE
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert b"PRIVATE KEY" in key_path.read_bytes()
    (key,) = json.loads(jwks_path.read_text())["keys"]
    assert key["kty"] == "EC" and key["crv"] == "P-256"
    assert key["alg"] == "ES256" and key["use"] == "sig" and key["kid"]
    assert "d" not in key  # the public half only
    first = (key_path.read_bytes(), jwks_path.read_text())
    assert ensure_dev_keys(directory) == jwks_path
    assert (key_path.read_bytes(), jwks_path.read_text()) == first


def test_a_minted_token_is_accepted(tmp_path: Path, dev_settings: Settings) -> None:
    token = mint_token(tmp_path / "dev", subject="alice", claims={"scope": "sql:read"})
    assert jwt.get_unverified_header(token)["typ"] == "at+jwt"
    identity = authenticate(dev_settings, token)
    assert identity.actor == "alice" and identity.auth_mode == "oauth"
    assert identity.claims["scope"] == "sql:read"
    assert identity.claims["iss"] == DEV_ISSUER and identity.claims["aud"] == DEV_AUDIENCE


def test_registered_claims_come_from_the_arguments(tmp_path: Path, dev_settings: Settings) -> None:
    token = mint_token(tmp_path / "dev", subject="alice", claims={"sub": "root", "iss": "x"})
    assert authenticate(dev_settings, token).actor == "alice"


def test_a_negative_lifetime_mints_an_expired_token(tmp_path: Path, dev_settings: Settings) -> None:
    token = mint_token(tmp_path / "dev", subject="alice", lifetime_s=-3600)
    with pytest.raises(UnauthorizedError) as info:
        authenticate(dev_settings, token)
    assert info.value.reason == "expired"


def test_minting_makes_the_keys_when_missing(tmp_path: Path) -> None:
    token = mint_token(tmp_path / "fresh", subject="alice", audience="other-api")
    assert (tmp_path / "fresh" / "jwks.json").exists()
    assert jwt.decode(token, options={"verify_signature": False})["aud"] == "other-api"


def test_a_token_from_another_dev_key_is_refused(tmp_path: Path, dev_settings: Settings) -> None:
    token = mint_token(tmp_path / "other", subject="mallory")
    with pytest.raises(UnauthorizedError) as info:
        authenticate(dev_settings, token)
    assert info.value.reason == "unknown kid"  # the kid is the key's thumbprint
