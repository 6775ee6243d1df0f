"""Prometheus metrics: one sample per request, and pool and audit gauges read at scrape time.

`Metrics` owns its own `CollectorRegistry` (never prometheus_client's global one), so two
apps in one process (tests) count apart. `observe` runs once per request, from the
request's `RequestRecord`; everything else is read only when /metrics is scraped.

Label values are bounded: `path` is one of the gateway's routes or "other" (so scans of
random URLs cannot grow the series), `outcome` is "ok", "truncated", "cancelled" or an
error's `code`, `protocol` is "http" or "mcp", `database` is a pool member's name
(`host:port/database`, no credentials).

Multiprocess mode (`serve --workers N`, or PROMETHEUS_MULTIPROC_DIR set by the operator):
each worker writes its figures to files that every scrape adds up; see `metrics_workers`.
The names and help texts of the pool and audit figures are in `metrics_figures`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from sqlgateway.http.record import RequestRecord
from sqlgateway.metrics.figures import (
    AUDIT_TOTALS,
    POOL_GAUGES,
    PREFIX,
    QUEUE_DEPTH_HELP,
    WAITING_HELP,
    AuditCounters,
    PoolMember,
    PoolStats,
    pool_values,
)
from sqlgateway.metrics.workers import (
    MULTIPROC_ENV,
    REFRESH_INTERVAL_S,
    WorkerFigures,
    multiprocess_dir,
    worker_metrics_dir,
)
from sqlgateway.routes import ROUTE_PATHS

# also the public names of metrics_figures and metrics_workers: importers need only this module
__all__ = [
    "AUDIT_TOTALS",
    "DURATION_BUCKETS_S",
    "MULTIPROC_ENV",
    "OTHER_PATH",
    "POOL_GAUGES",
    "PREFIX",
    "QUEUE_DEPTH_HELP",
    "REFRESH_INTERVAL_S",
    "UNKNOWN_OUTCOME",
    "WAITING_HELP",
    "AuditCounters",
    "Metrics",
    "PoolMember",
    "PoolStats",
    "multiprocess_dir",
    "worker_metrics_dir",
]

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

OTHER_PATH = "other"
#: The outcome of a record nobody filled in (should not happen; counted, not dropped).
UNKNOWN_OUTCOME = "unknown"


class Metrics:
    """The gateway's metrics. `pools` and `waiting` are called at each scrape (e.g.
    `lambda: database.pools.members` and `lambda: database.waiting`); `audit` is read at
    each scrape, None: auditing is off and its metrics are not exported.
    `process`: also export the standard process_* and python_* metrics.

    `registry` is what `render` exports. In multiprocess mode (`metrics_workers`) it
    holds only the collector that adds up the workers' files; call `start()` and
    `close()` from the app's lifespan (in single-process mode they do nothing)."""

    def __init__(
        self,
        *,
        pools: Callable[[], Sequence[PoolMember]] | None = None,
        waiting: Callable[[], int] | None = None,
        audit: AuditCounters | None = None,
        paths: Collection[str] = ROUTE_PATHS,
        process: bool = True,
        refresh_interval_s: float = REFRESH_INTERVAL_S,
    ) -> None:
        shared_dir = multiprocess_dir()
        self.registry = CollectorRegistry()
        # multiprocess mode: the instruments write to this worker's files, never to a registry
        own = self.registry if shared_dir is None else None
        self._paths = frozenset(paths)
        self._requests = Counter(
            PREFIX + "requests",
            "Requests answered, by outcome (ok, truncated, cancelled or an error code), path "
            "and protocol (http: the REST API; mcp: MCP messages and tool calls).",
            ("outcome", "path", "protocol"),
            registry=own,
        )
        self._duration = Histogram(
            PREFIX + "request_duration_seconds",
            "Time from the request's arrival to its answer.",
            ("path",),
            buckets=DURATION_BUCKETS_S,
            registry=own,
        )
        self._db_duration = Histogram(
            PREFIX + "query_database_duration_seconds",
            "Time a query spent in the database (checkout, statement and rows).",
            buckets=DURATION_BUCKETS_S,
            registry=own,
        )
        self._guard_duration = Histogram(
            PREFIX + "guard_duration_seconds",
            "Time the guard took to check a statement.",
            buckets=DURATION_BUCKETS_S,
            registry=own,
        )
        # label children, found once per (outcome, path, protocol): `labels()` takes a lock
        self._request_children: dict[tuple[str, str, str], Counter] = {}
        self._duration_children: dict[str, Histogram] = {}
        self._shared: WorkerFigures | None = None
        if shared_dir is None:
            self.registry.register(_StateCollector(pools, waiting, audit))
            if process:
                ProcessCollector(registry=self.registry)
                PlatformCollector(registry=self.registry)
                GCCollector(registry=self.registry)
        else:
            self._shared = WorkerFigures(
                shared_dir, pools, waiting, audit, refresh_interval_s=refresh_interval_s
            )
            multiprocess.MultiProcessCollector(self.registry, path=str(shared_dir))  # type: ignore[no-untyped-call]
            if process:
                PlatformCollector(registry=self.registry)

    def observe(self, record: RequestRecord) -> None:
        """Count a finished request and its durations (call after `record.finish()`)."""
        path = record.path if record.path in self._paths else OTHER_PATH
        outcome = record.outcome or UNKNOWN_OUTCOME
        key = (outcome, path, record.protocol)
        counter = self._request_children.get(key)
        if counter is None:
            counter = self._request_children[key] = self._requests.labels(*key)
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
        if self._shared is not None:
            self._shared.before_scrape()
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    async def start(self) -> None:
        """Multiprocess mode: write this worker's pool and audit figures now, then every
        `refresh_interval_s` until `close()` (other workers' scrapes read them). Call from
        the app's lifespan, on its event loop."""
        if self._shared is not None:
            await self._shared.start()

    async def close(self) -> None:
        """Multiprocess mode: stop refreshing, count the audit trail's last events (call
        after the trail has closed), and take this worker's pool and queue gauges out of
        the sums (`mark_process_dead`). Its counters stay in the totals."""
        if self._shared is not None:
            await self._shared.close()


class _StateCollector:
    """Single-process mode: pool and audit figures, read when scraped rather than kept up
    to date per request."""

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
            waiting = GaugeMetricFamily(PREFIX + "pool_waiting", WAITING_HELP)
            if not empty:
                waiting.add_metric((), self._waiting())
            families.append(waiting)
        if self._audit is not None:
            families += _audit_families(None if empty else self._audit)
        return families


def _pool_families(members: Sequence[PoolMember]) -> list[Metric]:
    families = {
        name: GaugeMetricFamily(PREFIX + name, help_text, labels=("database",))
        for name, help_text in POOL_GAUGES.items()
    }
    for member in members:
        for name, value in pool_values(member.pool).items():
            families[name].add_metric((member.name,), value)
    return list(families.values())


def _audit_families(audit: AuditCounters | None) -> list[Metric]:
    depth = GaugeMetricFamily(PREFIX + "audit_queue_depth", QUEUE_DEPTH_HELP)
    counters = {
        name: CounterMetricFamily(PREFIX + "audit_events_" + name, help_text)
        for name, help_text in AUDIT_TOTALS.items()
    }
    if audit is not None:
        depth.add_metric((), audit.queued)
        for name, counter in counters.items():
            counter.add_metric((), getattr(audit, name))
    return [depth, *counters.values()]
