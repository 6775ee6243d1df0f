"""Prometheus multiprocess mode, for `serve --workers N` (or PROMETHEUS_MULTIPROC_DIR set
by the operator): a scrape reaches one worker, so each worker writes its figures to files in
that directory (prometheus_client's multiprocess mode, chosen when it is first imported) and
every scrape adds up all the files. The directory must be empty when the first worker starts.

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

`metrics.Metrics` chooses the mode (`multiprocess_dir`) and, in this one, keeps a
`WorkerFigures`. Keep one `Metrics` per process in multiprocess mode: the files are per
process.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

from prometheus_client import Counter, Gauge, multiprocess, values

from sqlgateway.metrics.figures import (
    AUDIT_TOTALS,
    POOL_GAUGES,
    PREFIX,
    QUEUE_DEPTH_HELP,
    WAITING_HELP,
    AuditCounters,
    PoolMember,
    pool_values,
)

logger = logging.getLogger("sqlgateway")

#: Set before prometheus_client is imported: the directory of the workers' metric files.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: Multiprocess mode: how often a worker writes the figures only it can read.
REFRESH_INTERVAL_S = 1.0


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


class WorkerFigures:
    """The pool and audit figures only this worker can read, written to its files in
    `directory` for any worker's scrape to add up: now and every `refresh_interval_s`
    between `start()` and `close()`, and at each of this worker's scrapes
    (`before_scrape()`)."""

    def __init__(
        self,
        directory: Path,
        pools: Callable[[], Sequence[PoolMember]] | None,
        waiting: Callable[[], int] | None,
        audit: AuditCounters | None,
        *,
        refresh_interval_s: float = REFRESH_INTERVAL_S,
    ) -> None:
        self.directory = directory
        self._pools = pools
        self._waiting = waiting
        self._audit = audit
        self._refresh_interval_s = refresh_interval_s
        self._refresher: asyncio.Task[None] | None = None
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

    async def start(self) -> None:
        """Write the figures now, then every `refresh_interval_s` until `close()`. Call on
        the app's event loop; a second call does nothing."""
        if self._refresher is not None:
            return
        self.refresh()
        self._refresher = asyncio.create_task(
            self._refresh_every(), name="sqlgateway-metrics-refresh"
        )

    async def close(self) -> None:
        """Stop refreshing, count the audit trail's last events (call after the trail has
        closed), and take this worker's pool and queue gauges out of the sums
        (`mark_process_dead`). Its counters stay in the totals."""
        if self._refresher is not None:
            self._refresher.cancel()
            with suppress(asyncio.CancelledError):
                await self._refresher
            self._refresher = None
        self.count_audit()
        multiprocess.mark_process_dead(os.getpid(), str(self.directory))  # type: ignore[no-untyped-call]

    def before_scrape(self) -> None:
        """Make the sums a scrape adds up current: this worker's part exact (the others' at
        most one interval old), killed workers' gauges gone."""
        self.refresh()
        _forget_dead_workers(self.directory)

    def refresh(self) -> None:
        if self._pools is not None:
            for member in self._pools():
                for name, value in pool_values(member.pool).items():
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

    async def _refresh_every(self) -> None:
        while True:
            await asyncio.sleep(self._refresh_interval_s)
            try:
                self.refresh()
            except Exception:
                logger.exception("metrics: could not read the pool and audit figures")


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
