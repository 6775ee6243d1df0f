"""The action schema: valid OpenAPI 3.1, within the GPT platform's limits, in step with the app."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from conftest import ROOT
from openapi_spec_validator import validate

from sqlgateway.app import create_app
from sqlgateway.routes import ENDPOINTS
from sqlgateway.settings import Settings
from sqlgateway.spec.openapi import ERROR_CODES, build_spec, render_yaml

DEFAULT_URL = "http://127.0.0.1:8000"


def test_repository_openapi_yaml_is_the_rendered_spec() -> None:
    committed = (ROOT / "openapi.yaml").read_text()
    assert committed == render_yaml(build_spec(DEFAULT_URL)), (
        "openapi.yaml is stale: run `sqlgateway openapi --server-url http://127.0.0.1:8000 "
        "> openapi.yaml`"
    )


def test_spec_validates() -> None:
    validate(yaml.safe_load((ROOT / "openapi.yaml").read_text()))


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op) for path, item in spec["paths"].items() for method, op in item.items()
    ]


def test_operations_respect_the_gpt_action_limits() -> None:
    spec = build_spec(DEFAULT_URL)
    for path, method, op in _operations(spec):
        assert op["operationId"], (path, method)
        assert len(op.get("summary", "")) <= 300 and len(op.get("description", "")) <= 300
        assert op["x-openai-isConsequential"] is False  # every operation only reads
    for schema in spec["components"]["schemas"].values():
        for prop in schema.get("properties", {}).values():
            assert len(prop.get("description", "")) <= 700


def test_spec_matches_the_routes_of_the_app() -> None:
    app = create_app(
        Settings(api_keys="k:sha256:" + "0" * 64, database_url="postgresql://x@127.0.0.1:1/x")
    )
    routes = {
        (route.path, method.lower())  # type: ignore[attr-defined]
        for route in app.routes
        for method in route.methods or ()  # type: ignore[attr-defined]
        if method != "HEAD"
    }
    documented = {(path, method) for path, method, _ in _operations(build_spec(DEFAULT_URL))}
    offered = {(e.path, e.method.lower()) for e in ENDPOINTS if e.operation is not None}
    assert documented == offered
    assert documented <= routes


def test_error_codes_in_the_spec_are_the_ones_the_code_raises() -> None:
    import sqlgateway.errors as errors

    codes = {
        cls.code
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.GatewayError)
    }
    assert set(ERROR_CODES) == codes


OAUTH = {
    "auth": "oauth",
    "oauth_issuer": "https://idp.example/",
    "oauth_audience": "api",
    "oauth_jwks_url": "https://idp.example/jwks",
}


@pytest.mark.parametrize(
    ("values", "schemes", "requirement"),
    [
        ({}, {"apiKey": ("http", "bearer")}, [{"apiKey": []}]),
        ({"api_key_header": "X-API-Key"}, {"apiKey": ("apiKey", None)}, [{"apiKey": []}]),
        ({"auth": "none"}, {}, []),
        (OAUTH, {"oauth": ("http", "bearer")}, [{"oauth": []}]),
        (
            {
                **OAUTH,
                "oauth_authorization_url": "https://idp.example/authorize",
                "oauth_token_url": "https://idp.example/token",
                "oauth_scopes": "openid,sql:read",
            },
            {"oauth": ("oauth2", None)},
            [{"oauth": ["openid", "sql:read"]}],
        ),
    ],
)
def test_security_follows_the_configured_authentication(
    values: dict[str, str],
    schemes: dict[str, tuple[str, str | None]],
    requirement: list[dict[str, list[str]]],
) -> None:
    spec = build_spec(DEFAULT_URL, settings=Settings(**values))  # type: ignore[arg-type]
    validate(spec)
    found = spec["components"]["securitySchemes"]
    assert {name: (s["type"], s.get("scheme")) for name, s in found.items()} == schemes
    assert spec["security"] == requirement
    if "apiKey" in found and found["apiKey"]["type"] == "apiKey":
        assert found["apiKey"]["name"] == "X-API-Key" and found["apiKey"]["in"] == "header"


def test_every_endpoint_is_documented() -> None:
    reference = " ".join((ROOT / "docs" / "api.md").read_text().split())
    for endpoint in ENDPOINTS:
        assert f"`{endpoint.method} {endpoint.path}" in reference, endpoint.path
