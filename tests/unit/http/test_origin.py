"""http/origin.OriginCheck: browsers' requests from pages of other origins are refused on the
MCP endpoints (DNS-rebinding defence), CORS goes to allowed origins only and never echoes
another, everything else passes untouched. The origin settings are validated."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from pydantic import ValidationError
from starlette.types import Message, Receive, Scope, Send

from sqlgateway.http.origin import OriginCheck, allowed_origins
from sqlgateway.http.record import RequestRecord
from sqlgateway.settings import Settings, origin_of


def run(settings: Settings, path: str, method: str = "POST", **headers: str) -> dict[str, Any]:
    """The answer of OriginCheck around an app that answers 200; `reached`: whether it did."""
    reached = []
    record = RequestRecord(method=method, path=path)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        reached.append(True)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    scope: Scope = {
        "type": "http",
        "method": method,
        "path": path,
        "headers": [(k.replace("_", "-").lower().encode(), v.encode()) for k, v in headers.items()],
        "state": {"record": record},
    }
    asyncio.run(OriginCheck(app, settings)(scope, receive, send))
    start = sent[0]
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return {
        "status": start["status"],
        "headers": {k.decode(): v.decode() for k, v in start["headers"]},
        "body": body,
        "reached": bool(reached),
        "record": record,
    }


SETTINGS = Settings(public_url="https://gw.example.com")


@pytest.mark.parametrize("origin", ["https://evil.example", "http://gw.example.com", "null"])
def test_a_foreign_origin_gets_403_before_anything_else(origin: str) -> None:
    answer = run(SETTINGS, "/mcp", Origin=origin, Authorization="Bearer whatever")
    assert answer["status"] == 403 and not answer["reached"]
    assert orjson.loads(answer["body"])["error"]["code"] == "forbidden"
    assert "access-control-allow-origin" not in answer["headers"]
    assert answer["record"].outcome == "forbidden"


@pytest.mark.parametrize(
    "origin",
    ["https://gw.example.com", "https://chatgpt.com", "https://claude.ai", "HTTPS://Claude.AI"],
)
def test_allowed_origins_pass_with_cors_naming_them(origin: str) -> None:
    answer = run(SETTINGS, "/mcp", Origin=origin)
    assert answer["status"] == 200 and answer["reached"]
    assert answer["headers"]["access-control-allow-origin"] == origin
    assert answer["headers"]["vary"] == "Origin"
    assert "Mcp-Session-Id" in answer["headers"]["access-control-expose-headers"]


def test_requests_without_origin_are_not_affected() -> None:
    answer = run(SETTINGS, "/mcp")
    assert answer["status"] == 200 and answer["reached"]
    assert "access-control-allow-origin" not in answer["headers"]


def test_other_endpoints_are_not_affected() -> None:
    answer = run(SETTINGS, "/query", Origin="https://evil.example")
    assert answer["status"] == 200 and answer["reached"]
    assert "access-control-allow-origin" not in answer["headers"]


def test_a_preflight_from_an_allowed_origin_is_answered_without_credentials() -> None:
    answer = run(
        SETTINGS,
        "/mcp",
        "OPTIONS",
        Origin="https://claude.ai",
        Access_Control_Request_Method="POST",
        Access_Control_Request_Headers="authorization, content-type, mcp-param-region, x-evil",
    )
    assert answer["status"] == 204 and not answer["reached"]
    headers = answer["headers"]
    assert headers["access-control-allow-origin"] == "https://claude.ai"
    assert headers["access-control-allow-methods"] == "POST"
    granted = headers["access-control-allow-headers"].split(", ")
    assert {"authorization", "mcp-protocol-version", "mcp-param-region"} <= set(granted)
    assert "x-evil" not in granted


def test_a_preflight_from_a_foreign_origin_is_refused() -> None:
    answer = run(
        SETTINGS,
        "/mcp",
        "OPTIONS",
        Origin="https://evil.example",
        Access_Control_Request_Method="POST",
    )
    assert answer["status"] == 403


def test_the_resource_metadata_is_checked_too() -> None:
    path = "/.well-known/oauth-protected-resource"
    assert run(SETTINGS, path, "GET", Origin="https://evil.example")["status"] == 403
    allowed = run(SETTINGS, path, "GET", Origin="https://chatgpt.com")
    assert allowed["headers"]["access-control-allow-origin"] == "https://chatgpt.com"


def test_the_allowed_origins_are_configurable_and_can_be_only_the_gateway_s() -> None:
    settings = Settings(mcp_allowed_origins="http://localhost:6274, https://app.example.com:8443")
    assert allowed_origins(settings) == {
        "http://127.0.0.1:8000",
        "http://localhost:6274",
        "https://app.example.com:8443",
    }
    assert allowed_origins(Settings(mcp_allowed_origins="")) == {"http://127.0.0.1:8000"}
    assert run(settings, "/mcp", Origin="https://claude.ai")["status"] == 403


@pytest.mark.parametrize(
    "entry", ["*", "https://*.example.com", "app.example.com", "https://a.example/path", "ftp://a"]
)
def test_an_allowed_origin_must_be_an_origin(entry: str) -> None:
    with pytest.raises(ValidationError, match="is not a web origin"):
        Settings(mcp_allowed_origins=entry)


def test_origin_of_is_what_browsers_send() -> None:
    assert origin_of("https://GW.example.com:443/sql/") == "https://gw.example.com"
    assert origin_of("http://[::1]:8000") == "http://[::1]:8000"
