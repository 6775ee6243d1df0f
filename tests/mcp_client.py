"""The official MCP Python SDK's client against a gateway: over Streamable HTTP (a live
server's /mcp) or stdio (`sqlgateway mcp` as a subprocess), in either protocol era."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

T = TypeVar("T")

#: "auto": the SDK probes with server/discover (2026-07-28); "legacy": the initialize
#: handshake (2025-11-25), as today's TypeScript hosts connect.
MODES = ("auto", "legacy")


@asynccontextmanager
async def http_client(
    url: str, headers: dict[str, str] | None = None, mode: str = "auto"
) -> AsyncIterator[Client]:
    """A connected client of `url`/mcp sending `headers` (credentials) with every request."""
    async with (
        httpx2.AsyncClient(headers=headers or {}, timeout=60) as http,
        Client(streamable_http_client(f"{url}/mcp", http_client=http), mode=mode) as client,
    ):
        yield client


@asynccontextmanager
async def stdio(
    arguments: list[str], environment: dict[str, str], mode: str = "auto"
) -> AsyncIterator[Client]:
    """A connected client of `python -m sqlgateway mcp <arguments>`."""
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "sqlgateway", "mcp", *arguments], env=environment
    )
    async with Client(stdio_client(params), mode=mode) as client:
        yield client


def over_http(
    url: str,
    headers: dict[str, str] | None,
    work: Callable[[Client], Awaitable[T]],
    mode: str = "auto",
) -> T:
    """`work(client)` with a client of the gateway at `url`, run to completion."""

    async def run() -> T:
        async with http_client(url, headers, mode) as client:
            return await work(client)

    return asyncio.run(run())


def text(result: Any) -> str:
    """The text content of a tool result."""
    (content,) = result.content
    return str(content.text)


def error_of(result: Any) -> dict[str, Any]:
    """The /query error body (`code`, `message`, `hint`…) of an error result, from its `_meta`
    (an error result has no structured content, which clients check against the schema)."""
    assert result.is_error and result.structured_content is None, result
    error: dict[str, Any] = result.meta["sqlgateway/error"]["error"]
    assert f"Error: {error['code']}." in text(result)
    return error
