"""metrics: the exposition parses, counts what was observed, reads gauges when scraped.

Multiprocess mode is chosen when prometheus_client is imported, so its tests run worker
processes (`Worker`) sharing a temporary PROMETHEUS_MULTIPROC_DIR; this process stays in
single-process mode.
"""

from __future__ import annotations

import asyncio
import json
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from sqlgateway.http.record import RequestRecord
from sqlgateway.metrics.registry import MULTIPROC_ENV, Metrics, multiprocess_dir, worker_metrics_dir


@dataclass
class FakePool:
    size: int
    idle: int
    max_size: int

    def get_size(self) -> int:
        return self.size

    def get_idle_size(self) -> int:
        return self.idle

    def get_max_size(self) -> int:
        return self.max_size


@dataclass
class FakeMember:
    name: str
    pool: FakePool


@dataclass
class FakeAudit:
    queued: int = 0
    written: int = 0
    spilled: int = 0
    replayed: int = 0
    dropped: int = 0
    rejected: int = 0
    unaudited: int = 0


def record(
    outcome: str | None = "ok",
    path: str = "/query",
    *,
    total_ms: float | None = 12.0,
    db_ms: float | None = None,
    guard_ms: float | None = None,
) -> RequestRecord:
    return RequestRecord(
        method="POST",
        path=path,
        outcome=outcome,
        status=200,
        total_ms=total_ms,
        db_ms=db_ms,
        guard_ms=guard_ms,
    )


def samples(metrics: Metrics) -> list[Sample]:
    body, _ = metrics.render()
    return parse(body.decode())


def parse(exposition: str) -> list[Sample]:
    return [
        sample for family in text_string_to_metric_families(exposition) for sample in family.samples
    ]


def value(metrics: Metrics | list[Sample], name: str, **labels: str) -> float | None:
    scraped = samples(metrics) if isinstance(metrics, Metrics) else metrics
    found = [s.value for s in scraped if s.name == name and s.labels == labels]
    assert len(found) <= 1, found
    return found[0] if found else None


def test_render_is_the_prometheus_text_format() -> None:
    body, content_type = Metrics().render()
    assert content_type == CONTENT_TYPE_LATEST
    assert content_type.startswith("text/plain")
    names = {family.name for family in text_string_to_metric_families(body.decode())}
    assert {
        "sqlgateway_requests",
        "sqlgateway_request_duration_seconds",
        "sqlgateway_query_database_duration_seconds",
        "sqlgateway_guard_duration_seconds",
    } <= names


def test_requests_are_counted_by_outcome_and_path() -> None:
    metrics = Metrics(process=False)
    for outcome in ("ok", "ok", "truncated", "rejected"):
        metrics.observe(record(outcome))
    metrics.observe(record("ok", "/schema"))
    total = "sqlgateway_requests_total"
    assert value(metrics, total, outcome="ok", path="/query", protocol="http") == 2
    assert value(metrics, total, outcome="truncated", path="/query", protocol="http") == 1
    assert value(metrics, total, outcome="rejected", path="/query", protocol="http") == 1
    assert value(metrics, total, outcome="ok", path="/schema", protocol="http") == 1
    assert value(metrics, total, outcome="timeout", path="/query", protocol="http") is None


def test_mcp_requests_are_counted_apart_from_the_rest_api() -> None:
    metrics = Metrics(process=False)
    metrics.observe(record("ok"))
    tool_call = record("rejected", "/mcp")
    tool_call.protocol = "mcp"
    metrics.observe(tool_call)
    total = "sqlgateway_requests_total"
    assert value(metrics, total, outcome="ok", path="/query", protocol="http") == 1
    assert value(metrics, total, outcome="rejected", path="/mcp", protocol="mcp") == 1
    assert value(metrics, total, outcome="rejected", path="/mcp", protocol="http") is None


def test_unknown_paths_share_one_label_and_a_missing_outcome_is_counted() -> None:
    metrics = Metrics(process=False)
    metrics.observe(record("not_found", "/wp-login.php"))
    metrics.observe(record("not_found", "/.env"))
    metrics.observe(record(None))
    total = "sqlgateway_requests_total"
    assert value(metrics, total, outcome="not_found", path="other", protocol="http") == 2
    assert value(metrics, total, outcome="unknown", path="/query", protocol="http") == 1
    paths = {s.labels.get("path") for s in samples(metrics) if s.name == total}
    assert paths == {"other", "/query"}


