"""`sqlgateway serve` as a real subprocess on loopback (`serve_process`), and queries sent so
that both of two workers serve some: shared by the scale-out, metrics and audit crash tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
from conftest import TEST_API_KEY, TEST_KEY_ENTRY
from live import free_port, reader_backends, wait_until_healthy

from sqlgateway.demo.database import DemoDatabase

AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}


@contextmanager
def serve_process(
    demo: DemoDatabase,
    settings: dict[str, str | None],
    *,
    workers: int = 1,
    log_path: Path | None = None,
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """The running `sqlgateway serve` process (`workers` worker processes) and its URL, with
    the test API key, a pool of one connection per worker and `settings` (variables, None to
    remove one) on top of the environment. Its standard error goes to a pipe, or appended to
    `log_path` (for a test that makes it log a lot). Killed on the way out if the test did
    not stop it."""
    port = free_port()
    environment = {
        **os.environ,
        "SQLGATEWAY_API_KEYS": TEST_KEY_ENTRY,
        "SQLGATEWAY_POOL_MIN_SIZE": "1",
        "SQLGATEWAY_POOL_MAX_SIZE": "1",
        "SQLGATEWAY_LOG_LEVEL": "warning",
    }
    for name, value in settings.items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = value
    command = [sys.executable, "-m", "sqlgateway", "serve", "--workers", str(workers)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--database-url", demo.reader_dsn]
    with contextlib.ExitStack() as files:
        log = files.enter_context(log_path.open("ab")) if log_path else subprocess.PIPE
        process = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(process, url, log_path)
        yield process, url
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()


@contextmanager
def serve_two_workers(
    demo: DemoDatabase, settings: dict[str, str | None]
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`serve_process` with two workers (each connection that ran a query is a worker that
    served)."""
    with serve_process(demo, settings, workers=2) as served:
        yield served


async def send_on_new_connections(url: str, sqls: list[str], concurrency: int) -> Counter[int]:
    """POST every SQL, each on a new TCP connection (so the kernel spreads them)."""
    statuses: Counter[int] = Counter()
    queue = list(sqls)
    limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=0)
    async with httpx2.AsyncClient(base_url=url, headers=AUTH, limits=limits, timeout=30) as http:

        async def worker() -> None:
            while queue:
                response = await http.post("/query", json={"sql": queue.pop()})
                statuses[response.status_code] += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return statuses


def query_both_workers(
    demo: DemoDatabase, url: str, before: set[int], queries: int, rounds: int = 5
) -> tuple[int, set[int]]:
    """Rounds of `queries` point lookups until both workers' connections have served some
    (the kernel decides which worker accepts); how many were sent, all answered 200, and the
    backend pids that served them."""
    statuses: Counter[int] = Counter()
    served: set[int] = set()
    for _ in range(rounds):
        sqls = [f"SELECT claim_id FROM claims WHERE claim_id = {i + 1}" for i in range(queries)]
        statuses += asyncio.run(send_on_new_connections(url, sqls, concurrency=8))
        served = {
            pid
            for pid, query in reader_backends(demo).items()
            if pid not in before and query == "ROLLBACK"  # the end of every gateway query
        }
        if len(served) >= 2:
            break
    assert set(statuses) == {200}, statuses
    assert len(served) == 2, f"one worker served all {statuses.total()} queries"
    return statuses.total(), served
