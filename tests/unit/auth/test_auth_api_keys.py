"""auth.api_keys: named keys configured as hashes, accepted as Bearer, Basic or a custom
header, compared in constant time."""

from __future__ import annotations

import asyncio
import base64
import hmac

import pytest
from pydantic import SecretStr
from starlette.datastructures import Headers

from sqlgateway.auth.api_keys import ApiKeyAuthenticator, hash_key, key_entry, new_key
from sqlgateway.errors import UnauthorizedError

ALPHA = "alpha-key-0123456789-abcdefgh"
BETA = "beta-key-0123456789-abcdefghi"


@pytest.fixture
def authenticator() -> ApiKeyAuthenticator:
    entries = [SecretStr(key_entry("claims-gpt", ALPHA)), SecretStr(key_entry("ops", BETA))]
    return ApiKeyAuthenticator(entries, header="X-API-Key")


def actor(authenticator: ApiKeyAuthenticator, headers: dict[str, str]) -> str:
    return asyncio.run(authenticator.authenticate(Headers(headers))).actor


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_the_entry_holds_a_hash_never_the_key() -> None:
    key = new_key()
    entry = key_entry("gpt", key)
    assert key not in entry and entry == f"gpt:{hash_key(key)}"
    assert len(key) >= 40 and new_key() != key


@pytest.mark.parametrize(
    ("headers", "name"),
    [
        ({"Authorization": f"Bearer {ALPHA}"}, "claims-gpt"),
        ({"Authorization": f"bearer  {BETA} "}, "ops"),
        ({"Authorization": basic("anyone", ALPHA)}, "claims-gpt"),
        ({"Authorization": basic("", BETA)}, "ops"),
        ({"X-API-Key": ALPHA}, "claims-gpt"),
        ({"x-api-key": BETA, "Authorization": "Bearer wrong"}, "ops"),
    ],
)
def test_each_accepted_form_names_the_key(
    authenticator: ApiKeyAuthenticator, headers: dict[str, str], name: str
) -> None:
    assert actor(authenticator, headers) == name


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer wrong-key"},
        {"Authorization": basic(ALPHA, "wrong")},
        {"Authorization": "Basic !!!notbase64"},
        {"Authorization": ALPHA},
        {"Authorization": f"Token {ALPHA}"},
        {"X-Other-Header": ALPHA},
        {"X-API-Key": ALPHA[:-1]},
        {"Authorization": f"Bearer {hash_key(ALPHA)}"},  # the hash is not a key
    ],
)
def test_anything_else_is_unauthorized_without_echoing_it(
    authenticator: ApiKeyAuthenticator, headers: dict[str, str]
) -> None:
    with pytest.raises(UnauthorizedError) as info:
        actor(authenticator, headers)
    error = info.value
    assert error.headers["WWW-Authenticate"].startswith('Bearer realm="sqlgateway"')
    for text in (error.message, error.reason, str(error.body())):
        assert ALPHA not in text and "wrong" not in text


def test_the_challenge_follows_rfc_6750(authenticator: ApiKeyAuthenticator) -> None:
    with pytest.raises(UnauthorizedError) as missing:
        actor(authenticator, {})
    assert "error=" not in missing.value.headers["WWW-Authenticate"]
    with pytest.raises(UnauthorizedError) as wrong:
        actor(authenticator, {"Authorization": "Bearer nope"})
    assert 'error="invalid_token"' in wrong.value.headers["WWW-Authenticate"]
    assert wrong.value.reason == "unknown API key"


def test_comparison_is_constant_time(
    authenticator: ApiKeyAuthenticator, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    actor(authenticator, {"Authorization": f"Bearer {ALPHA}"})
    # every configured hash is compared, even after the first one matched, and only digests
    # of equal length are compared (never the offered text itself)
    assert len(calls) == 2
    assert all(len(a) == len(b) == 32 for a, b in calls)
    assert all(ALPHA.encode() not in (a, b) for a, b in calls)
