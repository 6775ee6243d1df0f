"""A real uvicorn server on 127.0.0.1 in a background thread, and a bounded load generator,
for tests that need real sockets: concurrency, disconnects, slow clients, faults."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2
import uvicorn
from conftest import TEST_API_KEY, TEST_READER, admin_fetch

from sqlgateway.app import create_app
from sqlgateway.demo.database import DemoDatabase
from sqlgateway.settings import Settings


@contextmanager
def live_server(settings: Settings, **app_options: Any) -> Iterator[str]:
    """Serve `create_app(settings, **app_options)`; yields the base URL."""
    config = uvicorn.Config(
        create_app(settings, **app_options),
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="live-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the live server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


class LoadResult:
    def __init__(self) -> None:
        self.statuses: Counter[int] = Counter()
        self.latencies: list[float] = []
        self.answers: list[tuple[float, int]] = []  # (monotonic time answered, status)
        self.errors: Counter[str] = Counter()  # code: message of unexpected answers


async def load(
    url: str, requests: int, concurrency: int, sql_for: Any, timeout_s: float = 60
) -> LoadResult:
    """Send `requests` POST /query at `concurrency` (SQL `sql_for(i)`, API key `TEST_API_KEY`)."""
    result = LoadResult()
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(requests):
        queue.put_nowait(i)
    limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx2.AsyncClient(
        base_url=url,
        headers={"Authorization": f"Bearer {TEST_API_KEY}"},
        limits=limits,
        timeout=timeout_s,
    ) as http:

        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                started = time.perf_counter()
                try:
                    response = await http.post("/query", json={"sql": sql_for(i)})
                    status = response.status_code
                    if status not in (200, 503, 504):
                        error = response.json()["error"]
                        result.errors[f"{error['code']}: {error['message'][:120]}"] += 1
                except httpx2.HTTPError:
                    status = 0  # no answer at all
                result.statuses[status] += 1
                result.latencies.append(time.perf_counter() - started)
                result.answers.append((time.monotonic(), status))

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return result


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def reader_backends(demo: DemoDatabase) -> dict[int, str]:
    """pid → last statement of the gateway's connections to the test database."""
    rows = admin_fetch(
        demo,
        "SELECT pid, query FROM pg_stat_activity WHERE usename = $1 "
        "AND application_name = 'sqlgateway' AND datname = current_database()",
        TEST_READER,
    )
    return {row["pid"]: row["query"] for row in rows}


def wait_until_healthy(
    process: subprocess.Popen[bytes],
    url: str,
    log_path: Path | None = None,
    timeout_s: float = 30,
) -> None:
    """Until `url`/healthz answers 200; fails with the process's stderr (or its log file) if
    it exits first."""
    deadline = time.monotonic() + timeout_s
    while True:
        if process.poll() is not None:
            if log_path is not None:
                raise AssertionError(log_path.read_text(errors="replace")[-5_000:])
            raise AssertionError(process.stderr.read() if process.stderr else "")
        try:
            if httpx2.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx2.HTTPError:
            pass
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.1)
