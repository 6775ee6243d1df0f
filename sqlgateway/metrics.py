"""Prometheus metrics: one sample per request, and pool and audit gauges read at scrape time.

`Metrics` owns its own `CollectorRegistry` (never prometheus_client's global one), so two
apps in one process (tests) count apart. `observe` runs once per request, from the
request's `RequestRecord`; everything else is read only when /metrics is scraped.

Label values are bounded: `path` is one of the gateway's routes or "other" (so scans of
random URLs cannot grow the series), `outcome` is "ok", "truncated", "cancelled" or an
error's `code`, `database` is a pool member's name (`host:port/database`, no credentials).

Multiprocess mode (`serve --workers N`, or PROMETHEUS_MULTIPROC_DIR set by the operator):
a scrape reaches one worker, so each worker writes its figures to files in that directory
(prometheus_client's multiprocess mode, chosen when it is first imported) and every scrape
adds up all the files. The directory must be empty when the first worker starts.

    requests, durations   counters and histograms in each worker's files; the files of a
                          worker that is gone stay, so totals never drop when uvicorn
                          restarts a worker
    pool_*, audit queue   gauges only a worker can read: it writes them every
                          `REFRESH_INTERVAL_S` (`start()`) and before answering a scrape;
                          summed over live workers ("livesum"); a worker's part leaves the
                          sum at `close()`, or, if it was killed, at the next scrape
    audit_events_*        counters fed by each refresh with what the trail counted since the
                          last one: they survive restarts like the request counters (a killed
                          worker's last second is lost)
    process_*, python_gc_*  per process, so not exported (a scrape would show one random
                          worker's); python_info is

Keep one `Metrics` per process in multiprocess mode: the files are per process.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from sqlgateway.record import RequestRecord

logger = logging.getLogger("sqlgateway")

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

#: Set before prometheus_client is imported: the directory of the workers' metric files.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: Multiprocess mode: how often a worker writes the figures only it can read.
REFRESH_INTERVAL_S = 1.0

#: Per database, labelled `database`.
POOL_GAUGES: dict[str, str] = {
    "pool_size": "Open connections in the pool.",
    "pool_in_use": "Connections lent to queries.",
    "pool_idle": "Open connections waiting for a query.",
    "pool_max_size": "Most connections the pool opens.",
}
WAITING_HELP = "Queries waiting for a database connection."
QUEUE_DEPTH_HELP = "Audit events in memory, waiting to be written."
#: `AuditCounters` attribute → help of the counter `sqlgateway_audit_events_<name>_total`.
AUDIT_TOTALS: dict[str, str] = {
    "written": "Audit events written to the sink.",
    "spilled": "Audit events put in the spill file (sink down or queue full).",
    "replayed": "Audit events written to the sink from the spill file.",
    "dropped": "Audit events lost (neither written nor spilled).",
    "rejected": "Audit events the sink refused as malformed (kept in the spill directory's "
    "rejected file).",
}


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
    @property
    def rejected(self) -> int: ...


class Metrics:
    """The gateway's metrics. `pools` and `waiting` are called at each scrape (e.g.
    `lambda: database.pools.members` and `lambda: database.waiting`); `audit` is read at
    each scrape, None: auditing is off and its metrics are not exported.
    `process`: also export the standard process_* and python_* metrics.

    `registry` is what `render` exports. In multiprocess mode (see the module docstring)
    it holds only the collector that adds up the workers' files; call `start()` and
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
            "Requests answered, by outcome (ok, truncated, cancelled or an error code) and path.",
            ("outcome", "path"),
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
        # label children, found once per (outcome, path): `labels()` takes a lock each call
        self._request_children: dict[tuple[str, str], Counter] = {}
        self._duration_children: dict[str, Histogram] = {}
        self._shared: _WorkerFigures | None = None
        self._refresh_interval_s = refresh_interval_s
        self._refresher: asyncio.Task[None] | None = None
        if shared_dir is None:
            self.registry.register(_StateCollector(pools, waiting, audit))
            if process:
                ProcessCollector(registry=self.registry)
                PlatformCollector(registry=self.registry)
                GCCollector(registry=self.registry)
        else:
            self._shared = _WorkerFigures(shared_dir, pools, waiting, audit)
            multiprocess.MultiProcessCollector(self.registry, path=str(shared_dir))  # type: ignore[no-untyped-call]
            if process:
                PlatformCollector(registry=self.registry)

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
        if self._shared is not None:
            self._shared.refresh()  # this worker's part is exact; the others' ≤ 1 interval old
            _forget_dead_workers(self._shared.directory)
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    async def start(self) -> None:
        """Multiprocess mode: write this worker's pool and audit figures now, then every
        `refresh_interval_s` until `close()` (other workers' scrapes read them). Call from
        the app's lifespan, on its event loop."""
        if self._shared is None or self._refresher is not None:
            return
        self._shared.refresh()
        self._refresher = asyncio.create_task(
            self._refresh_every(self._shared), name="sqlgateway-metrics-refresh"
        )

    async def close(self) -> None:
        """Multiprocess mode: stop refreshing, count the audit trail's last events (call
        after the trail has closed), and take this worker's pool and queue gauges out of
        the sums (`mark_process_dead`). Its counters stay in the totals."""
        if self._shared is None:
            return
        if self._refresher is not None:
            self._refresher.cancel()
            with suppress(asyncio.CancelledError):
                await self._refresher
            self._refresher = None
        self._shared.count_audit()
        multiprocess.mark_process_dead(os.getpid(), str(self._shared.directory))  # type: ignore[no-untyped-call]

    async def _refresh_every(self, figures: _WorkerFigures) -> None:
        while True:
            await asyncio.sleep(self._refresh_interval_s)
            try:
                figures.refresh()
            except Exception:
                logger.exception("metrics: could not read the pool and audit figures")


