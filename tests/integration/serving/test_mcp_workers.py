"""/mcp keeps no session, so it works behind `serve --workers 2` with no stickiness: every
request of every MCP client, the handshake-era `initialize` included, on a new connection
that either worker may accept."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import httpx2
import pytest
from live import reader_backends
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_client import MODES
from workers import AUTH, serve_two_workers

from sqlgateway.demo.database import DemoDatabase

SESSIONS = 12
CALLS = 4
ROUNDS = 5


async def _sessions(url: str, mode: str) -> list[int]:
    """SESSIONS clients, CALLS run_query each, every request on a new connection."""
    limits = httpx2.Limits(max_keepalive_connections=0)

    async def one(session: int) -> list[int]:
        async with (
            httpx2.AsyncClient(headers=AUTH, limits=limits, timeout=30) as http,
            Client(streamable_http_client(f"{url}/mcp", http_client=http), mode=mode) as client,
        ):
            found = []
            for call in range(CALLS):
                claim = session * CALLS + call + 1
                sql = f"SELECT claim_id FROM claims WHERE claim_id = {claim}"
                result = await client.call_tool("run_query", {"sql": sql})
                assert not result.is_error, result.content
                found += [row[0] for row in (result.structured_content or {})["rows"]]
            return found

    answers = await asyncio.gather(*(one(session) for session in range(SESSIONS)))
    return [claim for found in answers for claim in found]


@pytest.mark.parametrize("mode", MODES)
def test_mcp_clients_are_served_by_both_workers_without_sessions(
    demo: DemoDatabase, tmp_path: Path, mode: str
) -> None:
    before = set(reader_backends(demo))
    settings: dict[str, str | None] = {
        "SQLGATEWAY_AUDIT_FILE": str(tmp_path / "audit.jsonl"),
        "SQLGATEWAY_AUDIT_SPILL_DIR": str(tmp_path / "spill"),
    }
    with serve_two_workers(demo, settings) as (process, url):
        for _ in range(ROUNDS):  # until the kernel has handed both workers some
            claims = asyncio.run(_sessions(url, mode))
            assert sorted(claims) == list(range(1, SESSIONS * CALLS + 1))
            served = {
                pid
                for pid, query in reader_backends(demo).items()
                if pid not in before and query == "ROLLBACK"  # the end of every gateway query
            }
            if len(served) == 2:
                break
        process.send_signal(signal.SIGTERM)  # a SIGKILL would leave the workers running
        assert process.wait(timeout=45) == 0
    assert len(served) == 2, "one worker served every MCP request"
