"""POST /mcp: the MCP Streamable HTTP transport, stateless, in the gateway's own app.

**Stateless.** No server-side session and no `Mcp-Session-Id`: every POST carries one
JSON-RPC message and gets one JSON answer, so any worker or instance answers any request.
Clients on protocol revision 2026-07-28 are stateless by the specification (each request
carries its version and capabilities in `_meta`, checked against the `MCP-Protocol-Version`,
`Mcp-Method` and `Mcp-Name` headers). Clients on the handshake revisions (2024-11-05 …
2025-11-25) get the specification's stateless form: `initialize` is answered, and every later
request stands alone at the version its `MCP-Protocol-Version` header names (2025-03-26 when
it names none). Notifications are acknowledged (202). GET and DELETE get 405: there is no
server-to-client stream and no session to end, as the specification allows.

**Plain JSON answers**, never an SSE stream: the tools answer once, and the whole answer is
known, recorded and audited before it is sent.

**What is the SDK's, what is ours.** Everything MCP means is the official SDK's: the
`Server` (server.py), its request kernel (`ServerRunner`: method lookup, parameter validation for
the negotiated version, `initialize` and `server/discover`, result serialization and the
`serverInfo` stamp), the 2026-07-28 envelope checks (`classify_inbound_request`), the
JSON-RPC error mapping and HTTP statuses. This module only frames one HTTP exchange around
them. The SDK's own transport (`StreamableHTTPSessionManager`) does the same framing with a
per-request task, memory streams and a dispatcher for the handshake era: in a same-run
comparison of point lookups during development it cost 1.65× (2026-07-28) and 2.1× (handshake
era) the gateway's CPU per /query call, against the 1.25× this endpoint is held to
(bench/mcp.py). For the same reason a call of one of the gateway's own tools is answered
without the kernel's per-request machinery (`_call`): after the SDK's validation of its params,
with the result the kernel would send (`server.tool_result`; a test holds the two ways equal).

The request has passed the same middleware as /query before it gets here (app.py): its
RequestRecord (audit event, metrics, log line), the Origin check (http/origin.py), the
credentials, the rate limit and the caller's database scope; `HttpCallers` hands them to
the tool call.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import anyio
import mcp_types as types
import orjson
from mcp.server.connection import Connection
from mcp.server.runner import ServerRunner, modern_error_data
from mcp.shared.dispatcher import CallOptions
from mcp.shared.exceptions import NoBackChannelError
from mcp.shared.inbound import (
    ERROR_CODE_HTTP_STATUS,
    MCP_PROTOCOL_VERSION_HEADER,
    InboundLadderRejection,
    InboundModernRoute,
    classify_inbound_request,
    find_duplicated_routing_header,
)
from mcp.shared.message import ServerMessageMetadata
from mcp.shared.transport_context import TransportContext
from mcp_types.methods import validate_client_request
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from sqlgateway.errors import GatewayError, InternalError, InvalidRequestError, NotFoundError
from sqlgateway.http.body import read_body
from sqlgateway.http.record import RequestRecord
from sqlgateway.http.responses import JSON, error_response, note_error, record_error
from sqlgateway.mcp.server import MAX_UNKNOWN_NAME_CHARS, Context, build_server, tool_result
from sqlgateway.mcp.tools import Call, GatewayTool, build_tools

if TYPE_CHECKING:
    from mcp.server.lowlevel.server import Server

    from sqlgateway.services import Services

logger = logging.getLogger("sqlgateway")

#: Lifespan state key of the `McpHttp` serving /mcp (absent: SQLGATEWAY_MCP=false).
STATE_KEY = "mcp"
#: Bytes a JSON-RPC envelope may add to the largest body /query accepts.
ENVELOPE_ALLOWANCE_BYTES = 4_096
TRANSPORT_KIND = "streamable-http"


class HttpCallers:
    """Tool calls over HTTP: the record and scope of the request carrying the call, which
    RequestLog finishes once the answer is sent."""

    def call(self, ctx: Context, operation: str) -> AbstractAsyncContextManager[Call]:
        state = _request_state(ctx)
        record: RequestRecord = state["record"]
        record.operation = operation
        return nullcontext(Call(state["services"], state["identity"], record, state["db_scope"]))


def _request_state(ctx: Context) -> dict[str, Any]:
    if ctx.request is None:
        raise InternalError("an MCP message over HTTP without its request")
    state: dict[str, Any] = ctx.request.scope.get("state", {})
    return state


@dataclass
class _Exchange:
    """The SDK's `DispatchContext` for one POST: no back-channel (a JSON answer has no room
    for server-to-client messages, and the 2026-07-28 protocol has none); notifications and
    progress are dropped."""

    transport: TransportContext
    request_id: types.RequestId
    message_metadata: ServerMessageMetadata
    can_send_request: bool = field(default=False, init=False)

    @cached_property
    def cancel_requested(self) -> anyio.Event:
        return anyio.Event()

    async def send_raw_request(
        self, method: str, params: Mapping[str, Any] | None, opts: CallOptions | None = None
    ) -> dict[str, Any]:
        raise NoBackChannelError(method)

    async def notify(
        self, method: str, params: Mapping[str, Any] | None, opts: CallOptions | None = None
    ) -> None:
        return None

    async def progress(
        self, progress: float, total: float | None = None, message: str | None = None
    ) -> None:
        return None


class McpHttp:
    """The MCP server of the gateway's tools and its stateless Streamable HTTP framing;
    built in the app's lifespan, called by `mcp_endpoint` for each request to /mcp."""

    def __init__(self, services: Services, *, direct_tool_calls: bool = True) -> None:
        self.tools = build_tools(services)
        self.server: Server[Any] = build_server(services, self.tools, HttpCallers())
        #: Answer calls of the gateway's tools without the SDK's kernel (`_call`); False
        #: only in the test that holds both ways to the same answers.
        self.direct_tool_calls = direct_tool_calls
        self.max_body_bytes = services.settings.max_request_chars + ENVELOPE_ALLOWANCE_BYTES

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            response = await self._answer(request)
        except GatewayError as error:  # before a JSON-RPC message could be read
            note_error(scope, error)
            response = _error(
                None, types.INVALID_REQUEST, error.message, error.status_code, error.body()["error"]
            )
        await response(scope, receive, send)

    async def _answer(self, request: Request) -> Response:
        raw_headers: list[tuple[bytes, bytes]] = request.scope["headers"]
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in raw_headers}
        if headers.get("content-type", "").partition(";")[0].strip().lower() != JSON:
            raise InvalidRequestError(
                "an MCP message is sent as Content-Type: application/json", status_code=415
            )
        accept = headers.get("accept", "*/*").lower()
        if not any(kind in accept for kind in (JSON, "application/*", "*/*")):
            raise InvalidRequestError(
                "this endpoint answers application/json: list it in Accept", status_code=406
            )
        body = await read_body(request, self.max_body_bytes)
        try:
            message: Any = orjson.loads(body)
        except orjson.JSONDecodeError:
            return self._refused(request, None, types.PARSE_ERROR, "Parse error", 400)
        if not isinstance(message, dict):
            return self._refused(request, None, types.INVALID_REQUEST, _ONE_MESSAGE, 400)
        if "id" not in message:  # a notification (or a stray response): acknowledged, dropped
            if not ({"method", "result", "error"} & message.keys()):
                return self._refused(request, None, types.INVALID_REQUEST, _ONE_MESSAGE, 400)
            return Response(status_code=202)
        request_id, method, params = message.get("id"), message.get("method"), message.get("params")
        if (
            message.get("jsonrpc") != "2.0"
            or not isinstance(request_id, str | int)
            or isinstance(request_id, bool)
            or not isinstance(method, str)
            or not (params is None or isinstance(params, dict))
        ):
            return self._refused(request, None, types.INVALID_REQUEST, _ONE_MESSAGE, 400)
        record: RequestRecord | None = request.scope.get("state", {}).get("record")
        if record is not None:  # tool calls then name their tool
            record.operation = method[:MAX_UNKNOWN_NAME_CHARS]
        header = headers.get(MCP_PROTOCOL_VERSION_HEADER)
        handshake_era = header is None or header in HANDSHAKE_PROTOCOL_VERSIONS
        route: InboundModernRoute | None = None
        if not handshake_era:
            checked = _route(message, raw_headers, headers)
            if isinstance(checked, InboundLadderRejection):
                status = ERROR_CODE_HTTP_STATUS.get(checked.code, 400)
                return self._refused(
                    request, request_id, checked.code, checked.message, status, checked.data
                )
            route = checked
        version = route.protocol_version if route else header or types.DEFAULT_NEGOTIATED_VERSION
        name = params.get("name") if method == "tools/call" and params is not None else None
        tool = self.tools.get(name) if isinstance(name, str) and self.direct_tool_calls else None
        try:
            if tool is not None and params is not None:
                result = await self._call(request, tool, params, version)
            else:
                result = await self._serve(request, request_id, method, params, version, route)
        except Exception as exc:  # the SDK's mapping: MCPError, invalid params, else internal
            error = modern_error_data(exc)
            status = 200 if handshake_era else ERROR_CODE_HTTP_STATUS.get(error.code, 200)
            return self._refused(request, request_id, error.code, error.message, status, error.data)
        return Response(
            orjson.dumps({"jsonrpc": "2.0", "id": request_id, "result": result}), media_type=JSON
        )

    async def _serve(
        self,
        request: Request,
        request_id: types.RequestId,
        method: str,
        params: dict[str, Any] | None,
        version: str,
        route: InboundModernRoute | None,
    ) -> dict[str, Any]:
        """Any message through the SDK's kernel, as its `serve_one` does (a born-ready
        connection of the request's version), without the shielded, time-bounded close of the
        connection's exit stack: nothing of this server registers anything there."""
        if route is None:
            connection = Connection.from_envelope(version, None, None)
        else:
            connection = Connection.from_envelope(
                version, route.client_info, route.client_capabilities
            )
        exchange = _Exchange(
            transport=TransportContext(
                kind=TRANSPORT_KIND, can_send_request=False, headers=request.headers
            ),
            request_id=request_id,
            message_metadata=ServerMessageMetadata(request_context=request),
        )
        try:
            return await ServerRunner(self.server, connection, {}).on_request(
                exchange, method, params
            )
        finally:
            await connection.exit_stack.aclose()

    async def _call(
        self, request: Request, tool: GatewayTool, params: dict[str, Any], version: str
    ) -> dict[str, Any]:
        """A call of one of the gateway's tools, answered without the SDK's per-request kernel
        (context, session, handler lookup, result re-validation: a third of MCP's own cost on
        a point lookup), after the SDK's validation of the params for the version (a
        ValidationError is its invalid-params error); the result is the one the kernel sends
        (`tool_result`)."""
        validate_client_request("tools/call", version, params)
        state = request.scope["state"]
        record: RequestRecord = state["record"]
        record.operation = tool.name
        call = Call(state["services"], state["identity"], record, state["db_scope"])
        return await tool_result(tool, call, params.get("arguments") or {}, version)

    @staticmethod
    def _refused(
        request: Request,
        request_id: types.RequestId | None,
        code: int,
        message: str,
        status: int,
        data: Any = None,
    ) -> Response:
        """A JSON-RPC error answer; the request's record says why (outcome invalid_request,
        unless the tool call already recorded its own)."""
        record: RequestRecord | None = request.scope.get("state", {}).get("record")
        if record is not None and record.outcome is None:
            record_error(record, InvalidRequestError(f"MCP error {code}: {message}"))
        return _error(request_id, code, message, status, data)


