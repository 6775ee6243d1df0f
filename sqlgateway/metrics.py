"""Prometheus metrics: one sample per request, and pool and audit gauges read at scrape time.

`Metrics` owns its own `CollectorRegistry` (never prometheus_client's global one), so two
apps in one process (tests) count apart. `observe` runs once per request, from the
request's `RequestRecord`; everything else is read only when /metrics is scraped.

Label values are bounded: `path` is one of the gateway's routes or "other" (so scans of
random URLs cannot grow the series), `outcome` is "ok", "truncated", "cancelled" or an
error's `code`, `database` is a pool member's name (`host:port/database`, no credentials).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from sqlgateway.record import RequestRecord

PREFIX = "sqlgateway_"

#: Seconds: from 1 ms to the platform's 45 s request limit.
DURATION_BUCKETS_S: tuple[float, ...] = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    20.0,
    30.0,
    45.0,
)

#: The routes `create_app` serves; any other path is counted as "other".
ROUTE_PATHS: frozenset[str] = frozenset(
    {
        "/query",
        "/schema",
        "/healthz",
        "/readyz",
        "/metrics",
        "/privacy",
        "/openapi.yaml",
        "/openapi.json",
    }
)
OTHER_PATH = "other"
#: The outcome of a record nobody filled in (should not happen; counted, not dropped).
UNKNOWN_OUTCOME = "unknown"


class PoolStats(Protocol):
    """What the gauges read of an asyncpg pool."""

    def get_size(self) -> int: ...
    def get_idle_size(self) -> int: ...
    def get_max_size(self) -> int: ...


class PoolMember(Protocol):
    """A database and its pool (`pools.Member`)."""

    @property
    def name(self) -> str: ...
    @property
    def pool(self) -> PoolStats: ...


class AuditCounters(Protocol):
    """The audit trail's running counts (events since start; `queued`: waiting now)."""

    @property
    def queued(self) -> int: ...
    @property
    def written(self) -> int: ...
    @property
    def spilled(self) -> int: ...
    @property
    def replayed(self) -> int: ...
    @property
    def dropped(self) -> int: ...


