"""A minimal HTTP/1.1 keep-alive load client on asyncio protocols.

Requests are built as bytes before the clock starts; each of `concurrency` connections sends
one request, reads exactly one response (Content-Length framing, as uvicorn answers), records
the latency and sends the next. No parsing beyond the status line and the length, so the
client costs a few tens of microseconds per request (its ceiling is measured against
/healthz and printed next to the results).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast


def build_request(
    method: str, path: str, host: str, *, body: bytes = b"", headers: dict[str, str] | None = None
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def query_request(host: str, api_key: str, sql: str) -> bytes:
    return build_request(
        "POST",
        "/query",
        host,
        body=json.dumps({"sql": sql}).encode(),
        headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
    )


def named_request(host: str, api_key: str, name: str, arguments: dict[str, object]) -> bytes:
    """POST /queries/<name> with `arguments` as the JSON body."""
    return build_request(
        "POST",
        f"/queries/{name}",
        host,
        body=json.dumps(arguments).encode(),
        headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
    )


@dataclass
class Response:
    status: int
    body: bytes


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._waiter: asyncio.Future[Response] | None = None
        self._closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses

    def connection_lost(self, exc: Exception | None) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc or ConnectionError("server closed the connection"))
        if not self._closed.done():
            self._closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(buffer[:end]).lower()
        start = head.find(b"\r\ncontent-length:")
        if start < 0:
            raise ConnectionError("response without Content-Length")
        stop = head.find(b"\r\n", start + 2)
        length = int(head[start + 17 : stop if stop > 0 else None])
        total = end + 4 + length
        if len(buffer) < total:
            return
        response = Response(int(head[9:12]), bytes(buffer[end + 4 : total]))
        del buffer[:total]
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(response)

    def request(self, raw: bytes) -> asyncio.Future[Response]:
        assert self.transport is not None
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        return self._waiter

    async def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
            await self._closed


async def _connect(host: str, port: int) -> _Connection:
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(_Connection, host, port)
    return protocol


@dataclass
class LoadResult:
    elapsed_s: float
    latencies_s: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str | None = None

    @property
    def throughput(self) -> float:
        return len(self.latencies_s) / self.elapsed_s


async def run_load(
    host: str,
    port: int,
    requests: Sequence[bytes],
    *,
    concurrency: int,
    expect: bytes | None = None,
) -> LoadResult:
    """Send every request once over `concurrency` keep-alive connections. A response that is
    not 200 (or, with `expect`, does not contain it) counts as an error."""
    connections = [await _connect(host, port) for _ in range(concurrency)]
    result = LoadResult(elapsed_s=0.0)
    next_index = 0

    async def worker(connection: _Connection) -> None:
        nonlocal next_index
        latencies = result.latencies_s
        while next_index < len(requests):
            raw = requests[next_index]
            next_index += 1
            sent = time.perf_counter()
            response = await connection.request(raw)
            latencies.append(time.perf_counter() - sent)
            if response.status != 200 or (expect is not None and expect not in response.body):
                result.errors += 1
                if result.first_error is None:
                    result.first_error = f"{response.status}: {response.body[:300]!r}"

    started = time.perf_counter()
    try:
        await asyncio.gather(*(worker(c) for c in connections))
        result.elapsed_s = time.perf_counter() - started
    finally:
        for connection in connections:
            await connection.close()
    return result


async def fetch(host: str, port: int, raw: bytes) -> tuple[Response, float]:
    """One request on a fresh connection: the response and its latency in seconds (the
    connection is opened before the clock starts)."""
    connection = await _connect(host, port)
    try:
        sent = time.perf_counter()
        response = await connection.request(raw)
        return response, time.perf_counter() - sent
    finally:
        await connection.close()
