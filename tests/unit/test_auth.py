"""auth: API keys as bearer tokens, compared in constant time."""

from __future__ import annotations

import hmac

import pytest
from pydantic import SecretStr

from sqlgateway.auth import ApiKeyAuthenticator
from sqlgateway.errors import UnauthorizedError


@pytest.fixture
def authenticator() -> ApiKeyAuthenticator:
    return ApiKeyAuthenticator([SecretStr("alpha-key"), SecretStr("beta-key")])


def test_each_configured_key_is_accepted_and_named(authenticator: ApiKeyAuthenticator) -> None:
    assert authenticator.authenticate("Bearer alpha-key") == "key1"
    assert authenticator.authenticate("bearer beta-key") == "key2"


@pytest.mark.parametrize(
    "header", [None, "", "Bearer", "Bearer ", "Bearer wrong", "Basic YWxwaGEta2V5", "alpha-key"]
)
def test_anything_else_is_unauthorized(
    authenticator: ApiKeyAuthenticator, header: str | None
) -> None:
    with pytest.raises(UnauthorizedError) as info:
        authenticator.authenticate(header)
    assert info.value.headers["WWW-Authenticate"].startswith("Bearer")
    assert "alpha-key" not in info.value.message


def test_comparison_is_constant_time(
    authenticator: ApiKeyAuthenticator, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    authenticator.authenticate("Bearer alpha-key")
    # every key is compared, even after the first one matched
    assert len(calls) == 2


def test_no_keys_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="at least one"):
        ApiKeyAuthenticator([])
