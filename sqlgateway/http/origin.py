"""Origin checks and CORS for the endpoints browsers may call (routes: `browser=True`).

A web page the user happens to open can make their browser send requests to a gateway it
can reach, even one on 127.0.0.1 (DNS rebinding: the page's own host name is made to point
there). Browsers always say which page asked, in the `Origin` header, and the MCP
specification requires servers to check it. So a request to /mcp (and to the OAuth metadata
MCP clients read) that carries an `Origin` is answered only when that origin is allowed:
the gateway's own (SQLGATEWAY_PUBLIC_URL) or one of SQLGATEWAY_MCP_ALLOWED_ORIGINS; any other
gets 403 before its credentials are even looked at. Requests without `Origin` (agents,
desktop hosts, servers: nothing but a browser sends one) are not affected.

CORS headers go to allowed origins only, and name that origin: never `*`, never an origin
merely echoed back. A preflight (`OPTIONS` with `Access-Control-Request-Method`) from an
allowed origin is answered here, without credentials, as browsers send it.
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sqlgateway.errors import ForbiddenError
from sqlgateway.http.responses import error_response, note_error
from sqlgateway.routes import BROWSER_PATHS
from sqlgateway.settings import Settings, origin_of

#: Request headers MCP clients send (Streamable HTTP, 2025-03-26 … 2026-07-28), besides
#: `Mcp-Param-*` (tool arguments mirrored as headers), which are allowed by prefix.
ALLOWED_HEADERS = (
    "authorization",
    "content-type",
    "accept",
    "mcp-protocol-version",
    "mcp-session-id",
    "mcp-method",
    "mcp-name",
    "last-event-id",
)
PARAM_HEADER_PREFIX = "mcp-param-"
EXPOSED_HEADERS = "Mcp-Session-Id, WWW-Authenticate, X-Request-Id, Retry-After"
PREFLIGHT_MAX_AGE_S = 600


def allowed_origins(settings: Settings) -> frozenset[str]:
    """The origins whose pages may call the browser endpoints: the gateway's own and
    SQLGATEWAY_MCP_ALLOWED_ORIGINS (compared as origins: scheme, host and port, lower case)."""
    try:
        own = {origin_of(settings.served_url)}
    except ValueError:  # SQLGATEWAY_PUBLIC_URL is not a URL a browser could have loaded
        own = set()
    return frozenset({*own, *settings.mcp_allowed_origins})


class OriginCheck:
    """Refuses foreign origins on the browser endpoints (403) and adds CORS for allowed
    ones; everything else passes untouched. Sits before AuthMiddleware (app.py)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.allowed = allowed_origins(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = BROWSER_PATHS.get(scope["path"]) if scope["type"] == "http" else None
        origin = Headers(scope=scope).get("origin") if method is not None else None
        if method is None or origin is None:
            await self.app(scope, receive, send)
            return
        if origin.lower() not in self.allowed:
            error = ForbiddenError(
                f"requests from the web page at {origin[:200]} are not accepted",
                hint="the operator can allow a browser-based client's origin in "
                "SQLGATEWAY_MCP_ALLOWED_ORIGINS",
            )
            note_error(scope, error)
            await error_response(error)(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            await self._preflight(origin, method, headers)(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_headers = MutableHeaders(scope=message)
                response_headers["Access-Control-Allow-Origin"] = origin
                response_headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
                response_headers.add_vary_header("Origin")
            await send(message)

        await self.app(scope, receive, send_with_cors)

    @staticmethod
    def _preflight(origin: str, method: str, headers: Headers) -> Response:
        asked = [
            h.strip().lower() for h in headers.get("access-control-request-headers", "").split(",")
        ]
        granted = [
            h for h in asked if h and (h in ALLOWED_HEADERS or h.startswith(PARAM_HEADER_PREFIX))
        ]
        return Response(
            status_code=204,
            headers={
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Methods": method,
                "Access-Control-Allow-Headers": ", ".join(
                    dict.fromkeys([*ALLOWED_HEADERS, *granted])
                ),
                "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_S),
                "Vary": "Origin",
            },
        )
