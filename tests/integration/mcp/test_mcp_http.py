"""/mcp end to end with the official MCP Python SDK's client, over real HTTP, in both protocol
eras: the tools, their answers (the /query body plus fenced text), refusals and truncation,
one audit event per call, metrics by protocol, statelessness, Origin checks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import orjson
import pytest
from conftest import (
    AUDIT_DIR,
    TEST_API_KEY,
    TEST_KEY_NAME,
    admin_fetch,
    make_settings,
    read_events,
)
from live import live_server
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp_client import MODES, error_of, over_http, text
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from sqlgateway.app import create_app
from sqlgateway.demo.database import DemoDatabase
from sqlgateway.demo.files import demo_docs_dir

AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}
MODERN = {
    "Content-Type": "application/json",
    "Accept": "application/json, text/event-stream",
}


@pytest.fixture(scope="module")
def audit_file() -> Path:
    return AUDIT_DIR / "mcp-http" / "audit.jsonl"


@pytest.fixture(scope="module")
def url(demo: DemoDatabase, audit_file: Path) -> Iterator[str]:
    settings = make_settings(
        demo,
        schema_docs_dir=demo_docs_dir(),
        audit_file=audit_file,
        public_url="https://gw.example.com",
    )
    with live_server(settings) as base:
        yield base


def events_of(audit_file: Path, sql: str) -> list[dict[str, Any]]:
    return [e for e in read_events(audit_file) if e["sql_received"] == sql]


@pytest.mark.parametrize("mode", MODES)
def test_the_tools_are_listed_read_only_with_their_schemas(url: str, mode: str) -> None:
    async def work(client: Client) -> Any:
        return client.protocol_version, await client.list_tools()

    version, listed = over_http(url, AUTH, work, mode)
    assert version == ("2026-07-28" if mode == "auto" else "2025-11-25")
    by_name = {tool.name: tool for tool in listed.tools}
    assert {"run_query", "get_schema", "getClaimStatus"} <= set(by_name)  # and named queries
    for tool in listed.tools:
        assert tool.annotations is not None
        hints = tool.annotations
        assert (hints.read_only_hint, hints.destructive_hint) == (True, False)
        assert (hints.idempotent_hint, hints.open_world_hint) == (True, False)
        assert tool.input_schema["type"] == "object" and tool.output_schema is not None
    assert "claims" in (by_name["run_query"].description or "")  # from the schema docs


@pytest.mark.parametrize("mode", MODES)
def test_run_query_answers_what_post_query_answers(url: str, mode: str) -> None:
    sql = f"SELECT status, count(*) AS n FROM claims GROUP BY status ORDER BY status -- {mode}"
    result = over_http(url, AUTH, lambda c: c.call_tool("run_query", {"sql": sql}), mode)
    assert not result.is_error
    rest = httpx2.post(f"{url}/query", json={"sql": sql}, headers=AUTH).json()
    structured = result.structured_content
    assert structured is not None
    for answer in (structured, rest):
        answer.pop("elapsed_ms")
    assert structured == rest
    lines = text(result).splitlines()
    assert lines[0].startswith(f"{rest['row_count']} rows.")
    assert '["status","n"]' in lines and '["claim_status","int8"]' in lines
    assert sum(line.startswith("<untrusted-data-") for line in lines) == 1


def test_a_refusal_is_an_error_result_with_code_message_and_hint(url: str) -> None:
    result = over_http(url, AUTH, lambda c: c.call_tool("run_query", {"sql": "DELETE FROM claims"}))
    assert result.is_error
    error = error_of(result)
    assert error["code"] == "rejected" and error["construct"] == "DELETE"
    assert error["hint"] and f"Hint: {error['hint']}" in text(result)
    assert text(result).startswith("Error: rejected.")


def test_a_database_error_is_an_error_result_with_the_did_you_mean_hint(url: str) -> None:
    sql = "SELECT statuss FROM claims"
    result = over_http(url, AUTH, lambda c: c.call_tool("run_query", {"sql": sql}))
    assert result.is_error
    error = error_of(result)
    assert error["code"] == "query_error" and error["sqlstate"] == "42703"
    assert "status" in error["hint"]


def test_a_truncated_result_carries_the_notice(url: str) -> None:
    sql = "SELECT claim_id, status FROM claims ORDER BY claim_id"
    result = over_http(url, AUTH, lambda c: c.call_tool("run_query", {"sql": sql, "max_rows": 3}))
    structured = result.structured_content or {}
    assert structured["truncated"] is True and structured["row_count"] == 3
    assert "max_rows=3 was reached" in structured["notice"]
    assert f"Notice: {structured['notice']}" in text(result)
    assert "(truncated: more rows exist)" in text(result)


def test_a_dialect_is_translated_and_the_sql_that_ran_is_shown(url: str) -> None:
    arguments = {"sql": "SELECT `status` FROM claims LIMIT 1", "dialect": "mysql"}
    result = over_http(url, AUTH, lambda c: c.call_tool("run_query", arguments))
    assert not result.is_error
    ran = (result.structured_content or {})["sql"]
    assert '"status"' in ran and f"PostgreSQL that ran: {ran}" in text(result)


@pytest.mark.parametrize(
    "arguments",
    [{}, {"sql": ""}, {"sql": "SELECT 1", "max_rows": "5"}, {"sql": "SELECT 1", "x": 1}],
)
def test_bad_arguments_are_error_results(url: str, arguments: dict[str, Any]) -> None:
    result = over_http(url, AUTH, lambda c: c.call_tool("run_query", arguments))
    assert result.is_error
    assert error_of(result)["code"] == "invalid_request"


def test_get_schema_answers_the_schema_fenced(url: str) -> None:
    async def work(client: Client) -> Any:
        return (
            await client.call_tool("get_schema", {}),
            await client.call_tool("get_schema", {"table": "claims"}),
            await client.call_tool("get_schema", {"table": "claimz"}),
        )

    overview, claims, missing = over_http(url, AUTH, work)
    rest = httpx2.get(f"{url}/schema", headers=AUTH).json()
    assert overview.structured_content == rest
    assert (claims.structured_content or {})["table"]["name"] == "claims"
    assert sum(line.startswith("<untrusted-data-") for line in text(claims).splitlines()) == 1
    assert error_of(missing)["code"] == "not_found"
    assert "claims" in text(missing)


def test_a_named_query_is_a_tool_answering_what_its_operation_answers(
    url: str, demo: DemoDatabase, audit_file: Path
) -> None:
    number = admin_fetch(demo, "SELECT claim_number FROM claims ORDER BY claim_id LIMIT 1")[0][0]
    arguments = {"claim_number": number}
    result = over_http(url, AUTH, lambda c: c.call_tool("getClaimStatus", arguments))
    assert not result.is_error, text(result)
    rest = httpx2.post(f"{url}/queries/getClaimStatus", json=arguments, headers=AUTH).json()
    structured = result.structured_content or {}
    for answer in (structured, rest):
        answer.pop("elapsed_ms")
    assert structured == rest and structured["row_count"] == 1
    refused = over_http(url, AUTH, lambda c: c.call_tool("getClaimStatus", {"claim_number": 7}))
    assert error_of(refused)["code"] == "invalid_request"
    _wait_for(lambda: any(e["operation"] == "getClaimStatus" for e in read_events(audit_file)))
    mcp = [e for e in read_events(audit_file) if e["operation"] == "getClaimStatus"]
    assert {e["protocol"] for e in mcp} == {"mcp", "http"}


def test_locked_down_there_is_no_free_sql_over_mcp_either(demo: DemoDatabase) -> None:
    settings = make_settings(demo, schema_docs_dir=demo_docs_dir(), free_sql=False)
    with live_server(settings) as locked:

        async def work(client: Client) -> Any:
            listed = await client.list_tools()
            called = await client.call_tool("run_query", {"sql": "SELECT 1"})
            return listed, called

        with pytest.raises(BaseException) as info:
            over_http(locked, AUTH, work)
        assert "Unknown tool: run_query" in str(_first(info.value, MCPError))
        listed = over_http(locked, AUTH, lambda c: c.list_tools())
    assert "run_query" not in {tool.name for tool in listed.tools}


def test_every_tool_call_is_one_audit_event_naming_protocol_and_tool(
    url: str, audit_file: Path
) -> None:
    sql = "SELECT count(*) FROM claims WHERE status = 'paid' /* audited over MCP */"
    over_http(url, AUTH, lambda c: c.call_tool("run_query", {"sql": sql}))
    refused = "SELECT pg_sleep(1) /* refused over MCP */"
    over_http(url, AUTH, lambda c: c.call_tool("run_query", {"sql": refused}))
    httpx2.post(f"{url}/query", json={"sql": sql}, headers=AUTH)
    _wait_for(lambda: len(events_of(audit_file, sql)) == 2 and events_of(audit_file, refused))
    by_protocol = {event["protocol"]: event for event in events_of(audit_file, sql)}
    mcp, rest = by_protocol["mcp"], by_protocol["http"]
    assert (mcp["operation"], mcp["path"], mcp["actor"]) == ("run_query", "/mcp", TEST_KEY_NAME)
    assert mcp["outcome"] == "ok" and mcp["rows"] == 1 and mcp["tables"] == ["claims"]
    assert rest["operation"] == "runQuery"
    (refusal,) = events_of(audit_file, refused)
    assert refusal["protocol"] == "mcp" and refusal["outcome"] == "rejected"
    assert refusal["status"] == 200  # an MCP error result; the outcome says what happened


def test_other_mcp_messages_are_audited_by_method(url: str, audit_file: Path) -> None:
    over_http(url, AUTH, lambda c: c.list_tools(), mode="legacy")
    _wait_for(lambda: any(e["operation"] == "initialize" for e in read_events(audit_file)))
    operations = {e["operation"] for e in read_events(audit_file) if e["protocol"] == "mcp"}
    assert {"initialize", "tools/list"} <= operations


def test_metrics_count_requests_by_protocol(url: str) -> None:
    over_http(url, AUTH, lambda c: c.call_tool("run_query", {"sql": "SELECT 1"}))
    families = text_string_to_metric_families(httpx2.get(f"{url}/metrics").text)
    samples = [
        s for family in families for s in family.samples if s.name == "sqlgateway_requests_total"
    ]
    protocols = {(s.labels["path"], s.labels["protocol"]) for s in samples if s.value > 0}
    assert ("/mcp", "mcp") in protocols


def test_the_endpoint_keeps_no_session(url: str) -> None:
    """No Mcp-Session-Id; a call without any handshake before it is answered; GET and DELETE
    (stream, end of session) are 405."""
    body = {
        "jsonrpc": "2.0",
        "id": 7,
        "method": "tools/call",
        "params": {"name": "run_query", "arguments": {"sql": "SELECT 42 AS answer"}},
    }
    headers = {**AUTH, **MODERN, "MCP-Protocol-Version": "2025-11-25"}
    response = httpx2.post(f"{url}/mcp", json=body, headers=headers)
    assert response.status_code == 200, response.text
    assert "mcp-session-id" not in response.headers
    assert response.json()["result"]["structuredContent"]["rows"] == [[42]]
    assert httpx2.get(f"{url}/mcp", headers=AUTH).status_code == 405
    assert httpx2.delete(f"{url}/mcp", headers=AUTH).status_code == 405


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        (b"{not json", 400, -32700),
        (b"[]", 400, -32600),
        (b'[{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}]', 400, -32600),
        (b'{"jsonrpc": "2.0", "id": true, "method": "tools/list"}', 400, -32600),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "nope/nope"}', 200, -32601),
    ],
)
def test_malformed_messages_get_json_rpc_errors(
    url: str, raw: bytes, status: int, code: int
) -> None:
    response = httpx2.post(f"{url}/mcp", content=raw, headers={**AUTH, **MODERN})
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


def test_notifications_are_acknowledged(url: str) -> None:
    body = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    response = httpx2.post(f"{url}/mcp", json=body, headers={**AUTH, **MODERN})
    assert response.status_code == 202 and response.content == b""


def test_an_unknown_tool_is_a_protocol_error(url: str, audit_file: Path) -> None:
    with pytest.raises(BaseException) as info:  # the client's task group wraps it
        over_http(url, AUTH, lambda c: c.call_tool("drop_everything", {}))
    error = _first(info.value, MCPError)
    assert error.error.code == -32602 and error.error.message == "Unknown tool: drop_everything"
    _wait_for(lambda: any(e["operation"] == "drop_everything" for e in read_events(audit_file)))
    (event,) = [e for e in read_events(audit_file) if e["operation"] == "drop_everything"]
    assert event["outcome"] == "not_found" and event["protocol"] == "mcp"


@pytest.mark.parametrize("header", ["text/html", "application/xml"])
def test_content_negotiation(url: str, header: str) -> None:
    body = orjson.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    accept = httpx2.post(f"{url}/mcp", content=body, headers={**AUTH, **MODERN, "Accept": header})
    assert accept.status_code == 406
    kind = httpx2.post(f"{url}/mcp", content=body, headers={**AUTH, "Content-Type": header})
    assert kind.status_code == 415


def test_a_page_of_another_origin_gets_403_and_an_allowed_one_cors(url: str) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    headers = {**AUTH, **MODERN, "MCP-Protocol-Version": "2025-11-25"}
    foreign = httpx2.post(
        f"{url}/mcp", json=body, headers={**headers, "Origin": "http://rebound.example:8000"}
    )
    assert foreign.status_code == 403 and foreign.json()["error"]["code"] == "forbidden"
    assert "access-control-allow-origin" not in foreign.headers
    own = httpx2.post(
        f"{url}/mcp", json=body, headers={**headers, "Origin": "https://gw.example.com"}
    )
    assert own.status_code == 200
    assert own.headers["access-control-allow-origin"] == "https://gw.example.com"


def test_the_direct_answer_of_a_tool_call_is_the_kernel_s(demo: DemoDatabase) -> None:
    """The transport answers the gateway's tool calls without the SDK's kernel; with the
    kernel, every protocol era gets the same answer."""
    app = create_app(make_settings(demo))
    calls = [
        ("2025-11-25", {"sql": "SELEC 1"}),
        ("2025-06-18", {"sql": "DROP TABLE claims"}),
        ("2025-11-25", {"sql": "SELECT 1", "max_rows": 0}),
    ]
    answers: dict[bool, list[Any]] = {}
    with TestClient(app, headers=AUTH) as client:
        for direct in (True, False):
            client.app_state["mcp"].direct_tool_calls = direct
            answers[direct] = []
            for version, arguments in calls:
                body = {
                    "jsonrpc": "2.0",
                    "id": 3,
                    "method": "tools/call",
                    "params": {"name": "run_query", "arguments": arguments},
                }
                headers = {**MODERN, "MCP-Protocol-Version": version}
                response = client.post("/mcp", json=body, headers=headers)
                answers[direct].append((response.status_code, response.json()))
    assert answers[True] == answers[False]
    assert all(answer["result"]["isError"] for _, answer in answers[True])


def test_the_endpoint_can_be_switched_off(demo: DemoDatabase) -> None:
    with TestClient(create_app(make_settings(demo, mcp=False)), headers=AUTH) as client:
        response = client.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert response.status_code == 404
    assert "SQLGATEWAY_MCP" in response.json()["error"]["hint"]


def _first(error: BaseException, kind: type[MCPError]) -> MCPError:
    if isinstance(error, kind):
        return error
    assert isinstance(error, BaseExceptionGroup), repr(error)
    return next(_first(inner, kind) for inner in error.exceptions)


def _wait_for(condition: Any, timeout_s: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "the audit events did not arrive"
        time.sleep(0.02)