def test_histograms_get_samples_in_seconds() -> None:
    metrics = Metrics(process=False)
    metrics.observe(record(total_ms=30.0, db_ms=20.0, guard_ms=0.5))
    metrics.observe(record(total_ms=2_000.0, db_ms=None, guard_ms=None))  # refused, no query
    duration = "sqlgateway_request_duration_seconds"
    assert value(metrics, duration + "_count", path="/query") == 2
    assert value(metrics, duration + "_sum", path="/query") == pytest.approx(2.03)
    assert value(metrics, duration + "_bucket", path="/query", le="0.05") == 1
    assert value(metrics, duration + "_bucket", path="/query", le="45.0") == 2
    assert value(metrics, duration + "_bucket", path="/query", le="+Inf") == 2
    database = "sqlgateway_query_database_duration_seconds"
    assert value(metrics, database + "_count") == 1
    assert value(metrics, database + "_sum") == pytest.approx(0.02)
    assert value(metrics, database + "_bucket", le="0.025") == 1
    assert value(metrics, database + "_bucket", le="0.01") == 0
    assert value(metrics, "sqlgateway_guard_duration_seconds_count") == 1
    assert value(metrics, "sqlgateway_guard_duration_seconds_bucket", le="0.001") == 1


def test_buckets_reach_from_a_millisecond_to_the_platform_limit() -> None:
    metrics = Metrics(process=False)
    metrics.observe(record())
    bounds = [
        s.labels["le"]
        for s in samples(metrics)
        if s.name == "sqlgateway_request_duration_seconds_bucket"
    ]
    assert bounds[0] == "0.001"
    assert bounds[-2:] == ["45.0", "+Inf"]


def test_pool_gauges_read_the_pools_at_each_scrape() -> None:
    primary = FakeMember("db1:5432/claims", FakePool(size=4, idle=1, max_size=10))
    replica = FakeMember("db2:5432/claims", FakePool(size=2, idle=2, max_size=10))
    waiting = [0]
    metrics = Metrics(pools=lambda: (replica, primary), waiting=lambda: waiting[0], process=False)
    assert value(metrics, "sqlgateway_pool_size", database="db1:5432/claims") == 4
    assert value(metrics, "sqlgateway_pool_in_use", database="db1:5432/claims") == 3
    assert value(metrics, "sqlgateway_pool_idle", database="db1:5432/claims") == 1
    assert value(metrics, "sqlgateway_pool_max_size", database="db1:5432/claims") == 10
    assert value(metrics, "sqlgateway_pool_in_use", database="db2:5432/claims") == 0
    assert value(metrics, "sqlgateway_pool_waiting") == 0

    primary.pool.idle = 0
    waiting[0] = 7
    assert value(metrics, "sqlgateway_pool_in_use", database="db1:5432/claims") == 4
    assert value(metrics, "sqlgateway_pool_waiting") == 7


def test_audit_counters_are_read_from_the_trail() -> None:
    audit = FakeAudit(
        queued=3, written=100, spilled=5, replayed=4, dropped=1, rejected=2, unaudited=6
    )
    metrics = Metrics(audit=audit, process=False)
    assert value(metrics, "sqlgateway_audit_queue_depth") == 3
    assert value(metrics, "sqlgateway_audit_events_written_total") == 100
    assert value(metrics, "sqlgateway_audit_events_spilled_total") == 5
    assert value(metrics, "sqlgateway_audit_events_replayed_total") == 4
    assert value(metrics, "sqlgateway_audit_events_dropped_total") == 1
    assert value(metrics, "sqlgateway_audit_events_rejected_total") == 2
    assert value(metrics, "sqlgateway_audit_events_unaudited_total") == 6
    audit.written = 101
    assert value(metrics, "sqlgateway_audit_events_written_total") == 101


def test_without_audit_or_pools_their_metrics_are_absent() -> None:
    names = {s.name for s in samples(Metrics(process=False))}
    assert not any(name.startswith(("sqlgateway_audit", "sqlgateway_pool")) for name in names)


