"""The audit trail's writer: takes one event per request, writes them to a sink in batches,
off the request path, and never loses one silently.

    submit(event)   on the request path: sync, never blocks, never raises. The event goes
                    into a bounded in-memory queue; when that is full, straight to this
                    process's spill file; only if that fails too is it counted `dropped`
                    (and logged).
    writer task     takes up to `batch_size` events, waiting at most `flush_ms` after the
                    first; adds `fingerprint` and `normalized_sql` (in short slices on
                    the loop, long SQL in a thread: the tokenizer is not free); writes
                    the batch to the sink. A failed write
                    sends the batch to the spill file, marks the sink down and retries it
                    with backoff (`retry_min_s` doubling up to `retry_max_s`); meanwhile
                    batches go to the spill file. When the sink answers again, the spill
                    files (this process's and those left by processes that are gone) are
                    replayed, then removed, before new batches are written.
    close()         at shutdown: writes everything queued (a sink that is down gets one
                    more try first, whatever the backoff), spills what it cannot write, then
                    closes the sink.

Events a sink refuses as such (`AuditEventError`: retrying cannot help) are written one by
one to find them, and those go to `rejected-<pid>.jsonl` in the spill directory, counted in
`rejected` and logged with their request id. Counters (`written`, `spilled`, `replayed`,
`dropped`, `rejected`: events since start; `queued`: waiting now; `sink_up`) are plain
attributes for the metrics. The trail belongs to one event loop: call `submit` from it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any, Protocol

from sqlgateway.audit.fingerprint import add_fingerprints
from sqlgateway.audit.spill import SpillFile, append_rejected, encode_lines, spill_files

__all__ = ["AuditEventError", "AuditTrail", "Event", "Sink"]

_log = logging.getLogger("sqlgateway.audit")

Event = dict[str, Any]

#: While the sink stays down, a warning is logged this often (failed retries log at debug).
DOWN_REPORT_S = 60.0


class AuditEventError(Exception):
    """Raised by a sink that refuses the events themselves (a value a column cannot hold);
    writing them again cannot succeed, unlike after a connection failure."""


class Sink(Protocol):
    """Where events end up. `write` stores all of a batch or raises (nothing of it stored,
    or, for a sink that deduplicates by `request_id`, possibly all of it)."""

    async def open(self) -> None: ...
    async def write(self, events: Sequence[Event]) -> None: ...
    async def ping(self) -> None: ...
    async def close(self) -> None: ...


class AuditTrail:
    """The writer in front of one sink (see the module docstring); `start()` it in the
    app's lifespan, `close()` it on the way out."""

    def __init__(
        self,
        sink: Sink,
        *,
        spill_dir: Path,
        queue_size: int,
        batch_size: int,
        flush_ms: float,
        retry_min_s: float = 0.5,
        retry_max_s: float = 10.0,
        sweep_s: float = 30.0,
    ) -> None:
        self.sink = sink
        self.spill_dir = spill_dir
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue(queue_size)
        self._batch_size = batch_size
        self._flush_s = flush_ms / 1000
        self._retry_min_s = retry_min_s
        self._retry_max_s = retry_max_s
        self._retry_s = retry_min_s
        self._retry_at = 0.0  # loop time of the next attempt while the sink is down
        #: How often, while the sink is up, spill files of processes that died are looked for
        #: (a worker that crashed with its sink down leaves one; its siblings replay it).
        self._sweep_s = sweep_s
        self._sweep_at = 0.0
        self._down_since: float | None = None
        self._down_reported = 0.0
        self._spill: SpillFile | None = None  # this process's spill file, while it has one
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._last_try = False
        self._closed = False
        #: Events written to the sink from the queue, and from spill files.
        self.written = 0
        self.replayed = 0
        #: Events written to a spill file; lost ones; ones the sink refused.
        self.spilled = 0
        self.dropped = 0
        self.rejected = 0
        #: False while the sink is failing, or spilled events wait to be replayed.
        self.sink_up = False

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    async def start(self) -> None:
        """Open the sink and start the writer. A sink that cannot be opened is not an error
        here: events spill until it answers (`ready()` says whether it does). Spill files
        of earlier runs are replayed first, by the writer."""
        loop = asyncio.get_running_loop()
        try:
            await self.sink.open()
        except Exception as exc:
            self._went_down(exc, loop.time())
        else:
            # files of earlier runs: the writer replays them before anything new
            self.sink_up = not spill_files(self.spill_dir)
            self._retry_at = loop.time()
        self._task = asyncio.create_task(self._run(), name="sqlgateway-audit-writer")

    def submit(self, event: Event) -> None:
        """Hand over one event (the trail adds fields to it). Never blocks, never raises."""
        try:
            if self._closing:
                self._spill_events([event])
            else:
                self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self._spill_events([event])
        except Exception:
            self.dropped += 1
            _log.exception("an audit event was lost")

    async def ready(self) -> bool:
        """True if the sink answers now."""
        try:
            await self.sink.ping()
        except Exception as exc:
            _log.debug("audit sink ping failed: %s: %s", type(exc).__name__, exc)
            return False
        return True

    async def close(self, timeout_s: float = 10.0) -> None:
        """Write what is queued (what cannot be written within `timeout_s` is spilled),
        release the spill file, close the sink. Events submitted later are spilled."""
        if self._closed:
            return
        self._closing = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        with suppress(asyncio.QueueFull):
            self._queue.put_nowait(None)  # wakes a writer waiting for events
        task, self._task = self._task, None
        if task is not None:
            done, _ = await asyncio.wait({task}, timeout=timeout_s)
            if not done:
                _log.warning(
                    "audit trail: close timed out after %.1f s; spilling the rest", timeout_s
                )
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task
        rest = [item for item in _drain(self._queue) if item is not None]
        if rest:
            self._spill_events(rest)
        if self._spill is not None:
            spill, self._spill = self._spill, None
            try:
                spill.release()
            except OSError as exc:
                _log.error("audit spill file %s: %s", spill.path, exc)
        try:
            async with asyncio.timeout(max(deadline - loop.time(), 1.0)):
                await self.sink.close()
        except Exception as exc:
            _log.warning("audit sink did not close cleanly: %s: %s", type(exc).__name__, exc)
        self._closed = True

    # -- the writer ------------------------------------------------------------------------

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                if not self.sink_up and (
                    loop.time() >= self._retry_at or (self._closing and not self._last_try)
                ):
                    self._last_try = self._closing  # closing: one more try, then spill
                    await self._recover()
                elif self.sink_up and self._spill is not None and self._spill.unread:
                    await self._replay_overflow()
                elif self.sink_up and loop.time() >= self._sweep_at:
                    self._sweep_at = loop.time() + self._sweep_s
                    await self._sweep()
                if self._closing and self._queue.empty():
                    return
                batch = await self._collect()
                if batch:
                    await self._deliver(batch)
            except Exception:  # a bug: keep the writer alive, but do not spin
                _log.exception("audit writer failed")
                await asyncio.sleep(self._retry_min_s)

    async def _collect(self) -> list[Event]:
        """Up to batch_size events: waits for the first (while the sink is down, only until
        the next retry), then at most flush_ms for more; takes what is there when closing."""
        loop = asyncio.get_running_loop()
        batch: list[Event] = []
        flush_at: float | None = None
        while True:
            while len(batch) < self._batch_size and not self._queue.empty():
                item = self._queue.get_nowait()
                if item is not None:
                    batch.append(item)
            if len(batch) >= self._batch_size or self._closing:
                return batch
            wait: float | None
            if batch:
                flush_at = loop.time() + self._flush_s if flush_at is None else flush_at
                wait = flush_at - loop.time()
            elif self.sink_up:
                wait = max(self._sweep_at - loop.time(), 0.001)  # idle until the next sweep
            else:
                wait = self._retry_at - loop.time()
            if wait is not None and wait <= 0:
                return batch
            try:
                async with asyncio.timeout(wait):
                    item = await self._queue.get()
            except TimeoutError:
                return batch
            except asyncio.CancelledError:
                if batch:
                    self._spill_events(batch)
                raise
            if item is not None:
                batch.append(item)

    async def _deliver(self, batch: list[Event]) -> None:
        unsettled = batch  # neither written nor spilled yet
        try:
            await _with_fingerprints(batch)
            if self.sink_up:
                try:
                    await self.sink.write(batch)
                except AuditEventError:
                    handled, written, failure = await self._write_each(batch)
                    self.written += written
                    unsettled = batch[handled:]
                    if failure is not None:
                        self._went_down(failure)
                except Exception as exc:
                    self._went_down(exc)
                else:
                    self.written += len(batch)
                    unsettled = []
            if unsettled:
                self._spill_events(unsettled)
                unsettled = []
                await self._sync_spill()
        except asyncio.CancelledError:  # close() gave up waiting: keep the batch on disk
            if unsettled:
                self._spill_events(unsettled)
            raise

    async def _write_each(self, events: list[Event]) -> tuple[int, int, Exception | None]:
        """Write `events` one at a time, setting aside those the sink refuses: how many were
        dealt with and how many written before a failure of another kind (and that failure)."""
        written = 0
        for number, one in enumerate(events):
            try:
                await self.sink.write([one])
            except AuditEventError as exc:
                self.rejected += 1
                what = f"event {one.get('request_id')} refused by the sink ({exc})"
                self._reject(encode_lines([one]), what)
            except Exception as exc:
                return number, written, exc
            else:
                written += 1
        return len(events), written, None

    # -- down and back up ------------------------------------------------------------------

    def _went_down(self, exc: BaseException, now: float | None = None) -> None:
        now = asyncio.get_running_loop().time() if now is None else now
        if self._down_since is None:
            self._down_since = self._down_reported = now
            _log.error(
                "audit sink failed (%s: %s); events go to the spill directory %s until it "
                "answers again",
                type(exc).__name__,
                exc,
                self.spill_dir,
            )
        elif now - self._down_reported >= DOWN_REPORT_S:
            self._down_reported = now
            _log.warning(
                "audit sink still failing after %.0f s (%s: %s); %d event(s) spilled so far",
                now - self._down_since,
                type(exc).__name__,
                exc,
                self.spilled,
            )
        else:
            _log.debug("audit sink retry failed: %s: %s", type(exc).__name__, exc)
        self.sink_up = False
        self._retry_at = now + self._retry_s
        self._retry_s = min(self._retry_s * 2, self._retry_max_s)

    async def _recover(self) -> None:
        """Ping the sink; if it answers, replay every spill file; then the sink is up."""
        try:
            await self.sink.ping()
            replayed = self.replayed
            for path in spill_files(self.spill_dir):
                if self._spill is None or path != self._spill.path:
                    await self._replay_left(path)
            if self._spill is not None:
                await self._replay(self._spill)
                # read to its end just now, with no await since: nothing new is in it
                spill, self._spill = self._spill, None
                spill.remove()
        except Exception as exc:
            self._went_down(exc)
            return
        self.sink_up = True
        self._retry_s = self._retry_min_s
        if self._down_since is not None:
            down_s = asyncio.get_running_loop().time() - self._down_since
            _log.warning(
                "audit sink answers again after %.1f s; replayed %d spilled event(s)",
                down_s,
                self.replayed - replayed,
            )
        elif self.replayed > replayed:
            _log.info("audit: replayed %d event(s) spilled earlier", self.replayed - replayed)
        self._down_since = None

    async def _sweep(self) -> None:
        """Replay spill files no live process holds (left by a worker that died)."""
        try:
            for path in spill_files(self.spill_dir):
                if self._spill is None or path != self._spill.path:
                    await self._replay_left(path)
        except Exception as exc:
            self._went_down(exc)

    async def _replay_overflow(self) -> None:
        """Replay what submit() spilled while the queue was full (the sink was up)."""
        assert self._spill is not None
        try:
            await self._replay(self._spill)
        except Exception as exc:
            self._went_down(exc)
            return
        spill, self._spill = self._spill, None
        spill.remove()

    async def _replay_left(self, path: Path) -> None:
        """Replay and remove a spill file another process (or an earlier run) left."""
        left = SpillFile.claim(path)
        if left is None:
            return  # its process is alive and replays it itself, or it is gone
        try:
            await self._replay(left)
        except BaseException:
            left.release()
            raise
        left.remove()

    async def _replay(self, spill: SpillFile) -> None:
        """Write the unread part of `spill` to the sink, batch by batch; raises if the sink
        fails (what was written stays consumed)."""
        while True:
            events, bad, end = spill.read(self._batch_size)
            if not events and not bad:
                return
            if bad:
                self.rejected += len(bad)
                self._reject(b"".join(bad), f"{len(bad)} unreadable line(s) in {spill.path}")
            if events:
                await _with_fingerprints(events)
                try:
                    await self.sink.write(events)
                    written = len(events)
                except AuditEventError:
                    _, written, failure = await self._write_each(events)
                    if failure is not None:
                        raise failure from None
                self.replayed += written
            spill.consume(end)

    # -- spilling ---------------------------------------------------------------------------

    async def _sync_spill(self) -> None:
        """fsync the spill file, in a worker thread: it can take milliseconds."""
        if self._spill is not None:
            spill = self._spill
            with suppress(OSError):
                await asyncio.to_thread(spill.sync)

    def _spill_events(self, events: list[Event]) -> bool:
        """Append `events` to this process's spill file; False (and counted dropped) if
        that fails. Never raises."""
        try:
            if self._spill is None:
                self._spill = SpillFile.create(self.spill_dir)
            self._spill.append(encode_lines(events))
        except Exception as exc:
            self.dropped += len(events)
            _log.error(
                "%d audit event(s) lost: cannot write the spill file in %s (%s: %s)",
                len(events),
                self.spill_dir,
                type(exc).__name__,
                exc,
            )
            return False
        self.spilled += len(events)
        return True

    def _reject(self, lines: bytes, what: str) -> None:
        """Set `lines` aside in the rejected file (nothing replays it) and say so."""
        try:
            path = append_rejected(self.spill_dir, lines)
        except OSError as err:
            _log.error("audit: %s, and lost: %s", what, err)
            return
        _log.error("audit: %s; kept in %s", what, path)