def multiprocess_dir() -> Path | None:
    """The directory of the workers' metric files (PROMETHEUS_MULTIPROC_DIR), or None in
    single-process mode. prometheus_client chooses its mode when first imported: raises
    RuntimeError if the variable was set or removed after that, or is not a directory."""
    configured = os.environ.get(MULTIPROC_ENV)
    chosen = values.ValueClass is not values.MutexValue
    if chosen != (configured is not None):
        change = "set after" if configured is not None else "removed after"
        raise RuntimeError(
            f"{MULTIPROC_ENV} was {change} prometheus_client was imported, which chose its "
            "mode then: set it in the environment the process starts with"
        )
    if configured is None:
        return None
    if not Path(configured).is_dir():
        raise RuntimeError(f"{MULTIPROC_ENV}={configured!r} is not a directory")
    return Path(configured)


@contextmanager
def worker_metrics_dir() -> Iterator[Path]:
    """For `serve --workers N`: start the workers inside this block. It exports
    PROMETHEUS_MULTIPROC_DIR (they inherit it; prometheus_client reads it at import) and
    restores the variable on the way out. The directory is the operator's if they set the
    variable (created if missing, kept: emptying it between runs is theirs), else a new
    empty one, removed on the way out."""
    configured = os.environ.get(MULTIPROC_ENV)
    if configured:
        path = Path(configured)
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    path = Path(tempfile.mkdtemp(prefix="sqlgateway-metrics-"))
    os.environ[MULTIPROC_ENV] = str(path)
    try:
        yield path
    finally:
        if configured is None:
            os.environ.pop(MULTIPROC_ENV, None)
        else:  # set but empty
            os.environ[MULTIPROC_ENV] = configured
        shutil.rmtree(path, ignore_errors=True)


class _WorkerFigures:
    """Multiprocess mode: the pool and audit figures only this worker can read, written to
    its files for any worker's scrape to add up."""

    def __init__(
        self,
        directory: Path,
        pools: Callable[[], Sequence[PoolMember]] | None,
        waiting: Callable[[], int] | None,
        audit: AuditCounters | None,
    ) -> None:
        self.directory = directory
        self._pools = pools
        self._waiting = waiting
        self._audit = audit
        self._pool_gauges = {
            name: _live_gauge(name, help_text, ("database",))
            for name, help_text in (POOL_GAUGES.items() if pools is not None else ())
        }
        # created only when exported: a gauge without labels is written (0) at once
        self._waiting_gauge = (
            _live_gauge("pool_waiting", WAITING_HELP) if waiting is not None else None
        )
        self._depth = (
            _live_gauge("audit_queue_depth", QUEUE_DEPTH_HELP) if audit is not None else None
        )
        self._totals = {
            name: Counter(PREFIX + "audit_events_" + name, help_text, registry=None)
            for name, help_text in (AUDIT_TOTALS.items() if audit is not None else ())
        }
        #: What the trail had counted at the last refresh.
        self._counted = dict.fromkeys(self._totals, 0)

    def refresh(self) -> None:
        if self._pools is not None:
            for member in self._pools():
                for name, value in _pool_values(member.pool).items():
                    self._pool_gauges[name].labels(member.name).set(value)
        if self._waiting is not None and self._waiting_gauge is not None:
            self._waiting_gauge.set(self._waiting())
        if self._audit is not None and self._depth is not None:
            self._depth.set(self._audit.queued)
        self.count_audit()

    def count_audit(self) -> None:
        """Add what the trail counted since the last call to the audit counters."""
        for name, counter in self._totals.items():
            now: int = getattr(self._audit, name)
            if now > self._counted[name]:
                counter.inc(now - self._counted[name])
            self._counted[name] = now


def _live_gauge(name: str, documentation: str, labels: tuple[str, ...] = ()) -> Gauge:
    """A gauge summed over live workers. Not registered: the workers' files are exported."""
    return Gauge(PREFIX + name, documentation, labels, registry=None, multiprocess_mode="livesum")


def _forget_dead_workers(directory: Path) -> None:
    """Remove the live gauges' files of workers that died without `close()` (killed): their
    pools would stay in the sums. Counter and histogram files stay: those counts happened."""
    if os.name != "posix":  # os.kill(pid, 0) is a probe only on POSIX
        return
    for file in directory.glob("gauge_live*_*.db"):
        pid = file.stem.rpartition("_")[2]
        if pid.isdigit() and not _running(int(pid)):
            file.unlink(missing_ok=True)  # another worker's scrape may have been first


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


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


def _pool_values(pool: PoolStats) -> dict[str, int]:
    """`POOL_GAUGES` of one pool."""
    open_now, idle_now = pool.get_size(), pool.get_idle_size()
    return {
        "pool_size": open_now,
        "pool_in_use": max(open_now - idle_now, 0),
        "pool_idle": idle_now,
        "pool_max_size": pool.get_max_size(),
    }


def _pool_families(members: Sequence[PoolMember]) -> list[Metric]:
    families = {
        name: GaugeMetricFamily(PREFIX + name, help_text, labels=("database",))
        for name, help_text in POOL_GAUGES.items()
    }
    for member in members:
        for name, value in _pool_values(member.pool).items():
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
