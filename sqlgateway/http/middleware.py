"""Pure ASGI middleware. Their order is written out in `app.create_app`."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sqlgateway.auth.scoping import scope_for
from sqlgateway.errors import GatewayError, InternalError, UnavailableError
from sqlgateway.http.record import CANCELLED, RequestRecord
from sqlgateway.http.release import AuditedSend
from sqlgateway.http.responses import error_response, note_error
from sqlgateway.logs import request_log_fields
from sqlgateway.routes import OPERATIONS, PROTOCOLS, PUBLIC_PATHS, UNAUDITED_PATHS
from sqlgateway.settings import Settings

if TYPE_CHECKING:
    from sqlgateway.audit.trail import AuditTrail
    from sqlgateway.services import Services

logger = logging.getLogger("sqlgateway")
request_logger = logging.getLogger("sqlgateway.request")

REQUEST_ID_HEADER = "X-Request-Id"


class RequestLog:
    """Outermost: gives every request a `RequestRecord` and a request id (returned as
    X-Request-Id), and turns the record into one audit event, one metrics sample and one
    service log line.

    An audited request's answer leaves only once its event is durable (`release.AuditedSend`);
    when no sink can take events and the trail fails closed, the request gets 503 before any
    of its work. The event of a request that ends without an answer (the client went away, or
    the server gave up on it) is handed over when it ends; nothing waits for it. A request the
    app fails on is committed before the 500 that is rendered outside."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        client = scope.get("client")
        record = RequestRecord(
            method=scope["method"],
            path=scope["path"],
            operation=OPERATIONS.get((scope["method"], scope["path"])),
            protocol=PROTOCOLS.get(scope["path"], "http"),
            client_addr=client[0] if client else None,
            user_agent=(headers.get("user-agent") or "")[:300] or None,
        )
        state = scope.setdefault("state", {})
        state["record"] = record
        services: Services | None = state.get("services")
        trail = services.audit if services is not None else None
        if record.path in UNAUDITED_PATHS:
            trail = None

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                record.status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = record.request_id
            elif message["type"] == "http.response.body" and trail is None:
                record.response_chars = (record.response_chars or 0) + len(message.get("body", b""))
            await send(message)

        if trail is not None:
            try:
                trail.admit()  # before any work: its event could not be stored
            except UnavailableError as refusal:
                note_error(scope, refusal)
                await error_response(refusal)(scope, receive, send_with_id)
                self._finish(services, record, trail, committed=False)
                return
        audited = (
            None if trail is None else AuditedSend(scope, receive, send_with_id, record, trail)
        )
        try:
            await self.app(scope, receive, audited or send_with_id)
        except asyncio.CancelledError:
            record.outcome = record.outcome or CANCELLED
            raise
        except Exception as error:
            # a bug: ServerErrorMiddleware (outside) answers 500; the record says so too
            note_error(scope, InternalError(f"{type(error).__name__} (see the service log)"))
            record.status = 500
            if audited is not None and not audited.committed:
                await audited.before_error()
            raise
        finally:
            committed = audited is not None and audited.committed
            self._finish(services, record, trail, committed=committed)

    @staticmethod
    def _finish(
        services: Services | None,
        record: RequestRecord,
        trail: AuditTrail | None,
        *,
        committed: bool,
    ) -> None:
        finish_request(services, record, trail=trail, committed=committed)


def finish_request(
    services: Services | None,
    record: RequestRecord,
    *,
    trail: AuditTrail | None,
    committed: bool,
) -> None:
    """The end of a request, whatever its protocol: one metrics sample, one log line, and its
    audit event handed to `trail` unless it was already committed (nobody was answered, or a
    refusal before any work: nothing waits for it)."""
    if not committed:
        record.finish()
        if trail is not None:
            trail.submit(record.event())
    if services is not None:
        services.metrics.observe(record)
    level = logging.DEBUG if record.path in UNAUDITED_PATHS else logging.INFO
    if request_logger.isEnabledFor(level):  # the fields cost more than the check
        request_logger.log(level, "request", extra=request_log_fields(record))


async def commit_request(services: Services, record: RequestRecord) -> None:
    """The end of a request answered outside HTTP (an MCP tool call over stdio), before its
    answer is written: the event is on durable storage when this returns (UnavailableError
    when no sink can take it and the trail fails closed), then counted and logged."""
    trail = services.audit
    committed = False
    try:
        if trail is not None:
            record.finish()
            committed = True
            await trail.commit(record.event())
    finally:
        finish_request(services, record, trail=trail, committed=committed)


class AuthMiddleware:
    """Rejects requests to non-public paths without valid credentials or over the actor's
    rate; records who asked and what the database will be told about them. The
    authenticator and the limiter are the lifespan's (`services`)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        services: Services = state["services"]
        record: RequestRecord | None = state.get("record")
        if record is not None:
            record.auth_mode = services.authenticator.mode
        try:
            identity = await services.authenticator.authenticate(Headers(scope=scope))
            if record is not None:
                record.actor = identity.actor
            services.limiter.check(identity.actor)
            db_scope = scope_for(identity, self.settings)
        except GatewayError as error:
            note_error(scope, error)
            await error_response(error)(scope, receive, send)
            return
        state["identity"] = identity
        state["db_scope"] = db_scope
        await self.app(scope, receive, send)


class CancelOnDisconnect:
    """Cancels the request's work (and so its running query) when the client goes away.

    Once the body has been read, the next ASGI message can only be `http.disconnect`; a
    watcher started then waits for it and cancels the request's task if it arrives first.
    One task per request, and only for requests that read their body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        task = asyncio.current_task()
        assert task is not None
        watcher: asyncio.Task[None] | None = None
        gone = False

        async def watch() -> None:
            nonlocal gone
            if (await receive())["type"] == "http.disconnect":
                gone = True
                task.cancel()

        async def receive_body() -> Message:
            nonlocal watcher
            message = await receive()
            finished = message["type"] != "http.request" or not message.get("more_body", False)
            if finished and watcher is None and message["type"] != "http.disconnect":
                watcher = asyncio.ensure_future(watch())
            return message

        withdrawn = False  # the watcher's cancellation, once taken back from the task
        try:
            await self.app(scope, receive_body, send)
        except asyncio.CancelledError:
            if not gone:
                raise
            withdrawn = True
            if task.uncancel() > 0:
                raise  # cancelled from outside too (shutdown), not only by the watcher
            logger.info("client disconnected; request cancelled: %s", scope["path"])
        finally:
            if watcher is not None:
                watcher.cancel()
            if gone and not withdrawn:
                task.uncancel()  # the app ended some other way after the watcher cancelled
