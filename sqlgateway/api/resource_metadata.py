"""GET /.well-known/oauth-protected-resource: the RFC 9728 metadata MCP clients sign in by
(auth/resource_metadata.py); 404 unless SQLGATEWAY_AUTH=oauth."""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson
from starlette.requests import Request
from starlette.responses import Response

from sqlgateway.auth.resource_metadata import metadata_document
from sqlgateway.errors import NotFoundError
from sqlgateway.http.responses import JSON

if TYPE_CHECKING:
    from sqlgateway.services import Services


async def protected_resource_metadata(request: Request) -> Response:
    services: Services = request.state.services
    document = metadata_document(services.settings)
    if document is None:
        takes = {"api_key": "API keys", "none": "no credentials"}[services.settings.auth]
        raise NotFoundError(
            f"this gateway takes {takes}, not OAuth access tokens: there is no authorization "
            "server to sign in with",
            hint="send the API key as 'Authorization: Bearer <key>'"
            if services.settings.auth == "api_key"
            else None,
        )
    return Response(orjson.dumps(document), media_type=JSON)
