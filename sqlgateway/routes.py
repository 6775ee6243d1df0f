"""Every endpoint, declared once: its path, handler and methods, whether it needs
credentials, whether it leaves an audit event, the operation it is in the action spec, the
protocol it speaks and whether browsers may call it from other origins.

The app's routes, the middleware's public, unaudited and origin-checked paths, the metrics'
route labels and the spec's paths all derive from `ENDPOINTS`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from sqlgateway.api.health import healthz, metrics, readyz
from sqlgateway.api.named import run_named_query
from sqlgateway.api.openapi import openapi_json, openapi_yaml
from sqlgateway.api.privacy import privacy
from sqlgateway.api.query import run_query
from sqlgateway.api.resource_metadata import protected_resource_metadata
from sqlgateway.api.schema import get_schema
from sqlgateway.auth.resource_metadata import WELL_KNOWN_PATH
from sqlgateway.mcp.streamable import mcp_endpoint

__all__ = [
    "BROWSER_PATHS",
    "ENDPOINTS",
    "OPERATIONS",
    "PROTOCOLS",
    "PUBLIC_PATHS",
    "ROUTE_PATHS",
    "UNAUDITED_PATHS",
    "Endpoint",
    "named_path",
    "starlette_routes",
]

Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class Endpoint:
    path: str
    #: `request → response`, or an ASGI app (the MCP transport answers by itself).
    handler: Handler | ASGIApp
    method: str
    #: Answered without credentials (probes, metrics, the documents a GPT editor imports).
    public: bool = False
    #: One audit event per request. Probes and scrapes are counted in metrics only: a load
    #: balancer polling every few seconds would bury the queries.
    audited: bool = True
    #: operationId in the action spec; None: served and documented, but not offered to the
    #: model (the spec lists only what the model uses). Named queries are operations of their
    #: own, one per query (`NAMED_QUERY_PATH`).
    operation: str | None = None
    #: What the audit event and the metrics record as the request's protocol (http or mcp).
    protocol: str = "http"
    #: Called by browser-based MCP clients: a request whose Origin is not one of
    #: SQLGATEWAY_MCP_ALLOWED_ORIGINS (or the gateway's own) gets 403, CORS answers the others.
    browser: bool = False


#: The path of every named query: POST /queries/getClaimStatus is the operation getClaimStatus.
NAMED_QUERY_PATH = "/queries/{name}"

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("/query", run_query, "POST", operation="runQuery"),
    Endpoint("/schema", get_schema, "GET", operation="getSchema"),
    Endpoint(NAMED_QUERY_PATH, run_named_query, "POST"),
    Endpoint("/mcp", mcp_endpoint, "POST", protocol="mcp", browser=True),
    Endpoint(WELL_KNOWN_PATH, protected_resource_metadata, "GET", public=True, browser=True),
    Endpoint("/healthz", healthz, "GET", public=True, audited=False),
    Endpoint("/readyz", readyz, "GET", public=True, audited=False),
    Endpoint("/metrics", metrics, "GET", public=True, audited=False),
    Endpoint("/privacy", privacy, "GET", public=True),
    Endpoint("/openapi.yaml", openapi_yaml, "GET", public=True),
    Endpoint("/openapi.json", openapi_json, "GET", public=True),
)

ROUTE_PATHS: frozenset[str] = frozenset(endpoint.path for endpoint in ENDPOINTS)
PUBLIC_PATHS: frozenset[str] = frozenset(e.path for e in ENDPOINTS if e.public)
UNAUDITED_PATHS: frozenset[str] = frozenset(e.path for e in ENDPOINTS if not e.audited)
#: path → its method, for the endpoints browsers may call (the CORS preflight names it).
BROWSER_PATHS: dict[str, str] = {e.path: e.method for e in ENDPOINTS if e.browser}
#: path → protocol, for the paths that speak another protocol than plain HTTP.
PROTOCOLS: dict[str, str] = {e.path: e.protocol for e in ENDPOINTS if e.protocol != "http"}
#: (method, path) → the operationId the audit event records.
OPERATIONS: dict[tuple[str, str], str] = {
    (e.method, e.path): e.operation for e in ENDPOINTS if e.operation is not None
}


def named_path(name: str) -> str:
    """The path of the named query `name`."""
    return NAMED_QUERY_PATH.replace("{name}", name)


def starlette_routes() -> list[Route]:
    return [Route(e.path, e.handler, methods=[e.method]) for e in ENDPOINTS]