def test_two_instances_do_not_share_state() -> None:
    first, second = Metrics(), Metrics()
    first.observe(record())
    assert first.registry is not second.registry
    assert (
        value(first, "sqlgateway_requests_total", outcome="ok", path="/query", protocol="http") == 1
    )
    assert (
        value(second, "sqlgateway_requests_total", outcome="ok", path="/query", protocol="http")
        is None
    )


def test_process_metrics_are_on_the_instance_registry() -> None:
    names = {s.name for s in samples(Metrics())}
    assert "python_info" in names
    assert not any(
        name.startswith("python_") for name in {s.name for s in samples(Metrics(process=False))}
    )


def test_start_and_close_do_nothing_in_single_process_mode() -> None:
    metrics = Metrics(audit=FakeAudit(written=2), process=False)

    async def serve() -> None:
        await metrics.start()
        metrics.observe(record())
        assert len(asyncio.all_tasks()) == 1  # no refresher beside this one
        await metrics.close()

    asyncio.run(serve())
    assert multiprocess_dir() is None
    assert (
        value(metrics, "sqlgateway_requests_total", outcome="ok", path="/query", protocol="http")
        == 1
    )
    assert value(metrics, "sqlgateway_audit_events_written_total") == 2


# --- multiprocess mode -------------------------------------------------------------------

DATABASE = "db1:5432/claims"

#: A gateway worker in multiprocess mode: one `Metrics` with fake pool and audit figures,
#: refreshing every 50 ms. Each stdin line is a JSON command (see `Worker.send`); each
#: answer one JSON line on stdout.
WORKER = """
import asyncio, json, os, sys
from types import SimpleNamespace
from sqlgateway.metrics.registry import Metrics
from sqlgateway.http.record import RequestRecord

class Pool(SimpleNamespace):
    def get_size(self): return self.size
    def get_idle_size(self): return self.idle
    def get_max_size(self): return self.max_size

def reply(answer):
    sys.stdout.write(json.dumps(answer) + "\\n")
    sys.stdout.flush()

async def main():
    pool = Pool(size=0, idle=0, max_size=10)
    member = SimpleNamespace(name=sys.argv[1], pool=pool)
    audit = SimpleNamespace(queued=0, written=0, spilled=0, replayed=0, dropped=0, rejected=0,
                            unaudited=0)
    waiting = [0]
    metrics = Metrics(pools=lambda: [member], waiting=lambda: waiting[0], audit=audit,
                      refresh_interval_s=0.05)
    await metrics.start()
    reply({"pid": os.getpid()})
    while line := await asyncio.to_thread(sys.stdin.readline):
        command = json.loads(line)
        for _ in range(command.get("observe", 0)):
            metrics.observe(RequestRecord(method="POST", path="/query", outcome="ok",
                                          status=200, total_ms=12.0))
        for key, value in command.get("pool", {}).items():
            setattr(pool, key, value)
        for key, value in command.get("audit", {}).items():
            setattr(audit, key, value)
        waiting[0] = command.get("waiting", waiting[0])
        if command.get("close"):
            await metrics.close()
        reply({"exposition": metrics.render()[0].decode()} if command.get("render") else {})

asyncio.run(main())
"""

#: Longest a worker may take to answer a command.
WORKER_TIMEOUT_S = 20.0