class Metrics:
    """The gateway's metrics. `pools` and `waiting` are called at each scrape (e.g.
    `lambda: database.pools.members` and `lambda: database.waiting`); `audit` is read at
    each scrape, None: auditing is off and its metrics are not exported.
    `process`: also export the standard process_* and python_* metrics."""

    def __init__(
        self,
        *,
        pools: Callable[[], Sequence[PoolMember]] | None = None,
        waiting: Callable[[], int] | None = None,
        audit: AuditCounters | None = None,
        paths: Collection[str] = ROUTE_PATHS,
        process: bool = True,
    ) -> None:
        self.registry = CollectorRegistry()
        self._paths = frozenset(paths)
        self._requests = Counter(
            PREFIX + "requests",
            "Requests answered, by outcome (ok, truncated, cancelled or an error code) and path.",
            ("outcome", "path"),
            registry=self.registry,
        )
        self._duration = Histogram(
            PREFIX + "request_duration_seconds",
            "Time from the request's arrival to its answer.",
            ("path",),
            buckets=DURATION_BUCKETS_S,
            registry=self.registry,
        )
        self._db_duration = Histogram(
            PREFIX + "query_database_duration_seconds",
            "Time a query spent in the database (checkout, statement and rows).",
            buckets=DURATION_BUCKETS_S,
            registry=self.registry,
        )
        self._guard_duration = Histogram(
            PREFIX + "guard_duration_seconds",
            "Time the guard took to check a statement.",
            buckets=DURATION_BUCKETS_S,
            registry=self.registry,
        )
        # label children, found once per (outcome, path): `labels()` takes a lock each call
        self._request_children: dict[tuple[str, str], Counter] = {}
        self._duration_children: dict[str, Histogram] = {}
        self.registry.register(_StateCollector(pools, waiting, audit))
        if process:
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
            GCCollector(registry=self.registry)

    def observe(self, record: RequestRecord) -> None:
        """Count a finished request and its durations (call after `record.finish()`)."""
        path = record.path if record.path in self._paths else OTHER_PATH
        outcome = record.outcome or UNKNOWN_OUTCOME
        key = (outcome, path)
        counter = self._request_children.get(key)
        if counter is None:
            counter = self._request_children[key] = self._requests.labels(outcome, path)
        counter.inc()
        if record.total_ms is not None:
            histogram = self._duration_children.get(path)
            if histogram is None:
                histogram = self._duration_children[path] = self._duration.labels(path)
            histogram.observe(record.total_ms / 1000)
        if record.db_ms is not None:
            self._db_duration.observe(record.db_ms / 1000)
        if record.guard_ms is not None:
            self._guard_duration.observe(record.guard_ms / 1000)

    def render(self) -> tuple[bytes, str]:
        """The exposition (Prometheus text format) and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class _StateCollector:
    """Pool and audit figures, read when scraped rather than kept up to date per request."""

    def __init__(
        self,
        pools: Callable[[], Sequence[PoolMember]] | None,
        waiting: Callable[[], int] | None,
        audit: AuditCounters | None,
    ) -> None:
        self._pools = pools
        self._waiting = waiting
        self._audit = audit

    def describe(self) -> Iterable[Metric]:
        """The families without samples: lets the registry check names at registration."""
        return self._families(empty=True)

    def collect(self) -> Iterable[Metric]:
        return self._families(empty=False)

    def _families(self, *, empty: bool) -> list[Metric]:
        families: list[Metric] = []
        if self._pools is not None:
            families += _pool_families(() if empty else self._pools())
        if self._waiting is not None:
            waiting = GaugeMetricFamily(
                PREFIX + "pool_waiting", "Queries waiting for a database connection."
            )
            if not empty:
                waiting.add_metric((), self._waiting())
            families.append(waiting)
        if self._audit is not None:
            families += _audit_families(None if empty else self._audit)
        return families


def _pool_families(members: Sequence[PoolMember]) -> list[Metric]:
    size = _gauge("pool_size", "Open connections in the pool.")
    in_use = _gauge("pool_in_use", "Connections lent to queries.")
    idle = _gauge("pool_idle", "Open connections waiting for a query.")
    max_size = _gauge("pool_max_size", "Most connections the pool opens.")
    for member in members:
        pool = member.pool
        labels = (member.name,)
        open_now, idle_now = pool.get_size(), pool.get_idle_size()
        size.add_metric(labels, open_now)
        in_use.add_metric(labels, max(open_now - idle_now, 0))
        idle.add_metric(labels, idle_now)
        max_size.add_metric(labels, pool.get_max_size())
    return [size, in_use, idle, max_size]


def _gauge(name: str, documentation: str) -> GaugeMetricFamily:
    return GaugeMetricFamily(PREFIX + name, documentation, labels=("database",))


def _audit_families(audit: AuditCounters | None) -> list[Metric]:
    depth = GaugeMetricFamily(
        PREFIX + "audit_queue_depth", "Audit events in memory, waiting to be written."
    )
    counters = {
        "written": CounterMetricFamily(
            PREFIX + "audit_events_written", "Audit events written to the sink."
        ),
        "spilled": CounterMetricFamily(
            PREFIX + "audit_events_spilled",
            "Audit events put in the spill file (sink down or queue full).",
        ),
        "replayed": CounterMetricFamily(
            PREFIX + "audit_events_replayed",
            "Audit events written to the sink from the spill file.",
        ),
        "dropped": CounterMetricFamily(
            PREFIX + "audit_events_dropped", "Audit events lost (neither written nor spilled)."
        ),
    }
    if audit is not None:
        depth.add_metric((), audit.queued)
        counters["written"].add_metric((), audit.written)
        counters["spilled"].add_metric((), audit.spilled)
        counters["replayed"].add_metric((), audit.replayed)
        counters["dropped"].add_metric((), audit.dropped)
    return [depth, *counters.values()]
