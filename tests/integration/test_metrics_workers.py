"""/metrics under `serve --workers 2`: whichever worker answers a scrape, it counts every
worker's requests (prometheus_client's multiprocess mode, PROMETHEUS_MULTIPROC_DIR)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2 as httpx
import pytest
from conftest import AUDIT_DIR, TEST_API_KEY, TEST_KEY_ENTRY
from integration.live import free_port, reader_backends, wait_until_healthy
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from sqlgateway.demo import DemoDatabase
from sqlgateway.metrics import MULTIPROC_ENV

AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}
#: Queries per round; rounds go on until both workers have served some.
QUERIES = 40
ROUNDS = 5
#: Scrapes per check, each on a new connection (so both workers answer some).
SCRAPES = 10
REQUESTS = "sqlgateway_requests_total"


@contextmanager
def _serve(demo: DemoDatabase, name: str, multiproc_dir: Path | None) -> Iterator[str]:
    """`serve --workers 2` on a free loopback port, one connection per worker; its URL.
    `multiproc_dir`: exported as PROMETHEUS_MULTIPROC_DIR as an operator would (None:
    left to `serve`). Stopped with SIGTERM on the way out (exit 0)."""
    port = free_port()
    environment = {
        **os.environ,
        "SQLGATEWAY_API_KEYS": TEST_KEY_ENTRY,
        "SQLGATEWAY_AUDIT_FILE": str(AUDIT_DIR / f"{name}.jsonl"),
        "SQLGATEWAY_AUDIT_SPILL_DIR": str(AUDIT_DIR / f"{name}-spill"),
        "SQLGATEWAY_POOL_MIN_SIZE": "1",
        "SQLGATEWAY_POOL_MAX_SIZE": "1",
        "SQLGATEWAY_LOG_LEVEL": "warning",
    }
    environment.pop(MULTIPROC_ENV, None)
    if multiproc_dir is not None:
        environment[MULTIPROC_ENV] = str(multiproc_dir)
    command = [sys.executable, "-m", "sqlgateway", "serve", "--workers", "2"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--database-url", demo.reader_dsn]
    process = subprocess.Popen(
        command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(process, url)
        yield url
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=45) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()


async def _send(url: str, sqls: list[str], concurrency: int) -> Counter[int]:
    """POST every SQL, each on a new TCP connection (so the kernel spreads them)."""
    statuses: Counter[int] = Counter()
    queue = list(sqls)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=url, headers=AUTH, limits=limits, timeout=30) as http:

        async def worker() -> None:
            while queue:
                response = await http.post("/query", json={"sql": queue.pop()})
                statuses[response.status_code] += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return statuses


def _query_both_workers(demo: DemoDatabase, url: str, before: set[int]) -> int:
    """Rounds of QUERIES queries until both workers' connections have served some; how
    many were sent (all answered 200)."""
    statuses: Counter[int] = Counter()
    for _ in range(ROUNDS):
        sqls = [f"SELECT claim_id FROM claims WHERE claim_id = {i + 1}" for i in range(QUERIES)]
        statuses += asyncio.run(_send(url, sqls, concurrency=8))
        served = {
            pid
            for pid, query in reader_backends(demo).items()
            if pid not in before and query == "ROLLBACK"  # the end of every gateway query
        }
        if len(served) >= 2:
            break
    assert set(statuses) == {200}, statuses
    assert len(served) == 2, f"one worker served all {statuses.total()} queries"
    return statuses.total()


def _scrape(url: str) -> list[Sample]:
    response = httpx.get(f"{url}/metrics", timeout=10)  # a new connection each time
    assert response.status_code == 200
    return [
        sample
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    ]


def _value(samples: list[Sample], name: str, **labels: str) -> float | None:
    found = [s.value for s in samples if s.name == name and s.labels == labels]
    assert len(found) <= 1, found
    return found[0] if found else None


@pytest.mark.parametrize(
    "exported_by",
    ["operator", "serve"],
)
def test_every_scrape_counts_the_queries_of_both_workers(
    demo: DemoDatabase, tmp_path: Path, exported_by: str
) -> None:
    multiproc_dir = tmp_path if exported_by == "operator" else None
    before = set(reader_backends(demo))
    with _serve(demo, f"metrics-workers-{exported_by}", multiproc_dir) as url:
        sent = _query_both_workers(demo, url, before)
        for _ in range(SCRAPES):
            scraped = _scrape(url)
            assert _value(scraped, REQUESTS, outcome="ok", path="/query") == sent
            duration = "sqlgateway_request_duration_seconds_count"
            assert _value(scraped, duration, path="/query") == sent
    print(f"\n2 workers: {sent} queries, {SCRAPES} scrapes agree")


def test_pool_and_audit_figures_add_up_over_live_workers_and_leave_with_them(
    demo: DemoDatabase, tmp_path: Path
) -> None:
    before = set(reader_backends(demo))
    with _serve(demo, "metrics-workers-gauges", tmp_path) as url:
        sent = _query_both_workers(demo, url, before)
        deadline = time.monotonic() + 10
        # the trail writes in batches, each worker counts every second
        while _value(_scrape(url), "sqlgateway_audit_events_written_total") != sent:
            assert time.monotonic() < deadline, "the audit counts did not add up"
            time.sleep(0.2)
        for _ in range(SCRAPES):
            scraped = _scrape(url)
            assert _value(scraped, "sqlgateway_audit_events_written_total") == sent
            assert _value(scraped, "sqlgateway_audit_queue_depth") == 0
            assert _value(scraped, "sqlgateway_pool_waiting") == 0
            # one connection per worker, each open (pool_min_size 1)
            for name in ("sqlgateway_pool_max_size", "sqlgateway_pool_size"):
                assert [s.value for s in scraped if s.name == name] == [2], name
    # the workers closed their metrics: their live gauges are gone, their counts are not
    assert not list(tmp_path.glob("gauge_live*.db"))
    assert len(list(tmp_path.glob("counter_*.db"))) == 2
