"""The MCP server: the official SDK's low-level `Server` with the gateway's tools.

One `Server` per transport. It lists the tools of `tools.build_tools` and answers each
`tools/call` through the tool's call, with the caller's `RequestRecord` and `DbScope` from a
`Callers`: over Streamable HTTP those of the HTTP request that carries the call (made by the
same middleware as for /query: RequestLog, AuthMiddleware); over stdio a record per call,
finished like an HTTP request's (stdio.py). Every tool call is therefore one audit event, with
protocol `mcp` and the tool's name as its operation.

Tool errors (refusals, database errors, bad arguments) are answers with `isError: true`
(render.error_answer), never protocol errors, so the model sees the code, message and hint
and can retry. A call to a tool that does not exist is a protocol error (-32602), as the
MCP specification says.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, Protocol

import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import Server
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from sqlgateway import __version__
from sqlgateway.errors import GatewayError, InternalError, NotFoundError
from sqlgateway.http.responses import record_error
from sqlgateway.mcp.render import ToolAnswer, error_answer
from sqlgateway.mcp.tools import Call, GatewayTool, Toolset, server_instructions

if TYPE_CHECKING:
    from sqlgateway.services import Services

logger = logging.getLogger("sqlgateway")

SERVER_NAME = "sqlgateway"
SERVER_TITLE = "sqlgateway: read-only SQL over PostgreSQL"
#: The `_meta` key of an error result's /query error body (`{"error": {code, message, …}}`).
ERROR_META_KEY = "sqlgateway/error"
#: The `serverInfo` of every 2026-07-28 result (the SDK's stamp, made once).
SERVER_STAMP = {
    types.SERVER_INFO_META_KEY: types.Implementation(
        name=SERVER_NAME, version=__version__, title=SERVER_TITLE
    ).model_dump(by_alias=True, mode="json", exclude_none=True)
}
#: Longest tool name recorded for a call to a tool that does not exist.
MAX_UNKNOWN_NAME_CHARS = 200

Context = ServerRequestContext[Any, Any]


class Callers(Protocol):
    """Where a tool call's record and database scope come from, for one transport."""

    def call(self, ctx: Context, operation: str) -> AbstractAsyncContextManager[Call]:
        """The call's `Call`, its record naming `operation`; the record is finished (audited,
        counted, logged) once the call has been answered."""
        ...


def build_server(services: Services, tools: Toolset, callers: Callers) -> Server[Any]:
    """The MCP server of `tools` for one transport."""

    async def list_tools(
        ctx: Context, params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=tools.definitions)

    async def call_tool(ctx: Context, params: types.CallToolRequestParams) -> dict[str, Any]:
        tool = tools.get(params.name)
        operation = params.name if tool is not None else params.name[:MAX_UNKNOWN_NAME_CHARS]
        async with callers.call(ctx, operation) as call:
            if tool is None:
                record_error(call.record, NotFoundError(f"no tool {operation!r}"))
                raise MCPError(code=INVALID_PARAMS, message=f"Unknown tool: {operation}")
            return await tool_result(tool, call, params.arguments or {}, ctx.protocol_version)

    server: Server[Any] = Server(
        SERVER_NAME,
        version=__version__,
        title=SERVER_TITLE,
        instructions=server_instructions(services),
        on_list_tools=list_tools,
    )
    # registered as the wire-form handler it is (the typed `on_call_tool` wants a model)
    server.add_request_handler("tools/call", types.CallToolRequestParams, call_tool)
    # no middleware, not even the SDK's default OpenTelemetry one: the gateway exports no
    # traces, and its no-op spans cost ~5 % of a point lookup's CPU
    server.middleware = []
    return server


async def tool_result(
    tool: GatewayTool, call: Call, arguments: Mapping[str, Any], protocol_version: str
) -> dict[str, Any]:
    """The `CallToolResult` of `tool` for `call`, in its wire form for `protocol_version`:
    what the SDK's kernel makes of the same result (the HTTP transport answers tool calls
    with it directly, tests/unit/mcp hold the two equal)."""
    shown = await _answer(tool, call, arguments)
    result: dict[str, Any] = {"content": [{"type": "text", "text": shown.text}]}
    meta: dict[str, Any] = {}
    if shown.is_error:
        # no structuredContent: clients check it against the output schema even on errors
        # (the TypeScript SDK refuses the whole result); the error's /query body is for the
        # client application, in _meta, and its code, message and hint are in the text
        result["isError"] = True
        meta[ERROR_META_KEY] = shown.structured
    else:
        result["structuredContent"] = shown.structured
        result["isError"] = False
    if protocol_version in MODERN_PROTOCOL_VERSIONS:
        # 2026-07-28 results name their type and carry the server's identity; the SDK would
        # stamp a deep copy of it (~5 % of a point lookup's CPU) where none is there yet
        result["resultType"] = "complete"
        meta |= SERVER_STAMP
    if meta:
        result["_meta"] = meta
    return result


async def _answer(tool: GatewayTool, call: Call, arguments: Mapping[str, Any]) -> ToolAnswer:
    try:
        return await tool.call(call, arguments)
    except GatewayError as error:
        record_error(call.record, error)
        return error_answer(error)
    except Exception as error:  # a bug: answered like HTTP's 500, with nothing of the cause
        logger.exception("unexpected error in MCP tool %s", tool.name)
        record_error(call.record, InternalError(f"{type(error).__name__} (see the service log)"))
        return error_answer(InternalError("internal error; the incident was logged"))
