"""The one place that turns results and errors into HTTP responses."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from sqlgateway.errors import (
    GatewayError,
    InternalError,
    InvalidRequestError,
    MethodNotAllowedError,
    NotFoundError,
    audit_reason,
    render_error,
)
from sqlgateway.http.record import RequestRecord

logger = logging.getLogger("sqlgateway")

JSON = "application/json"


def error_response(error: GatewayError) -> Response:
    return Response(
        render_error(error),
        status_code=error.status_code,
        media_type=JSON,
        headers=error.headers,
    )


def note_error(scope: Scope, error: GatewayError) -> None:
    """Write `error`'s outcome, reason and SQLSTATE into the request's record (for the audit
    trail, metrics and the log line)."""
    record: RequestRecord | None = scope.get("state", {}).get("record")
    if record is not None:
        record_error(record, error)


def record_error(record: RequestRecord, error: GatewayError) -> None:
    """Write `error`'s outcome, reason and SQLSTATE into `record` (an HTTP request's, or an
    MCP tool call's, which answers errors as results rather than HTTP statuses)."""
    record.outcome = error.code
    record.reason = audit_reason(error)
    record.sqlstate = error.sqlstate


async def handle_gateway_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GatewayError)
    note_error(request.scope, exc)
    return error_response(exc)


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    error: GatewayError
    if exc.status_code == 404:
        error = NotFoundError(f"no endpoint {request.url.path}", hint="see /openapi.yaml")
    elif exc.status_code == 405:
        error = MethodNotAllowedError(f"{request.method} is not allowed on {request.url.path}")
    else:
        error = InvalidRequestError(str(exc.detail), status_code=exc.status_code)
    note_error(request.scope, error)
    return error_response(error)


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    logger.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(InternalError("internal error; the incident was logged"))
