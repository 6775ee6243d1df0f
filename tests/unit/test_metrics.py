"""metrics: the exposition parses, counts what was observed, reads gauges when scraped."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from sqlgateway.metrics import Metrics
from sqlgateway.record import RequestRecord


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
    return [
        sample
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    ]


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    found = [s.value for s in samples(metrics) if s.name == name and s.labels == labels]
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
    assert value(metrics, total, outcome="ok", path="/query") == 2
    assert value(metrics, total, outcome="truncated", path="/query") == 1
    assert value(metrics, total, outcome="rejected", path="/query") == 1
    assert value(metrics, total, outcome="ok", path="/schema") == 1
    assert value(metrics, total, outcome="timeout", path="/query") is None


def test_unknown_paths_share_one_label_and_a_missing_outcome_is_counted() -> None:
    metrics = Metrics(process=False)
    metrics.observe(record("not_found", "/wp-login.php"))
    metrics.observe(record("not_found", "/.env"))
    metrics.observe(record(None))
    total = "sqlgateway_requests_total"
    assert value(metrics, total, outcome="not_found", path="other") == 2
    assert value(metrics, total, outcome="unknown", path="/query") == 1
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
    audit = FakeAudit(queued=3, written=100, spilled=5, replayed=4, dropped=1)
    metrics = Metrics(audit=audit, process=False)
    assert value(metrics, "sqlgateway_audit_queue_depth") == 3
    assert value(metrics, "sqlgateway_audit_events_written_total") == 100
    assert value(metrics, "sqlgateway_audit_events_spilled_total") == 5
    assert value(metrics, "sqlgateway_audit_events_replayed_total") == 4
    assert value(metrics, "sqlgateway_audit_events_dropped_total") == 1
    audit.written = 101
    assert value(metrics, "sqlgateway_audit_events_written_total") == 101


def test_without_audit_or_pools_their_metrics_are_absent() -> None:
    names = {s.name for s in samples(Metrics(process=False))}
    assert not any(name.startswith(("sqlgateway_audit", "sqlgateway_pool")) for name in names)


def test_two_instances_do_not_share_state() -> None:
    first, second = Metrics(), Metrics()
    first.observe(record())
    assert first.registry is not second.registry
    assert value(first, "sqlgateway_requests_total", outcome="ok", path="/query") == 1
    assert value(second, "sqlgateway_requests_total", outcome="ok", path="/query") is None


def test_process_metrics_are_on_the_instance_registry() -> None:
    names = {s.name for s in samples(Metrics())}
    assert "python_info" in names
    assert not any(
        name.startswith("python_") for name in {s.name for s in samples(Metrics(process=False))}
    )
