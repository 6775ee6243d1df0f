"""Pure ASGI middleware. Their order is written out in `app.create_app`."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from sqlgateway.auth import ApiKeyAuthenticator
from sqlgateway.errors import GatewayError
from sqlgateway.responses import error_response

#: Paths anyone may read: liveness and the documents a GPT editor imports.
PUBLIC_PATHS = frozenset({"/healthz", "/openapi.yaml", "/openapi.json"})


class AuthMiddleware:
    """Rejects requests to non-public paths without valid credentials; records the actor."""

    def __init__(self, app: ASGIApp, authenticator: ApiKeyAuthenticator) -> None:
        self.app = app
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        try:
            actor = self.authenticator.authenticate(Headers(scope=scope).get("authorization"))
        except GatewayError as error:
            await error_response(error)(scope, receive, send)
            return
        scope.setdefault("state", {})["actor"] = actor
        await self.app(scope, receive, send)
