"""/metrics under `serve --workers 2`: whichever worker answers a scrape, it counts every
worker's requests (prometheus_client's multiprocess mode, PROMETHEUS_MULTIPROC_DIR)."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
import pytest
from conftest import AUDIT_DIR
from live import reader_backends
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from workers import query_both_workers, serve_two_workers

from sqlgateway.demo.database import DemoDatabase
from sqlgateway.metrics.registry import MULTIPROC_ENV

#: Queries per round; rounds go on until both workers have served some.
QUERIES = 40
#: Scrapes per check, each on a new connection (so both workers answer some).
SCRAPES = 10
REQUESTS = "sqlgateway_requests_total"


@contextmanager
def _serve(demo: DemoDatabase, name: str, multiproc_dir: Path | None) -> Iterator[str]:
    """`serve --workers 2`; its URL. `multiproc_dir`: exported as PROMETHEUS_MULTIPROC_DIR as
    an operator would (None: left to `serve`). Stopped with SIGTERM on the way out (exit 0)."""
    settings: dict[str, str | None] = {
        "SQLGATEWAY_AUDIT_FILE": str(AUDIT_DIR / f"{name}.jsonl"),
        "SQLGATEWAY_AUDIT_SPILL_DIR": str(AUDIT_DIR / f"{name}-spill"),
        MULTIPROC_ENV: str(multiproc_dir) if multiproc_dir is not None else None,
    }
    with serve_two_workers(demo, settings) as (process, url):
        yield url
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=45) == 0


def _scrape(url: str) -> list[Sample]:
    response = httpx2.get(f"{url}/metrics", timeout=10)  # a new connection each time
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
        sent, _ = query_both_workers(demo, url, before, QUERIES)
        for _ in range(SCRAPES):
            scraped = _scrape(url)
            assert _value(scraped, REQUESTS, outcome="ok", path="/query", protocol="http") == sent
            duration = "sqlgateway_request_duration_seconds_count"
            assert _value(scraped, duration, path="/query") == sent
    print(f"\n2 workers: {sent} queries, {SCRAPES} scrapes agree")


def test_pool_and_audit_figures_add_up_over_live_workers_and_leave_with_them(
    demo: DemoDatabase, tmp_path: Path
) -> None:
    before = set(reader_backends(demo))
    with _serve(demo, "metrics-workers-gauges", tmp_path) as url:
        sent, _ = query_both_workers(demo, url, before, QUERIES)
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
