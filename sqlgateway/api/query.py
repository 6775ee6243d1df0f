"""POST /query: SQL string in, bounded JSON records out (the way: sqlgateway/query.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from sqlgateway.http.body import parse_json_body, read_body
from sqlgateway.http.responses import JSON
from sqlgateway.query import QueryRequest, answer, check_free_sql

if TYPE_CHECKING:
    from sqlgateway.services import Services


async def run_query(request: Request) -> Response:
    services: Services = request.state.services
    check_free_sql(services)  # before the body is read: locked down, /query only refuses
    raw = await read_body(request, services.settings.max_request_chars)
    query = parse_json_body(raw, QueryRequest)
    result = await answer(services, query, request.state.record, request.state.db_scope)
    return Response(result.body, media_type=JSON)
