"""Serving under pressure, over real sockets: load, pool exhaustion, disconnects, slow
clients, statement timeouts under load, and the database restarting mid-load.

Short versions run by default; the long ones (`-m slow`) are the issue's full numbers."""

from __future__ import annotations

import asyncio
import random
import shutil
import socket
import statistics
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx2
import orjson
import pytest
from conftest import TEST_API_KEY, admin_fetch, audit_fetch, make_settings
from live import LoadResult, live_server, load

from sqlgateway.demo.database import DemoDatabase, ensure_demo
from sqlgateway.demo.embedded import start_embedded

AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}
HEAVY = "SELECT count(*) FROM generate_series(1, 2000000000) AS g WHERE g > 7"


def _point_lookup(i: int) -> str:
    return f"SELECT * FROM claims WHERE claim_id = {random.Random(i).randint(1, 20_000)}"


def _report(name: str, result: LoadResult) -> None:
    ordered = sorted(result.latencies)
    p99 = ordered[int(len(ordered) * 0.99) - 1] * 1000
    print(
        f"\n{name}: {sum(result.statuses.values())} requests, statuses {dict(result.statuses)}, "
        f"p50 {statistics.median(ordered) * 1000:.1f} ms, p99 {p99:.1f} ms, "
        f"unexpected {dict(result.errors)}"
    )


