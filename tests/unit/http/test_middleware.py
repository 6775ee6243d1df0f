"""middleware.CancelOnDisconnect: a client that goes away cancels the request's work, and
nothing else does. (The end-to-end proof, a query cancelled on the server, is in
tests/integration/serving/test_serving.py.)"""

from __future__ import annotations

import asyncio

import pytest
from starlette.types import Message, Receive, Scope, Send

from sqlgateway.http.middleware import CancelOnDisconnect

SCOPE: Scope = {"type": "http", "path": "/query", "method": "POST"}


class Client:
    """ASGI receive: the body, then `http.disconnect` once `leave()` is called."""

    def __init__(self) -> None:
        self._gone = asyncio.Event()
        self.sent_body = False

    async def receive(self) -> Message:
        if not self.sent_body:
            self.sent_body = True
            return {"type": "http.request", "body": b"{}", "more_body": False}
        await self._gone.wait()
        return {"type": "http.disconnect"}

    def leave(self) -> None:
        self._gone.set()


async def _nothing_sent(message: Message) -> None:
    raise AssertionError(f"nothing should be sent: {message}")


def _app(work_s: float, log: list[str], *, swallow: bool = False) -> CancelOnDisconnect:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        log.append("started")
        try:
            await asyncio.sleep(work_s)
        except asyncio.CancelledError:
            log.append("cancelled")
            if not swallow:
                raise
        log.append("finished")

    return CancelOnDisconnect(app)


async def _running(
    work_s: float, *, swallow: bool = False
) -> tuple[Client, list[str], asyncio.Task[None]]:
    """A client, the app's log and the request's task, once the app has read the body."""
    client, log = Client(), []
    app = _app(work_s, log, swallow=swallow)
    request = asyncio.ensure_future(app(SCOPE, client.receive, _nothing_sent))
    for _ in range(500):
        if log:
            break
        await asyncio.sleep(0.001)
    assert log == ["started"]
    return client, log, request


def test_a_client_that_leaves_cancels_the_work() -> None:
    asyncio.run(_a_client_that_leaves_cancels_the_work())


async def _a_client_that_leaves_cancels_the_work() -> None:
    client, log, request = await _running(30)
    client.leave()
    done, _ = await asyncio.wait({request}, timeout=5)  # wait() never cancels it itself
    assert done == {request}
    request.result()  # the request simply ends, without an error
    assert log == ["started", "cancelled"]
    assert request.cancelling() == 0


def test_work_that_finishes_leaves_no_watcher_or_cancellation_behind() -> None:
    asyncio.run(_work_that_finishes_leaves_no_watcher_or_cancellation_behind())


async def _work_that_finishes_leaves_no_watcher_or_cancellation_behind() -> None:
    client, log = Client(), []
    before = len(asyncio.all_tasks())

    async def request() -> int:
        await _app(0, log)(SCOPE, client.receive, _nothing_sent)
        await asyncio.sleep(0.01)  # a pending cancellation would land here
        task = asyncio.current_task()
        assert task is not None
        return task.cancelling()

    assert await request() == 0
    await asyncio.sleep(0)
    assert log == ["started", "finished"]
    assert len(asyncio.all_tasks()) == before


def test_cancellation_from_outside_still_cancels() -> None:
    asyncio.run(_cancellation_from_outside_still_cancels())


async def _cancellation_from_outside_still_cancels() -> None:
    _client, log, request = await _running(30)
    request.cancel()  # shutdown, or a deadline above the middleware
    with pytest.raises(asyncio.CancelledError):
        await request
    assert log == ["started", "cancelled"]


def test_a_disconnect_during_an_outside_cancellation_does_not_swallow_it() -> None:
    asyncio.run(_a_disconnect_during_an_outside_cancellation_does_not_swallow_it())


async def _a_disconnect_during_an_outside_cancellation_does_not_swallow_it() -> None:
    client, _log, request = await _running(30)
    client.leave()
    request.cancel()
    with pytest.raises(asyncio.CancelledError):
        await request
    assert request.cancelling() == 1  # the outside cancellation is still counted


def test_an_app_that_swallows_the_cancellation_leaves_none_pending() -> None:
    asyncio.run(_an_app_that_swallows_the_cancellation_leaves_none_pending())


async def _an_app_that_swallows_the_cancellation_leaves_none_pending() -> None:
    client, log, request = await _running(30, swallow=True)
    client.leave()
    await asyncio.wait({request}, timeout=5)
    request.result()
    assert log == ["started", "cancelled", "finished"]
    assert request.cancelling() == 0
