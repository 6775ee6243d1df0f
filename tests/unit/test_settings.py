"""settings: defaults, limits, and the refusal of values the GPT platform cannot live with."""

from __future__ import annotations

import pytest
from conftest import ROOT
from pydantic import ValidationError

from sqlgateway.cli import main
from sqlgateway.settings import Settings
from sqlgateway.settings_doc import settings_markdown


def test_defaults_fit_the_platform_limits() -> None:
    settings = Settings()
    assert settings.statement_timeout_ms == 25_000
    assert settings.statement_timeout_ms < settings.request_deadline_ms < 45_000
    assert settings.max_response_chars < 100_000
    assert settings.max_request_chars == 100_000


def test_statement_timeout_at_the_platform_limit_is_refused_with_a_clear_message() -> None:
    with pytest.raises(ValidationError, match="45000 ms request timeout"):
        Settings(statement_timeout_ms=45_000)


def test_deadline_must_sit_between_statement_timeout_and_platform_limit() -> None:
    with pytest.raises(ValidationError, match="REQUEST_DEADLINE_MS"):
        Settings(statement_timeout_ms=30_000, request_deadline_ms=30_000)


def test_response_limit_cannot_exceed_the_platform_payload() -> None:
    with pytest.raises(ValidationError):
        Settings(max_response_chars=100_001)


def test_lists_are_comma_separated_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    alpha, beta = (
        f"{name}:sha256:" + digit * 64 for name, digit in (("alpha", "a"), ("beta", "b"))
    )
    monkeypatch.setenv("SQLGATEWAY_API_KEYS", f"{alpha}, {beta},,")
    monkeypatch.setenv("SQLGATEWAY_ALLOWED_SCHEMAS", "public,sales")
    settings = Settings()
    assert [k.get_secret_value() for k in settings.api_keys] == [alpha, beta]
    assert settings.allowed_schemas == ("public", "sales")


def test_secrets_do_not_show_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    entry = "ops:sha256:" + "c" * 64
    monkeypatch.setenv("SQLGATEWAY_API_KEYS", entry)
    monkeypatch.setenv("SQLGATEWAY_DATABASE_URL", "postgresql://u:pw-123@h/db")
    monkeypatch.setenv("SQLGATEWAY_OAUTH_CLIENT_SECRET", "client-secret-42")
    text = repr(Settings())
    assert "c" * 64 not in text and "pw-123" not in text and "client-secret-42" not in text


def test_a_plain_key_is_refused_without_being_echoed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SQLGATEWAY_API_KEYS", "my-plain-secret-key")
    assert main(["serve", "--database-url", "postgresql://127.0.0.1:1/x"]) == 2
    err = capsys.readouterr().err
    assert "hash-key" in err and "my-plain-secret-key" not in err


@pytest.mark.parametrize(
    ("values", "needle"),
    [
        ({"api_keys": "a:sha256:" + "0" * 64 + ",a:sha256:" + "1" * 64}, "unique"),
        ({"oauth_algorithms": "RS256,HS256"}, "HMAC"),
        ({"oauth_algorithms": "none"}, "HMAC"),
        ({"auth": "none", "host": "0.0.0.0"}, "ALLOW_NO_AUTH"),
        ({"auth": "oauth", "oauth_issuer": "https://i/"}, "SQLGATEWAY_OAUTH_AUDIENCE"),
        ({"auth": "oauth", "oauth_issuer": "i", "oauth_audience": "a"}, "JWKS_URL"),
        ({"scope_role_claim": "role"}, "SCOPE_ALLOWED_ROLES"),
        ({"scope_allowed_roles": "a", "scope_default_role": "b"}, "DEFAULT_ROLE"),
        ({"scope_settings": "user_id=sub"}, "needs a dot"),
        ({"scope_settings": "sqlgateway.user_id=sub"}, "need SQLGATEWAY_AUTH=oauth"),
        ({"scope_role_claim": "r", "scope_allowed_roles": "a"}, "need SQLGATEWAY_AUTH=oauth"),
    ],
)
def test_unsafe_or_incomplete_auth_settings_are_refused(
    values: dict[str, str], needle: str
) -> None:
    with pytest.raises(ValidationError) as info:
        Settings(**values)  # type: ignore[arg-type]
    assert needle in str(info.value)


def test_no_auth_is_allowed_on_loopback_or_with_the_explicit_override() -> None:
    assert Settings(auth="none", host="127.0.0.1").auth == "none"
    assert Settings(auth="none", host="::1").auth == "none"
    assert Settings(auth="none", host="0.0.0.0", allow_no_auth_on_public_host=True).auth == "none"


def test_serve_refuses_a_bad_timeout_before_starting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SQLGATEWAY_STATEMENT_TIMEOUT_MS", "60000")
    assert main(["serve", "--database-url", "postgresql://127.0.0.1:1/x"]) == 2
    err = capsys.readouterr().err
    assert "SQLGATEWAY_STATEMENT_TIMEOUT_MS" in err and "45000" in err


def test_every_setting_is_documented_in_the_configuration_reference() -> None:
    reference = (ROOT / "docs" / "configuration.md").read_text()
    assert settings_markdown() in reference, (
        "docs/configuration.md's settings table is stale: sqlgateway settings"
    )
    for name in Settings.model_fields:
        assert f"SQLGATEWAY_{name.upper()}" in reference


@pytest.mark.parametrize(
    ("retired", "instead"),
    [
        ("SQLGATEWAY_AUDIT_FLUSH_MS", "SQLGATEWAY_AUDIT_COMMIT_WINDOW_MS"),
        ("SQLGATEWAY_AUDIT_BATCH_SIZE", "SQLGATEWAY_AUDIT_COMMIT_MAX_EVENTS"),
        ("SQLGATEWAY_AUDIT_QUEUE_SIZE", "nothing"),
    ],
)
def test_a_retired_audit_setting_stops_the_start_and_names_what_replaced_it(
    monkeypatch: pytest.MonkeyPatch, retired: str, instead: str
) -> None:
    monkeypatch.setenv(retired, "200")
    with pytest.raises(ValidationError) as refused:
        Settings()
    assert retired in str(refused.value) and instead in str(refused.value)