#: Events fingerprinted on the event loop between two yields to it (about 20 µs each for a
#: typical query): the loop never stalls for more than a fraction of a millisecond. A worker
#: thread would hold the GIL for whole batches (7 ms for 300 events) and show in the p99 of
#: the requests being served meanwhile (bench/: audit scenario).
FINGERPRINT_SLICE = 16
#: Longer SQL is fingerprinted in a worker thread: it can take milliseconds.
FINGERPRINT_INLINE_MAX_CHARS = 4_000


async def _with_fingerprints(events: list[Event]) -> None:
    pending = [item for item in events if "fingerprint" not in item]
    for start in range(0, len(pending), FINGERPRINT_SLICE):
        chunk = pending[start : start + FINGERPRINT_SLICE]
        long = [item for item in chunk if _sql_chars(item) > FINGERPRINT_INLINE_MAX_CHARS]
        if long:
            await asyncio.to_thread(add_fingerprints, long)
        add_fingerprints(chunk)
        await asyncio.sleep(0)


def _sql_chars(event: Event) -> int:
    sql = event.get("sql_executed") or event.get("sql_received")
    return len(sql) if isinstance(sql, str) else 0


def _drain(queue: asyncio.Queue[Event | None]) -> list[Event | None]:
    items = []
    while not queue.empty():
        items.append(queue.get_nowait())
    return items
