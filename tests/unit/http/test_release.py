"""release.AuditedSend and RequestLog: an audited answer leaves only once its event is in the
sink; when nothing can store events, the request is refused before the app runs, or its held
answer becomes a 503; failing open, it leaves and is counted. (End to end, with a real server
killed under load: tests/integration/serving/test_audit_crash.py.)"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from starlette.types import Message, Receive, Scope, Send

from sqlgateway.audit.trail import AuditTrail, Event
from sqlgateway.http.middleware import RequestLog
from sqlgateway.http.record import RequestRecord
from sqlgateway.http.release import AuditedSend


class Sink:
    """Keeps events in a list; `failing` makes every call raise."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.failing = False

    async def open(self) -> None:
        if self.failing:
            raise ConnectionError("down")

    async def write(self, events: Sequence[Event]) -> None:
        if self.failing:
            raise ConnectionError("down")
        self.events.extend(dict(event) for event in events)

    async def ping(self) -> None:
        if self.failing:
            raise ConnectionError("down")

    async def stored(self, request_ids: Collection[str], since_s: float) -> set[str]:
        return set()

    async def close(self) -> None:
        pass


class Client:
    """The server side of one connection: what was sent, and what the sink held then."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.messages: list[Message] = []
        self.events_when_started: list[str] | None = None

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.events_when_started = [event["request_id"] for event in self.sink.events]
        self.messages.append(message)

    @property
    def status(self) -> int:
        return int(self.messages[0]["status"])

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.messages[1:])


async def _receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


def _answer(status: int = 200, chunks: tuple[bytes, ...] = (b'{"rows":[]}',)) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"application/json")]
        if len(chunks) > 1:
            headers.append((b"content-length", str(sum(map(len, chunks))).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        for number, chunk in enumerate(chunks):
            more = number < len(chunks) - 1
            await send({"type": "http.response.body", "body": chunk, "more_body": more})

    return app


def _trail(tmp_path: Path, sink: Sink, *, spill_ok: bool = True, **options: Any) -> AuditTrail:
    spill_dir = tmp_path / "spill"
    if not spill_ok:
        (tmp_path / "blocked").write_text("")
        spill_dir = tmp_path / "blocked" / "spill"
    settings: dict[str, Any] = {"commit_window_ms": 1, "commit_max_events": 50, **options}
    return AuditTrail(sink, spill_dir=spill_dir, **settings)


def _scope(path: str = "/query") -> Scope:
    return {"type": "http", "method": "POST", "path": path, "headers": [], "state": {}}


def test_the_answer_leaves_only_once_its_event_is_in_the_sink(tmp_path: Path) -> None:
    sink = Sink()
    trail = _trail(tmp_path, sink)
    client = Client(sink)
    record = RequestRecord(method="POST", path="/query")

    async def go() -> None:
        await trail.start()
        send = AuditedSend(_scope(), _receive, client.send, record, trail)
        await _answer()(_scope(), _receive, send)
        await trail.close()

    asyncio.run(go())
    assert client.events_when_started == [record.request_id]
    assert client.status == 200 and client.body == b'{"rows":[]}'
    [event] = sink.events
    assert (event["status"], event["outcome"], event["response_chars"]) == (200, "ok", 11)
    assert event["total_ms"] is not None


def test_a_streamed_answer_records_its_length_and_its_later_parts_pass(tmp_path: Path) -> None:
    sink = Sink()
    trail = _trail(tmp_path, sink)
    client = Client(sink)
    record = RequestRecord(method="GET", path="/schema")

    async def go() -> None:
        await trail.start()
        send = AuditedSend(_scope(), _receive, client.send, record, trail)
        await _answer(chunks=(b"[1,", b"2,", b"3]"))(_scope(), _receive, send)
        await trail.close()

    asyncio.run(go())
    assert client.events_when_started == [record.request_id]
    assert client.body == b"[1,2,3]"
    assert sink.events[0]["response_chars"] == 7


def test_an_event_nothing_can_store_turns_the_held_answer_into_a_503(tmp_path: Path) -> None:
    sink = Sink()
    trail = _trail(tmp_path, sink, spill_ok=False)
    client = Client(sink)
    record = RequestRecord(method="POST", path="/query")

    async def go() -> None:
        await trail.start()
        sink.failing = True  # after the request was admitted
        scope = _scope()
        scope["state"]["record"] = record  # as RequestLog leaves it
        send = AuditedSend(scope, _receive, client.send, record, trail)
        await _answer(chunks=(b"secret rows", b" and more"))(_scope(), _receive, send)
        await trail.close()

    asyncio.run(go())
    assert client.status == 503
    assert b"secret" not in client.body
    error = orjson.loads(client.body)["error"]
    assert error["code"] == "unavailable" and "audit trail" in error["hint"]
    headers = dict(client.messages[0]["headers"])
    assert int(headers[b"retry-after"]) >= 1
    assert (record.status, record.outcome) == (503, "unavailable")
    assert sink.events == [] and trail.dropped == 1


def test_failing_open_the_answer_leaves_and_is_counted(tmp_path: Path) -> None:
    sink = Sink()
    sink.failing = True
    trail = _trail(tmp_path, sink, spill_ok=False, fail_open=True)
    client = Client(sink)
    record = RequestRecord(method="POST", path="/query")

    async def go() -> None:
        await trail.start()
        send = AuditedSend(_scope(), _receive, client.send, record, trail)
        await _answer()(_scope(), _receive, send)
        await trail.close()

    asyncio.run(go())
    assert client.status == 200 and client.body == b'{"rows":[]}'
    assert (trail.unaudited, trail.dropped) == (1, 1)


class _Metrics:
    def __init__(self) -> None:
        self.observed: list[RequestRecord] = []

    def observe(self, record: RequestRecord) -> None:
        self.observed.append(record)


def _served(app: Any, trail: AuditTrail, path: str = "/query") -> tuple[Scope, _Metrics]:
    """A scope as the lifespan leaves it: `services` with the trail and a metrics stand-in."""
    scope = _scope(path)
    metrics = _Metrics()
    scope["state"]["services"] = SimpleNamespace(audit=trail, metrics=metrics)
    return scope, metrics


def test_request_log_refuses_before_the_app_runs_when_no_event_can_be_stored(
    tmp_path: Path,
) -> None:
    sink = Sink()
    sink.failing = True
    trail = _trail(tmp_path, sink, spill_ok=False)
    client = Client(sink)
    ran: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        ran.append(scope["path"])
        await _answer()(scope, receive, send)

    async def go() -> None:
        await trail.start()
        for path in ("/query", "/healthz"):  # probes are not audited: always answered
            scope, _ = _served(app, trail, path)
            await RequestLog(app)(scope, _receive, client.send)
        await trail.close()

    asyncio.run(go())
    assert ran == ["/healthz"]
    assert [m["status"] for m in client.messages if m["type"] == "http.response.start"] == [
        503,
        200,
    ]
    headers = dict(client.messages[0]["headers"])
    assert b"x-request-id" in headers and int(headers[b"retry-after"]) >= 1


def test_an_app_that_fails_has_its_event_stored_before_the_500_goes_out(tmp_path: Path) -> None:
    sink = Sink()
    trail = _trail(tmp_path, sink)
    client = Client(sink)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("a bug")

    async def go() -> None:
        await trail.start()
        scope, metrics = _served(app, trail)
        with pytest.raises(RuntimeError):
            await RequestLog(app)(scope, _receive, client.send)
        # what ServerErrorMiddleware, outside, would do now: answer 500
        assert [event["outcome"] for event in sink.events] == ["internal_error"]
        assert metrics.observed[0].status == 500
        await trail.close()

    asyncio.run(go())
    assert client.messages == []


def test_a_request_that_gets_no_answer_still_leaves_its_event(tmp_path: Path) -> None:
    sink = Sink()
    trail = _trail(tmp_path, sink, commit_window_ms=0)
    client = Client(sink)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        return  # e.g. the client went away and the work was cancelled

    async def go() -> None:
        await trail.start()
        scope, _ = _served(app, trail)
        await RequestLog(app)(scope, _receive, client.send)
        await trail.close()

    asyncio.run(go())
    assert [event["outcome"] for event in sink.events] == ["cancelled"]
    assert sink.events[0]["status"] is None
