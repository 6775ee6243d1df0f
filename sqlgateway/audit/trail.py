"""The audit trail's writer: no answer leaves before its event is on durable storage, and
requests that end together share one write (group commit).

    admit()         before a request's work (before any SQL runs): raises UnavailableError
                    when no sink can take an event now (the sink is down and the spill
                    directory cannot be written), unless the trail fails open.
    await commit(e) before the answer leaves: returns once the event is durable, in the sink
                    (the PostgreSQL row committed, the JSON Lines file fdatasync'ed) or in this
                    process's spill file (written and fsynced). When nothing could store it:
                    raises UnavailableError, or failing open (`fail_open`) counts it
                    `unaudited`, logs it and returns, so the answer leaves without it.
    submit(e)       for requests nothing answers (the client went away, a refusal the trail
                    itself caused): the same way to storage, but nobody waits.
    close()         at shutdown: writes everything pending (a sink that is down gets one more
                    try first, whatever the backoff) and, if the sink answers, what the spill
                    files hold; spills what it cannot write, releases the spill files, closes
                    the sink.

The writer task takes what is pending, waits at most `commit_window_ms` after the first event
for more (up to `commit_max_events`), adds `fingerprint` and `normalized_sql`, and writes the
batch: to the sink while it is up, else to the spill file. Events arriving while a write is
under way form the next batch, so under load batches grow by themselves. A failed write
marks the sink down and sends the batch to the spill file; the sink is retried with backoff
(`retry_min_s` doubling up to `retry_max_s`). Once it answers, the spill files are replayed
one batch at a time between new batches (`replay`): this process's own file (new events go on
being appended to it until it is replayed, so they reach the sink in order) and the files
left by processes that are gone (looked for at start and every `sweep_s`). If the spill file
cannot be written while the sink answers, events go to the sink directly.

Counters (`written`, `spilled`, `replayed`, `dropped`, `rejected`, `unaudited`: events since
start; `queued`: pending now; `sink_up`, `accepting`) are plain attributes for the metrics.
The trail belongs to one event loop: call it from that loop.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from pathlib import Path

from sqlgateway.audit import replay
from sqlgateway.audit.backoff import DOWN_REPORT_S, SinkHealth
from sqlgateway.audit.sink import (
    AuditEventError,
    Event,
    Sink,
    Written,
    with_fingerprints,
    write_batch,
)
from sqlgateway.audit.spiller import Spiller
from sqlgateway.errors import UnavailableError

__all__ = [
    "AuditEventError",
    "AuditTrail",
    "Event",
    "Sink",
    "audit_unavailable",
]

_log = logging.getLogger("sqlgateway.audit")

#: What `readiness()` says: the sink answers; it does not but the spill directory takes
#: events; neither can take an event (queries get 503 unless the trail fails open).
OK, SPILLING, UNAVAILABLE = "ok", "spilling", "unavailable"


def audit_unavailable(retry_after_s: int = 1) -> UnavailableError:
    """The refusal of a request whose event no sink can take (fail closed)."""
    return UnavailableError(
        "the audit trail cannot record requests now, so none is served",
        retry_after_s=max(1, retry_after_s),
        hint="the audit trail's sink is down and its spill directory cannot be written "
        "(SQLGATEWAY_AUDIT_SPILL_DIR); retry later",
    )


class AuditTrail:
    """The writer in front of one sink (see the module docstring); `start()` it in the
    app's lifespan, `close()` it on the way out."""

    def __init__(
        self,
        sink: Sink,
        *,
        spill_dir: Path,
        commit_window_ms: float,
        commit_max_events: int,
        fail_open: bool = False,
        retry_min_s: float = 0.5,
        retry_max_s: float = 10.0,
        sweep_s: float = 30.0,
    ) -> None:
        self.sink = sink
        self.spill_dir = spill_dir
        self.fail_open = fail_open
        self._window_s = commit_window_ms / 1000
        self._max_events = commit_max_events
        self._pending: list[tuple[Event, asyncio.Future[bool] | None]] = []
        self._wake = asyncio.Event()
        self._retry_min_s = retry_min_s
        self._health = SinkHealth(spill_dir, retry_min_s, retry_max_s)
        #: How often, while the sink is up, spill files of processes that died are looked for.
        self._sweep_s = sweep_s
        self._sweep_at = 0.0
        self._lost_reported = -math.inf
        self._spiller = Spiller(spill_dir)  # this process's spill file
        self._backlog = replay.Backlog(self.spill_dir)  # files of processes that are gone
        self._task: asyncio.Task[None] | None = None
        self._writing = False
        self._closing = False
        self._last_try = False
        self._closed = False
        #: Events written to the sink as they came, and from spill files.
        self.written = 0
        self.replayed = 0
        #: Lost events; ones the sink refused; answers that left without their event (fail
        #: open). `spilled`: events written to a spill file.
        self.dropped = 0
        self.rejected = 0
        self.unaudited = 0

    @property
    def spilled(self) -> int:
        return self._spiller.spilled

    @property
    def queued(self) -> int:
        """Events waiting to be written."""
        return len(self._pending)

    @property
    def sink_up(self) -> bool:
        """True while new events go straight to the sink (it answers, nothing of this
        process waits in a spill file)."""
        return not self._health.down and self._spiller.file is None

    @property
    def accepting(self) -> bool:
        """True unless no sink can take an event: the sink is down and the last spill (or
        probe of the spill directory) failed."""
        return not self._health.down or self._spiller.ok

    # -- the request path ---------------------------------------------------------------------

    async def start(self) -> None:
        """Open the sink and start the writer. A sink that cannot be opened is not an error
        here: events spill until it answers. Spill files of earlier runs are replayed by the
        writer, between new events."""
        loop = asyncio.get_running_loop()
        try:
            await self.sink.open()
        except Exception as exc:
            self._went_down(exc, loop.time())
            await self._spiller.probe()
        self._backlog.claim_left(own=None)
        self._writing = True
        self._task = asyncio.create_task(self._run(), name="sqlgateway-audit-writer")

    def admit(self) -> None:
        """Raise UnavailableError (with Retry-After) if no sink can take an event now and the
        trail fails closed; call it before the request's work."""
        if self.accepting or self.fail_open:
            return
        wait_s = self._health.retry_at - asyncio.get_running_loop().time()
        raise audit_unavailable(math.ceil(wait_s))

    async def commit(self, event: Event) -> None:
        """Return once `event` is on durable storage (see the module docstring). Cancelling
        the caller does not take the event back: it is still written."""
        if self._writing:
            future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
            self._enqueue(event, future)
            # a cancelled caller cancels only this future: the event stays pending
            stored = await future
        else:  # before start or after close: straight to the spill file
            stored = self._spill_now([event])
        if stored:
            return
        if not self.fail_open:
            raise audit_unavailable()
        self.unaudited += 1
        _log.error(
            "answered without an audit event (SQLGATEWAY_AUDIT_FAIL_OPEN): request_id=%s "
            "actor=%s path=%s outcome=%s",
            event.get("request_id"),
            event.get("actor"),
            event.get("path"),
            event.get("outcome"),
        )

    def submit(self, event: Event) -> None:
        """Hand over the event of a request nobody is answered on. Never blocks or raises."""
        try:
            if self._writing:
                self._enqueue(event, None)
            else:
                self._spill_now([event])
        except Exception:
            self.dropped += 1
            _log.exception("an audit event was lost")

    async def readiness(self) -> str:
        """OK if the sink answers now, SPILLING if not but a spill would succeed, else
        UNAVAILABLE."""
        try:
            await self.sink.ping()
        except Exception as exc:
            _log.debug("audit sink ping failed: %s: %s", type(exc).__name__, exc)
        else:
            return OK
        return SPILLING if await self._spiller.probe() else UNAVAILABLE

    async def close(self, timeout_s: float = 10.0) -> None:
        """Write what is pending and replay the spill files if the sink answers (what cannot
        be written within `timeout_s` is spilled), release the spill files, close the sink.
        Events handed over later are spilled."""
        if self._closed:
            return
        self._closing = True
        self._wake.set()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        task, self._task = self._task, None
        if task is not None:
            done, _ = await asyncio.wait({task}, timeout=timeout_s)
            if not done:
                _log.warning(
                    "audit trail: close timed out after %.1f s; spilling the rest", timeout_s
                )
                task.cancel()
                await asyncio.wait({task})
        self._writing = False
        rest, self._pending = self._pending, []
        if rest:
            _settle(rest, self._spill_now([event for event, _ in rest]))
        for held in (self._spiller.file, *self._backlog.files):
            if held is not None:
                try:
                    held.release()
                except OSError as exc:
                    _log.error("audit spill file %s: %s", held.path, exc)
        self._spiller.file = None
        self._backlog.files.clear()
        try:
            async with asyncio.timeout(max(deadline - loop.time(), 1.0)):
                await self.sink.close()
        except Exception as exc:
            _log.warning("audit sink did not close cleanly: %s: %s", type(exc).__name__, exc)
        self._closed = True

    def _enqueue(self, event: Event, future: asyncio.Future[bool] | None) -> None:
        self._pending.append((event, future))
        if len(self._pending) == 1 or len(self._pending) >= self._max_events:
            self._wake.set()

    # -- the writer -----------------------------------------------------------------------------

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                try:
                    now = loop.time()
                    if self._health.down and (
                        now >= self._health.retry_at or (self._closing and not self._last_try)
                    ):
                        self._last_try = self._closing  # closing: one more try, then spill
                        await self._probe()
                    elif not self._health.down and not self._closing and now >= self._sweep_at:
                        self._sweep_at = now + self._sweep_s
                        self._backlog.claim_left(own=self._spiller.file)
                    replaying = not self._health.down and self._replay_due()
                    if replaying:
                        await self._replay_step()  # closing too: what can be written is
                    if self._closing and not self._pending and not replaying:
                        return
                    batch = await self._collect()
                    if batch:
                        await self._deliver(batch)
                except Exception:  # a bug: keep the writer alive, but do not spin
                    _log.exception("audit writer failed")
                    await asyncio.sleep(self._retry_min_s)
        finally:
            self._writing = False

    def _replay_due(self) -> bool:
        return bool(self._backlog.files) or self._spiller.file is not None

    async def _collect(self) -> list[tuple[Event, asyncio.Future[bool] | None]]:
        """What is pending, up to commit_max_events: waits for the first event (only until
        the next retry, sweep or replay step), then at most commit_window_ms for more."""
        loop = asyncio.get_running_loop()
        if not self._pending and not self._closing:
            if self._health.down:
                wait = self._health.retry_at - loop.time()
            elif self._replay_due():
                wait = 0.0
            else:
                wait = max(self._sweep_at - loop.time(), 0.001)
            if wait > 0:
                self._wake.clear()
                try:
                    async with asyncio.timeout(wait):
                        await self._wake.wait()
                except TimeoutError:
                    return []
        if (
            self._pending
            and self._window_s > 0
            and len(self._pending) < self._max_events
            and not self._closing
        ):
            self._wake.clear()
            try:
                async with asyncio.timeout(self._window_s):
                    await self._wake.wait()  # set once commit_max_events are pending
            except TimeoutError:
                pass
        batch = self._pending[: self._max_events]
        del self._pending[: self._max_events]
        return batch

    async def _deliver(self, batch: list[tuple[Event, asyncio.Future[bool] | None]]) -> None:
        events = [event for event, _ in batch]
        try:
            await with_fingerprints(events)
            lost = await self._store(events)
        except asyncio.CancelledError:  # close() gave up waiting: keep the batch on disk
            _settle(batch, self._spill_now(events))
            raise
        except Exception:
            _settle(batch, False)
            raise
        if not lost:
            _settle(batch, True)
            return
        gone = {id(event) for event in lost}
        for event, future in batch:
            if future is not None and not future.done():
                future.set_result(id(event) not in gone)

    async def _store(self, events: list[Event]) -> list[Event]:
        """Write `events` durably where they can go; the ones nothing could store."""
        lost: list[Event] = []
        if self.sink_up:
            result = await write_batch(self.sink, events, self.spill_dir)
            self._count(result)
            lost, events = result.lost, result.rest
            if not events:
                return lost
        if await self._spiller.append(events):
            return lost
        if not self._health.down:  # the spill failed, the sink answers: order gives way
            result = await write_batch(self.sink, events, self.spill_dir)
            self._count(result)
            lost, events = lost + result.lost, result.rest
        if events:
            self._lose(events)
        return lost + events

    def _count(self, result: Written) -> None:
        self.written += result.written
        self.rejected += result.refused
        self.dropped += len(result.lost)
        if result.failure is not None:
            self._went_down(result.failure)

    def _spill_now(self, events: list[Event]) -> bool:
        """Spill without the writer (before start, after close); False (and counted
        dropped) if the events could not be stored."""
        if self._spiller.append_now(events):
            return True
        self._lose(events)
        return False

    def _lose(self, events: list[Event]) -> None:
        self.dropped += len(events)
        now = time.monotonic()
        if now - self._lost_reported >= DOWN_REPORT_S:
            self._lost_reported = now
            _log.error(
                "audit: %d event(s) could not be stored (%d since start): the sink is down "
                "and the spill directory %s cannot be written",
                len(events),
                self.dropped,
                self.spill_dir,
            )

    # -- down and back up --------------------------------------------------------------------

    def _went_down(self, exc: BaseException, now: float | None = None) -> None:
        now = asyncio.get_running_loop().time() if now is None else now
        self._health.failed(exc, now, self.spilled)

    async def _probe(self) -> None:
        """Ping the sink; if it answers, it is up (the spill files are replayed from now
        on); if not, look whether the spill directory can be written again."""
        try:
            await self.sink.ping()
        except Exception as exc:
            self._went_down(exc)
            if not self._spiller.ok:
                await self._spiller.probe()
            return
        self._health.answered(asyncio.get_running_loop().time())

    async def _replay_step(self) -> None:
        """Replay one batch of spill files: those of processes that are gone first, then
        this process's own (new events reach the sink directly once it is replayed)."""
        own = not self._backlog.files
        spill = self._spiller.file if own else self._backlog.files[0]
        assert spill is not None
        since_s = None if own else self._backlog.check_since.get(spill.path)
        try:
            step = await replay.replay_batch(
                self.sink, spill, self._max_events, self.spill_dir, since_s
            )
        except Exception as exc:
            self._went_down(exc)
            return
        self.replayed += step.written
        self.rejected += step.refused
        self.dropped += step.lost
        if step.failure is not None:
            self._went_down(step.failure)
            return
        if spill.records_progress:  # only the batch after the recorded progress can repeat
            self._backlog.check_since.pop(spill.path, None)
        if spill.unread:
            return
        spill.remove()
        if own:
            self._spiller.file = None
            _log.info("audit: this process's spill file is replayed; writing to the sink again")
        else:
            self._backlog.files.pop(0)
            self._backlog.check_since.pop(spill.path, None)


def _settle(batch: list[tuple[Event, asyncio.Future[bool] | None]], stored: bool) -> None:
    for _, future in batch:
        if future is not None and not future.done():
            future.set_result(stored)
