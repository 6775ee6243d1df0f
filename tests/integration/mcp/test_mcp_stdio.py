"""`sqlgateway mcp`: the stdio MCP server as a subprocess, driven by the SDK's client in both
protocol eras; the same guard, executor and audit trail as /query, one event per tool call.
And without a database URL it serves the embedded demo, as `serve` does."""

from __future__ import annotations

import asyncio
import getpass
import os
from pathlib import Path
from typing import Any

import pytest
from conftest import read_events
from mcp import Client
from mcp_client import MODES, error_of, stdio, text

from sqlgateway.demo.database import DemoDatabase


def environment(tmp_path: Path, **settings: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SQLGATEWAY_")}
    return {
        **clean,
        "SQLGATEWAY_AUDIT_SINK": "jsonl",
        "SQLGATEWAY_AUDIT_FILE": str(tmp_path / "audit.jsonl"),
        "SQLGATEWAY_AUDIT_SPILL_DIR": str(tmp_path / "spill"),
        "SQLGATEWAY_POOL_MIN_SIZE": "1",
        # what stdio must never use: API keys and a public host do not apply to a pipe
        "SQLGATEWAY_HOST": "0.0.0.0",
        **settings,
    }


@pytest.mark.parametrize("mode", MODES)
def test_stdio_serves_the_tools_with_the_same_guard_and_audit(
    demo: DemoDatabase, tmp_path: Path, mode: str
) -> None:
    audit_file = tmp_path / "audit.jsonl"

    async def session(client: Client) -> dict[str, Any]:
        return {
            "tools": await client.list_tools(),
            "count": await client.call_tool("run_query", {"sql": "SELECT count(*) FROM claims"}),
            # the answer is written only once its event is durable: it is in the file now
            "events_when_answered": len(read_events(audit_file)),
            "refused": await client.call_tool("run_query", {"sql": "DROP TABLE claims"}),
            "truncated": await client.call_tool(
                "run_query", {"sql": "SELECT claim_id FROM claims", "max_rows": 2}
            ),
            "schema": await client.call_tool("get_schema", {"table": "claims"}),
        }

    async def run() -> dict[str, Any]:
        arguments = ["--database-url", demo.reader_dsn]
        async with stdio(arguments, environment(tmp_path), mode) as client:
            return await session(client)

    got = asyncio.run(run())
    tools = {tool.name: tool for tool in got["tools"].tools}
    assert set(tools) == {"run_query", "get_schema"}
    assert all(t.annotations and t.annotations.read_only_hint for t in tools.values())
    count = got["count"].structured_content
    assert not got["count"].is_error and count["rows"][0][0] > 0
    assert error_of(got["refused"])["code"] == "rejected"
    assert "Hint:" in text(got["refused"])
    assert got["truncated"].structured_content["truncated"] is True
    assert "Notice: Returned 2 rows" in text(got["truncated"])
    assert got["schema"].structured_content["table"]["name"] == "claims"

    assert got["events_when_answered"] == 1
    events = read_events(audit_file)
    assert [e["operation"] for e in events] == ["run_query"] * 3 + ["get_schema"]
    assert [e["outcome"] for e in events] == ["ok", "rejected", "truncated", "ok"]
    for event in events:
        assert (event["protocol"], event["method"], event["path"]) == ("mcp", "tools/call", "stdio")
        assert event["actor"] == f"stdio:{getpass.getuser()}" and event["auth_mode"] == "stdio"
        assert event["user_agent"] and event["user_agent"].startswith("mcp/")
    assert events[0]["sql_executed"] == "SELECT count(*) FROM claims"


def test_without_a_database_url_stdio_serves_the_embedded_demo(tmp_path: Path) -> None:
    async def run() -> Any:
        settings = environment(tmp_path, SQLGATEWAY_EMBEDDED_DATA_DIR=str(tmp_path / "pgdata"))
        async with stdio([], settings) as client:
            return await client.call_tool(
                "run_query", {"sql": "SELECT count(*) FROM policyholders"}
            )

    result = asyncio.run(run())
    assert not result.is_error, text(result)
    assert result.structured_content["rows"][0][0] > 0