_ONE_MESSAGE = "the body must be one JSON-RPC request or notification object"


def _route(
    message: dict[str, Any], raw_headers: list[tuple[bytes, bytes]], headers: dict[str, str]
) -> InboundModernRoute | InboundLadderRejection:
    """The SDK's checks of a 2026-07-28 request: the `_meta` envelope, the routing headers
    against the body (each header once), the protocol version."""
    duplicated = find_duplicated_routing_header(
        (name.decode("latin-1"), value.decode("latin-1")) for name, value in raw_headers
    )
    if duplicated is not None:
        return InboundLadderRejection(
            code=types.HEADER_MISMATCH, message=f"{duplicated} header appears more than once"
        )
    return classify_inbound_request(message, headers=headers)


def _error(
    request_id: types.RequestId | None, code: int, message: str, status: int, data: Any = None
) -> Response:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return Response(
        orjson.dumps({"jsonrpc": "2.0", "id": request_id, "error": error}),
        status_code=status,
        media_type=JSON,
    )


class McpEndpoint:
    """The route's ASGI app: hands the request to the lifespan's `McpHttp`."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        served: McpHttp | None = scope.get("state", {}).get(STATE_KEY)
        if served is None:
            error = NotFoundError(
                "the MCP endpoint is off on this gateway",
                hint="the operator can set SQLGATEWAY_MCP=true",
            )
            note_error(scope, error)
            await error_response(error)(scope, receive, send)
            return
        await served(scope, receive, send)


mcp_endpoint = McpEndpoint()
