"""GET /openapi.yaml and /openapi.json: the action spec, built once in the lifespan."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

if TYPE_CHECKING:
    from sqlgateway.services import Services


async def openapi_yaml(request: Request) -> Response:
    services: Services = request.state.services
    return Response(services.openapi_yaml, media_type="application/yaml")


async def openapi_json(request: Request) -> Response:
    services: Services = request.state.services
    return Response(services.openapi_json, media_type="application/json")
