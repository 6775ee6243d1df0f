"""An audited request's answer leaves only once its audit event is on durable storage.

`AuditedSend` is the ASGI `send` the app answers through (`middleware.RequestLog` puts it in
place). It holds `http.response.start` until the body's first message: only then are the
status and the size known. It completes the record (status, size, outcome, duration), waits
for `AuditTrail.commit` of its event, and sends both messages; later body messages pass.
Every answer goes this way: results, the errors the exception handlers render, the 401s and
429s of the authentication middleware.

When no sink can take the event and the trail fails closed, the held answer is dropped and a
503 `unavailable` goes out instead (its own event cannot be stored either). A client that
goes away while the event is being written cancels the wait, not the write.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import Message, Receive, Scope, Send

from sqlgateway.audit.trail import AuditTrail
from sqlgateway.errors import UnavailableError
from sqlgateway.http.record import RequestRecord
from sqlgateway.http.responses import error_response, note_error

__all__ = ["AuditedSend"]


class AuditedSend:
    """`send` for one audited request (see the module docstring)."""

    def __init__(
        self, scope: Scope, receive: Receive, send: Send, record: RequestRecord, trail: AuditTrail
    ) -> None:
        self._scope = scope
        self._receive = receive
        self._send = send
        self._record = record
        self._trail = trail
        self._held: Message | None = None
        self._replaced = False
        #: The event was handed to the trail (it must never be handed over twice).
        self.committed = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self._held = message
        elif message["type"] == "http.response.body" and self._held is not None:
            start, self._held = self._held, None
            await self._release(start, message)
        elif not self._replaced:
            await self._send(message)

    async def before_error(self) -> None:
        """The app failed without an answer; one will be rendered outside (a 500): commit
        the event first, or, if that is refused, answer 503 here instead."""
        self._held = None
        await self._commit()

    async def _release(self, start: Message, body: Message) -> None:
        record = self._record
        record.status = start["status"]
        record.response_chars = _body_chars(start, body)
        if await self._commit():
            await self._send(start)
            await self._send(body)

    async def _commit(self) -> bool:
        """Finish the record and wait for its event; False if a 503 was sent instead."""
        self._record.finish()
        self.committed = True
        try:
            await self._trail.commit(self._record.event())
        except UnavailableError as refusal:
            self._replaced = True
            note_error(self._scope, refusal)
            self._record.status = refusal.status_code
            await error_response(refusal)(self._scope, self._receive, self._send)
            return False
        return True


def _body_chars(start: Message, body: Message) -> int | None:
    """The body's size: the first message's when it is the only one, else Content-Length."""
    if not body.get("more_body", False):
        return len(body.get("body", b""))
    length = Headers(raw=start.get("headers", [])).get("content-length")
    return int(length) if length and length.isdigit() else None
