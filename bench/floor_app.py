"""The HTTP floor: the thinnest server on the gateway's own stack, to show what HTTP alone costs.

A bare ASGI callable on uvicorn (uvloop + httptools, as the gateway runs): POST a JSON body
``{"sql": …}``, run it with raw asyncpg exactly as the point scenario's ``raw`` variant does
(same pool, same read-only wrapping), answer the rows with orjson. No routing, middleware,
authentication, guard, cost check, row budget, audit or metrics: nothing a gateway could drop.
It must never be deployed; it runs only in the harness, on 127.0.0.1, under `bench.run`.

Configured like the gateway (GatewayProcess sets the variables): SQLGATEWAY_HOST, _PORT,
_DATABASE_URL and _POOL_MAX_SIZE. Run as ``python -m bench.floor_app``.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson
import uvicorn

from bench.point import raw_lookup, raw_pool

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


async def app(scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(scope["state"], receive, send)
        return
    if scope["method"] == "GET":  # /healthz, for GatewayProcess's start-up probe
        await _answer(send, 200, b'{"status":"ok"}')
        return
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    rows = await raw_lookup(scope["state"]["pool"], orjson.loads(body)["sql"])
    payload = {"row_count": len(rows), "rows": [dict(row) for row in rows]}
    await _answer(send, 200, orjson.dumps(payload, default=str))


async def _answer(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(state: dict[str, Any], receive: Receive, send: Send) -> None:
    """The pool lives in the lifespan state, which uvicorn hands to every request's scope."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            size = int(os.environ["SQLGATEWAY_POOL_MAX_SIZE"])
            state["pool"] = await raw_pool(os.environ["SQLGATEWAY_DATABASE_URL"], size)
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await state["pool"].close()
            await send({"type": "lifespan.shutdown.complete"})
            return


if __name__ == "__main__":
    uvicorn.run(
        "bench.floor_app:app",
        host=os.environ["SQLGATEWAY_HOST"],
        port=int(os.environ["SQLGATEWAY_PORT"]),
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
    )
