"""Every endpoint, declared once: its path, handler and methods, whether it needs
credentials, whether it leaves an audit event, and the operation it is in the action spec.

The app's routes, the middleware's public and unaudited paths, the metrics' route labels and
the spec's paths all derive from `ENDPOINTS`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sqlgateway.api.health import healthz, metrics, readyz
from sqlgateway.api.named import run_named_query
from sqlgateway.api.openapi import openapi_json, openapi_yaml
from sqlgateway.api.privacy import privacy
from sqlgateway.api.query import run_query
from sqlgateway.api.schema import get_schema

__all__ = [
    "ENDPOINTS",
    "OPERATIONS",
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
    handler: Handler
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


#: The path of every named query: POST /queries/getClaimStatus is the operation getClaimStatus.
NAMED_QUERY_PATH = "/queries/{name}"

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("/query", run_query, "POST", operation="runQuery"),
    Endpoint("/schema", get_schema, "GET", operation="getSchema"),
    Endpoint(NAMED_QUERY_PATH, run_named_query, "POST"),
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
#: (method, path) → the operationId the audit event records.
OPERATIONS: dict[tuple[str, str], str] = {
    (e.method, e.path): e.operation for e in ENDPOINTS if e.operation is not None
}


def named_path(name: str) -> str:
    """The path of the named query `name`."""
    return NAMED_QUERY_PATH.replace("{name}", name)


def starlette_routes() -> list[Route]:
    return [Route(e.path, e.handler, methods=[e.method]) for e in ENDPOINTS]
