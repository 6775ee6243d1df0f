"""Pure ASGI middleware. Their order is written out in `app.create_app`."""

from __future__ import annotations

import asyncio
import logging

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sqlgateway.auth import ApiKeyAuthenticator
from sqlgateway.errors import GatewayError
from sqlgateway.responses import error_response

logger = logging.getLogger("sqlgateway")

#: Paths anyone may read: liveness and the documents a GPT editor imports.
PUBLIC_PATHS = frozenset({"/healthz", "/privacy", "/openapi.yaml", "/openapi.json"})


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


class CancelOnDisconnect:
    """Cancels the request's work (and so its running query) when the client goes away.

    Once the body has been read, the next ASGI message can only be `http.disconnect`; a
    watcher waits for it while the app runs and cancels the app if it arrives first."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body_read = asyncio.Event()

        async def receive_body() -> Message:
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_read.set()
            return message

        work = asyncio.ensure_future(self.app(scope, receive_body, send))

        async def watch() -> None:
            await body_read.wait()
            message = await receive()
            if message["type"] == "http.disconnect" and not work.done():
                work.cancel()

        watcher = asyncio.ensure_future(watch())
        try:
            await work
        except asyncio.CancelledError:
            if not watcher.done() or watcher.cancelled():
                raise  # cancelled from outside (shutdown), not by the watcher
            logger.info("client disconnected; request cancelled: %s", scope["path"])
        finally:
            watcher.cancel()
