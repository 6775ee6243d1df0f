"""POST /queries/{name}: a named query with its parameters as a JSON object (the way:
sqlgateway/named/answer.py).

The body is the only input. A query string is refused rather than ignored, so no parameter,
and least of all an identity parameter, can arrive any other way. An empty body is an empty
object: a query without parameters needs none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from sqlgateway.errors import InvalidRequestError
from sqlgateway.http.body import load_json, read_body
from sqlgateway.http.responses import JSON
from sqlgateway.named.answer import answer_named, find

if TYPE_CHECKING:
    from sqlgateway.services import Services


async def run_named_query(request: Request) -> Response:
    services: Services = request.state.services
    name = request.path_params["name"]
    find(services.named, name)  # 404 before anything is read
    if request.url.query:
        raise InvalidRequestError(
            "named queries take their parameters in the JSON body, never in the query string",
            status_code=400,
            hint=f"POST /queries/{name} with a JSON object of the parameters",
        )
    raw = await read_body(request, services.settings.max_request_chars)
    arguments: Any = None
    if raw.strip():
        arguments = load_json(raw, hint="send a JSON object of the query's parameters")
    result = await answer_named(
        services,
        name,
        arguments,
        request.state.identity,
        request.state.record,
        request.state.db_scope,
    )
    return Response(result.body, media_type=JSON)