class Worker:
    """A worker process running WORKER with PROMETHEUS_MULTIPROC_DIR set (`-W error`: a
    warning ends it)."""

    def __init__(self, directory: Path) -> None:
        environment = {**os.environ, MULTIPROC_ENV: str(directory)}
        self.stderr = (directory.parent / f"worker-{time.monotonic_ns()}.err").open("w+")
        self.process = subprocess.Popen(
            [sys.executable, "-W", "error", "-c", WORKER, DATABASE],
            env=environment,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            bufsize=0,
        )
        self.pid = self._answer()["pid"]

    def send(self, **command: Any) -> dict[str, Any]:
        """Run one command: `observe` n requests; set `pool` or `audit` figures or
        `waiting`; `close` the metrics; `render` (the answer's `exposition`)."""
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command).encode() + b"\n")
        return self._answer()

    def scrape(self) -> list[Sample]:
        return parse(self.send(render=True)["exposition"])

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()  # the worker's loop ends
        if self.process.poll() is None:
            try:
                self.process.wait(timeout=WORKER_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        assert self.process.stdout is not None
        self.process.stdout.close()
        self.stderr.close()

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def _answer(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = b""
        deadline = time.monotonic() + WORKER_TIMEOUT_S
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            while not line.endswith(b"\n"):
                remaining = deadline - time.monotonic()
                chunk = os.read(self.process.stdout.fileno(), 65536)
                if not chunk:
                    self.stderr.seek(0)
                    pytest.fail(f"the worker stopped:\n{self.stderr.read()}")
                line += chunk
                if not line.endswith(b"\n") and not selector.select(max(remaining, 0)):
                    pytest.fail("the worker did not answer")
        answer: dict[str, Any] = json.loads(line)
        return answer


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[list[Worker]]:
    """Worker processes sharing `tmp_path / "metrics"`: append `Worker(directory)`."""
    (tmp_path / "metrics").mkdir()
    started: list[Worker] = []
    yield started
    for worker in started:
        worker.stop()


def start(workers: list[Worker], tmp_path: Path) -> Worker:
    worker = Worker(tmp_path / "metrics")
    workers.append(worker)
    return worker


def settled(worker: Worker) -> list[Sample]:
    """A scrape after every worker's refresher has run (every 50 ms)."""
    time.sleep(0.3)
    return worker.scrape()


def test_every_worker_scrapes_the_sum_of_all_workers(workers: list[Worker], tmp_path: Path) -> None:
    first, second = start(workers, tmp_path), start(workers, tmp_path)
    first.send(
        observe=3, pool={"size": 4, "idle": 1}, waiting=2, audit={"queued": 1, "written": 10}
    )
    second.send(
        observe=2, pool={"size": 2, "idle": 2}, waiting=1, audit={"written": 5, "spilled": 1}
    )
    for scraped in (settled(first), second.scrape()):
        assert (
            value(
                scraped, "sqlgateway_requests_total", outcome="ok", path="/query", protocol="http"
            )
            == 5
        )
        duration = "sqlgateway_request_duration_seconds"
        assert value(scraped, duration + "_count", path="/query") == 5
        assert value(scraped, duration + "_bucket", path="/query", le="0.025") == 5
        assert value(scraped, "sqlgateway_pool_size", database=DATABASE) == 6
        assert value(scraped, "sqlgateway_pool_in_use", database=DATABASE) == 3
        assert value(scraped, "sqlgateway_pool_idle", database=DATABASE) == 3
        assert value(scraped, "sqlgateway_pool_max_size", database=DATABASE) == 20
        assert value(scraped, "sqlgateway_pool_waiting") == 3
        assert value(scraped, "sqlgateway_audit_queue_depth") == 1
        assert value(scraped, "sqlgateway_audit_events_written_total") == 15
        assert value(scraped, "sqlgateway_audit_events_spilled_total") == 1
        assert value(scraped, "sqlgateway_audit_events_dropped_total") == 0
        names = {s.name for s in scraped}
        assert "python_info" in names  # the same in every worker
        assert not any(name.startswith(("process_", "python_gc_")) for name in names)
        assert not any("pid" in s.labels for s in scraped)


def test_a_worker_that_closes_leaves_the_gauges_and_stays_in_the_totals(
    workers: list[Worker], tmp_path: Path
) -> None:
    first, second = start(workers, tmp_path), start(workers, tmp_path)
    first.send(observe=1, pool={"size": 4, "idle": 1}, audit={"written": 10})
    second.send(observe=2, pool={"size": 2, "idle": 0}, audit={"written": 5, "queued": 3})
    assert value(settled(first), "sqlgateway_pool_size", database=DATABASE) == 6
    # the trail's last events, written while shutting down, are counted by close()
    second.send(audit={"written": 8, "queued": 0}, close=True)
    scraped = first.scrape()
    assert value(scraped, "sqlgateway_pool_size", database=DATABASE) == 4
    assert value(scraped, "sqlgateway_pool_max_size", database=DATABASE) == 10
    assert value(scraped, "sqlgateway_audit_queue_depth") == 0
    assert value(scraped, "sqlgateway_audit_events_written_total") == 18
    assert (
        value(scraped, "sqlgateway_requests_total", outcome="ok", path="/query", protocol="http")
        == 3
    )
    assert not list((tmp_path / "metrics").glob(f"gauge_live*_{second.pid}.db"))


def test_a_killed_worker_leaves_the_gauges_and_a_restarted_one_counts_on(
    workers: list[Worker], tmp_path: Path
) -> None:
    first, second = start(workers, tmp_path), start(workers, tmp_path)
    first.send(observe=1, pool={"size": 4, "idle": 1}, audit={"written": 10})
    second.send(observe=2, pool={"size": 2, "idle": 0}, audit={"written": 5})
    assert value(settled(first), "sqlgateway_pool_in_use", database=DATABASE) == 5
    second.kill()  # no close(): its live gauges' file stays until a scrape finds it dead
    scraped = first.scrape()
    assert value(scraped, "sqlgateway_pool_in_use", database=DATABASE) == 3
    assert (
        value(scraped, "sqlgateway_requests_total", outcome="ok", path="/query", protocol="http")
        == 3
    )
    assert value(scraped, "sqlgateway_audit_events_written_total") == 15

    restarted = start(workers, tmp_path)  # as uvicorn replaces a dead worker
    restarted.send(observe=4, pool={"size": 1, "idle": 0}, audit={"written": 2})
    scraped = settled(first)
    assert (
        value(scraped, "sqlgateway_requests_total", outcome="ok", path="/query", protocol="http")
        == 7
    )
    assert value(scraped, "sqlgateway_audit_events_written_total") == 17  # never goes down
    assert value(scraped, "sqlgateway_pool_in_use", database=DATABASE) == 4


def test_without_audit_or_pools_their_metrics_are_absent_in_multiprocess_mode(
    tmp_path: Path,
) -> None:
    script = (
        "from sqlgateway.metrics.registry import Metrics\n"
        "import sys; sys.stdout.write(Metrics().render()[0].decode())"
    )
    environment = {**os.environ, MULTIPROC_ENV: str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", script],
        env=environment,
        capture_output=True,
        text=True,
        timeout=WORKER_TIMEOUT_S,
        check=True,
    )
    names = {s.name for s in parse(done.stdout)}
    assert "sqlgateway_guard_duration_seconds_count" in names
    assert not any(name.startswith(("sqlgateway_audit", "sqlgateway_pool")) for name in names)


def test_the_mode_must_be_chosen_before_prometheus_client_is_imported(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(MULTIPROC_ENV, str(tmp_path))
    with pytest.raises(RuntimeError, match="set after prometheus_client was imported"):
        Metrics()
    script = (
        "import os, pytest\n"
        "from sqlgateway.metrics.registry import MULTIPROC_ENV, Metrics\n"
        "with pytest.raises(RuntimeError, match='is not a directory'):\n"
        "    Metrics()\n"
        "del os.environ[MULTIPROC_ENV]\n"
        "with pytest.raises(RuntimeError, match='removed after prometheus_client'):\n"
        "    Metrics()\n"
    )
    environment = {**os.environ, MULTIPROC_ENV: str(tmp_path / "missing")}
    subprocess.run(
        [sys.executable, "-W", "error", "-c", script],
        env=environment,
        timeout=WORKER_TIMEOUT_S,
        check=True,
    )


def test_worker_metrics_dir_is_exported_for_the_block_then_removed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    with worker_metrics_dir() as made:
        assert os.environ[MULTIPROC_ENV] == str(made)
        assert made.is_dir()
        assert not list(made.iterdir())
        (made / "counter_1.db").write_bytes(b"")
    assert MULTIPROC_ENV not in os.environ
    assert not made.exists()


def test_worker_metrics_dir_is_the_operators_if_they_set_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    configured = tmp_path / "operator" / "metrics"
    monkeypatch.setenv(MULTIPROC_ENV, str(configured))
    with worker_metrics_dir() as given:
        assert given == configured
        assert given.is_dir()
        (given / "counter_1.db").write_bytes(b"")
    assert os.environ[MULTIPROC_ENV] == str(configured)
    assert (configured / "counter_1.db").exists()
