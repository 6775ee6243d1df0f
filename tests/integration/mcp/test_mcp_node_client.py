"""An independent MCP client against /mcp and `sqlgateway mcp`: the TypeScript SDK's
(`@modelcontextprotocol/sdk`, the version pinned in tests/node_mcp/package-lock.json), which
Claude, Cursor and VS Code are built on. Initialize, list the tools (annotations present), the
demo through run_query, a refusal with its hint, a truncated result with its notice.

It needs Node.js and `npm ci` in tests/node_mcp (.ci/run does both). Without them the tests
skip, saying so, unless SQLGATEWAY_TEST_REQUIRE_NODE_MCP=1 (CI), where they fail instead.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, TEST_API_KEY, make_settings, read_events
from live import live_server

from sqlgateway.demo.database import DemoDatabase

NODE_DIR = ROOT / "tests" / "node_mcp"
SDK = NODE_DIR / "node_modules" / "@modelcontextprotocol" / "sdk" / "package.json"
REQUIRED = os.environ.get("SQLGATEWAY_TEST_REQUIRE_NODE_MCP") == "1"


def _node() -> str:
    node = shutil.which("node")
    missing = (
        "node is not installed"
        if node is None
        else f"{SDK.parent} is missing (run `npm ci` in {NODE_DIR})"
    )
    if node is not None and SDK.is_file():
        return node
    if REQUIRED:
        pytest.fail(f"SQLGATEWAY_TEST_REQUIRE_NODE_MCP=1 but {missing}")
    pytest.skip(f"the Node MCP client is not available: {missing}")


@pytest.fixture(scope="module")
def node() -> str:
    return _node()


def run_client(node: str, *arguments: str, **settings: str) -> dict[str, Any]:
    """What client.mjs saw; `settings` (SQLGATEWAY_* variables) reach a stdio server."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SQLGATEWAY_")}
    done = subprocess.run(
        [node, "client.mjs", *arguments],
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        env={**environment, **settings},
    )
    assert done.returncode == 0, done.stderr
    seen: dict[str, Any] = json.loads(done.stdout)
    return seen


def check(seen: dict[str, Any]) -> None:
    assert json.loads(SDK.read_text())["version"] == "1.32.2"
    assert seen["server"]["name"] == "sqlgateway"
    tools = {tool["name"]: tool for tool in seen["tools"]}
    assert set(tools) == {"run_query", "get_schema"}
    for tool in tools.values():
        hints = tool["annotations"]
        assert hints["readOnlyHint"] is True and hints["destructiveHint"] is False
        assert hints["idempotentHint"] is True and hints["openWorldHint"] is False
        assert tool["hasOutputSchema"]
    demo = seen["demo"]
    assert not demo["isError"] and demo["structured"]["row_count"] >= 5
    assert [c["name"] for c in demo["structured"]["columns"]] == ["status", "n"]
    assert demo["text"].count("\n<untrusted-data-") == 1  # one block, opened on its own line
    refused = seen["refused"]
    assert refused["isError"] and "structured" not in refused  # no structuredContent on errors
    assert refused["text"].startswith("Error: rejected.") and "\nHint: " in refused["text"]
    truncated = seen["truncated"]
    assert truncated["structured"]["truncated"] is True
    assert "max_rows=2 was reached" in truncated["structured"]["notice"]
    assert f"Notice: {truncated['structured']['notice']}" in truncated["text"]
    assert seen["schema"] == {"isError": False, "table": "claims"}


@pytest.fixture(scope="module")
def url(demo: DemoDatabase) -> Iterator[str]:
    with live_server(make_settings(demo)) as base:
        yield base


def test_the_typescript_sdk_client_over_streamable_http(node: str, url: str) -> None:
    seen = run_client(node, "http", url, TEST_API_KEY)
    assert seen["protocolVersion"] == "2025-11-25"
    check(seen)


def test_the_typescript_sdk_client_over_stdio(
    node: str, demo: DemoDatabase, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.jsonl"
    seen = run_client(
        node,
        "stdio",
        sys.executable,
        demo.reader_dsn,
        SQLGATEWAY_AUDIT_SINK="jsonl",
        SQLGATEWAY_AUDIT_FILE=str(audit),
        SQLGATEWAY_AUDIT_SPILL_DIR=str(tmp_path / "spill"),
    )
    check(seen)
    events = read_events(audit)
    assert [e["operation"] for e in events] == ["run_query"] * 3 + ["get_schema"]
    assert {e["user_agent"] for e in events} == {"sqlgateway-node-test/1.0.0"}