@pytest.mark.parametrize(
    ("requests", "concurrency"),
    [
        pytest.param(2_000, 32, id="short"),
        pytest.param(20_000, 64, id="full", marks=pytest.mark.slow),
    ],
)
def test_load_every_request_gets_an_answer_and_no_5xx(
    demo: DemoDatabase, pg_admin_dsn: str, audit_dsn: str, requests: int, concurrency: int
) -> None:
    schema = f"load_{requests}"  # this run's own audit table: its rows are this run's events
    audit_fetch(pg_admin_dsn, f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    settings = make_settings(
        demo,
        pool_max_size=8,
        audit_sink="postgres",
        audit_database_url=audit_dsn,
        audit_schema=schema,
    )
    with live_server(settings) as url:
        result = asyncio.run(load(url, requests, concurrency, _point_lookup))
    _report(f"load {requests}@{concurrency}", result)
    assert result.statuses == Counter({200: requests})
    # the server has shut down: every request's event is in the audit table, once
    [row] = audit_fetch(
        pg_admin_dsn,
        f"SELECT count(*) AS events, count(DISTINCT request_id) AS ids, "
        f"count(*) FILTER (WHERE outcome = 'ok') AS ok FROM {schema}.audit_events",
    )
    assert (row["events"], row["ids"], row["ok"]) == (requests, requests, requests)


def test_exhausted_pool_answers_503_with_retry_after_instead_of_hanging(demo: DemoDatabase) -> None:
    settings = make_settings(
        demo,
        pool_min_size=1,
        pool_max_size=1,
        pool_acquire_timeout_ms=200,
        statement_timeout_ms=3_000,
        request_deadline_ms=10_000,
        max_plan_cost=0,
    )
    with (
        live_server(settings) as url,
        httpx2.Client(base_url=url, headers=AUTH, timeout=30) as http,
    ):
        holder = threading.Thread(target=lambda: http.post("/query", json={"sql": HEAVY}))
        holder.start()
        try:
            _wait_for_active(demo, "generate_series(1, 2000000000)")
            started = time.monotonic()
            response = http.post("/query", json={"sql": "SELECT 1"})
            waited_s = time.monotonic() - started
        finally:
            holder.join()
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "unavailable"
        assert int(response.headers["Retry-After"]) >= 1
        assert waited_s < 3  # it did not wait for the running query to end
        assert http.post("/query", json={"sql": "SELECT 1"}).status_code == 200


def _active(demo: DemoDatabase, fragment: str) -> int:
    rows = admin_fetch(
        demo,
        "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE $1",
        f"%{fragment}%",
    )
    return int(rows[0][0])


def _wait_for_active(demo: DemoDatabase, fragment: str, *, present: bool = True) -> None:
    deadline = time.monotonic() + 10
    while (_active(demo, fragment) > 0) != present:
        if time.monotonic() > deadline:
            raise AssertionError(f"query {'never started' if present else 'still running'}")
        time.sleep(0.05)


def test_client_disconnect_cancels_the_query_on_the_server(demo: DemoDatabase) -> None:
    settings = make_settings(demo, statement_timeout_ms=30_000, max_plan_cost=0)
    with live_server(settings) as url:
        host, port = urlsplit(url).hostname, urlsplit(url).port
        body = orjson.dumps({"sql": HEAVY})
        with socket.create_connection((host, port)) as sock:
            sock.sendall(
                b"POST /query HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                + f"Authorization: Bearer {TEST_API_KEY}\r\n".encode()
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            _wait_for_active(demo, "generate_series(1, 2000000000)")
        # the socket is closed: the gateway must cancel the statement, not let it run 30 s
        _wait_for_active(demo, "generate_series(1, 2000000000)", present=False)
        with httpx2.Client(base_url=url, headers=AUTH) as http:
            assert http.post("/query", json={"sql": "SELECT 1"}).status_code == 200


def test_slow_reader_does_not_hold_up_others(demo: DemoDatabase) -> None:
    with live_server(make_settings(demo)) as url:
        host, port = urlsplit(url).hostname, urlsplit(url).port
        body = orjson.dumps({"sql": "SELECT * FROM claims"})
        with socket.create_connection((host, port)) as slow:
            slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            slow.sendall(
                b"POST /query HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                + f"Authorization: Bearer {TEST_API_KEY}\r\n".encode()
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            first = slow.recv(100)  # the answer started, and then the client stalls
            assert asyncio.run(load(url, 200, 8, _point_lookup)).statuses == {200: 200}
            received = first
            slow.settimeout(10)
            while b'"elapsed_ms"' not in received[-200:]:
                chunk = slow.recv(4096)
                if not chunk:
                    break
                received += chunk
                time.sleep(0.001)
        assert first.startswith(b"HTTP/1.1 200")
        assert b'"truncated":true' in received


def test_statement_timeouts_under_load_leave_every_connection_healthy(
    demo: DemoDatabase,
) -> None:
    settings = make_settings(
        demo, pool_min_size=4, pool_max_size=4, statement_timeout_ms=100, max_plan_cost=0
    )

    def mixed(i: int) -> str:
        return HEAVY if i % 4 == 0 else _point_lookup(i)

    with live_server(settings) as url:
        assert asyncio.run(load(url, 200, 8, mixed)).statuses == {200: 150, 504: 50}
        # every pooled connection answers a follow-up query
        assert asyncio.run(load(url, 40, 4, lambda i: "SELECT 1")).statuses == {200: 40}


@pytest.fixture
def restartable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, DemoDatabase]]:
    """A small demo on its own embedded server, which the test may stop and start."""
    base = Path(tempfile.mkdtemp(prefix="sqlgateway-restart-"))
    server = start_embedded(base / "pgdata")
    demo = asyncio.run(
        ensure_demo(
            server.admin_dsn(), database="restart_demo", reader_role="restart_reader", claims=2_000
        )
    )
    yield base / "pgdata", demo
    start_embedded(base / "pgdata").stop()
    shutil.rmtree(base, ignore_errors=True)


def test_database_restart_mid_load_every_request_answered_and_service_resumes(
    restartable: tuple[Path, DemoDatabase],
) -> None:
    data_dir, demo = restartable
    settings = make_settings(
        demo, pool_max_size=4, statement_timeout_ms=5_000, request_deadline_ms=10_000
    )
    outcome: dict[str, Any] = {}

    def point(i: int) -> str:
        return f"SELECT * FROM claims WHERE claim_id = {1 + i % 2_000}"

    with live_server(settings) as url:

        def run_load() -> None:
            outcome["result"] = asyncio.run(load(url, 3_000, 16, point, timeout_s=30))

        runner = threading.Thread(target=run_load)
        runner.start()
        time.sleep(0.3)
        start_embedded(data_dir).stop()
        time.sleep(0.5)
        start_embedded(data_dir)
        back = time.monotonic()  # the database answers again from here
        runner.join()
    result: LoadResult = outcome["result"]
    recovered = [t - back for t, status in result.answers if status == 200 and t > back]
    _report(f"restart mid-load (first 200 {recovered[0]:.2f} s after restart)", result)
    assert sum(result.statuses.values()) == 3_000
    assert set(result.statuses) <= {200, 503}, result.errors  # every request answered
    assert max(result.latencies) < 10 + 1  # none waited past the request deadline
    assert recovered and recovered[0] < 5
