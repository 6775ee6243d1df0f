"""AuditTrail: batching, counters, spilling while the sink fails, replay, shutdown.

The sink here is a list in memory that fails on demand (no database involved); the
PostgreSQL sink is exercised for real in tests/integration/audit/test_audit_postgres.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest

from sqlgateway.audit.jsonl import JsonlSink
from sqlgateway.audit.spill import SpillFile, encode_lines, spill_files
from sqlgateway.audit.trail import AuditEventError, AuditTrail, Event


class SinkDown(ConnectionError):
    pass


class MemorySink:
    """Keeps batches in a list; `failing` makes every call raise, `refused` request ids make
    a batch holding one raise AuditEventError, `hang` makes writes wait forever."""

    def __init__(self) -> None:
        self.batches: list[list[Event]] = []
        self.failing = False
        self.hang = False
        self.refused: set[str] = set()
        self.closed = 0
        #: writes that may succeed before every further one fails (None: no limit)
        self.writes_left: int | None = None

    async def open(self) -> None:
        if self.failing:
            raise SinkDown("down")

    async def write(self, events: Sequence[Event]) -> None:
        if self.failing or self.writes_left == 0:
            raise SinkDown("down")
        if self.writes_left is not None:
            self.writes_left -= 1
        if self.hang:
            await asyncio.Event().wait()
        if any(event["request_id"] in self.refused for event in events):
            raise AuditEventError("refused")
        self.batches.append([dict(event) for event in events])

    async def ping(self) -> None:
        if self.failing:
            raise SinkDown("down")

    async def close(self) -> None:
        self.closed += 1

    @property
    def ids(self) -> list[str]:
        return [event["request_id"] for batch in self.batches for event in batch]


def event(number: int) -> Event:
    return {
        "request_id": f"r{number:04d}",
        "sql_received": f"select * from claims where claim_id = {number}",
        "outcome": "ok",
    }


def trail_for(sink: Any, spill_dir: Path, **overrides: Any) -> AuditTrail:
    options: dict[str, Any] = {
        "queue_size": 1_000,
        "batch_size": 10,
        "flush_ms": 20,
        "retry_min_s": 0.02,
        "retry_max_s": 0.05,
    }
    options.update(overrides)
    return AuditTrail(sink, spill_dir=spill_dir, **options)


async def until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.005)


def run(test: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(asyncio.wait_for(test(), 15))


def test_events_are_written_in_batches_with_fingerprints(tmp_path: Path) -> None:
    sink = MemorySink()
    trail = trail_for(sink, tmp_path)

    async def go() -> None:
        await trail.start()
        assert trail.sink_up
        for number in range(35):
            trail.submit(event(number))
        assert trail.queued == 35
        await until(lambda: trail.written == 35)
        assert trail.queued == 0
        await trail.close()

    run(go)
    assert [len(batch) for batch in sink.batches] == [10, 10, 10, 5]
    assert sink.ids == [f"r{n:04d}" for n in range(35)]
    first = sink.batches[0][0]
    assert first["normalized_sql"] == "SELECT * FROM claims WHERE claim_id = ?"
    assert len({e["fingerprint"] for batch in sink.batches for e in batch}) == 1
    assert (trail.spilled, trail.replayed, trail.dropped, trail.rejected) == (0, 0, 0, 0)
    assert sink.closed == 1


def test_a_lone_event_waits_at_most_about_flush_ms(tmp_path: Path) -> None:
    sink = MemorySink()
    trail = trail_for(sink, tmp_path, flush_ms=50, batch_size=500)

    async def go() -> None:
        await trail.start()
        started = time.monotonic()
        trail.submit(event(1))
        await until(lambda: trail.written == 1)
        assert 0.04 < time.monotonic() - started < 1.0
        await trail.close()

    run(go)


def test_events_without_sql_get_empty_fingerprints_and_sql_executed_wins(tmp_path: Path) -> None:
    sink = MemorySink()
    trail = trail_for(sink, tmp_path)

    async def go() -> None:
        await trail.start()
        trail.submit({"request_id": "none", "sql_received": None})
        trail.submit({"request_id": "both", "sql_received": "garbage", "sql_executed": "SELECT 1"})
        await trail.close()

    run(go)
    written = {e["request_id"]: e for batch in sink.batches for e in batch}
    assert written["none"]["fingerprint"] is None and written["none"]["normalized_sql"] is None
    assert written["both"]["normalized_sql"] == "SELECT ?"


def test_while_the_sink_fails_events_spill_and_are_replayed_first_when_it_is_back(
    tmp_path: Path,
) -> None:
    sink = MemorySink()
    trail = trail_for(sink, tmp_path)

    async def go() -> None:
        await trail.start()
        for number in range(10):
            trail.submit(event(number))
        await until(lambda: trail.written == 10)
        sink.failing = True
        for number in range(10, 40):
            trail.submit(event(number))
        await until(lambda: trail.spilled == 30)
        assert not trail.sink_up
        [spill] = spill_files(tmp_path)
        assert len(spill.read_bytes().splitlines()) == 30
        assert not await trail.ready()
        sink.failing = False
        await until(lambda: trail.sink_up)
        for number in range(40, 50):
            trail.submit(event(number))
        await until(lambda: trail.written + trail.replayed == 50)
        assert await trail.ready()
        await trail.close()

    run(go)
    assert sink.ids == [f"r{n:04d}" for n in range(50)]  # each once, spilled ones first
    assert (trail.written, trail.spilled, trail.replayed, trail.dropped) == (20, 30, 30, 0)
    assert spill_files(tmp_path) == []
    assert all("fingerprint" in e for batch in sink.batches for e in batch)


def test_a_replay_cut_short_resumes_where_it_stopped(tmp_path: Path) -> None:
    sink = MemorySink()
    sink.failing = True
    trail = trail_for(sink, tmp_path)

    async def go() -> None:
        await trail.start()
        for number in range(30):
            trail.submit(event(number))
        await until(lambda: trail.spilled == 30)
        sink.failing = False
        sink.writes_left = 1  # the replay's first batch goes through, the second fails
        await until(lambda: trail.replayed == 10)
        await asyncio.sleep(0.05)
        assert not trail.sink_up
        sink.writes_left = None
        await until(lambda: trail.sink_up)
        await trail.close()

    run(go)
    assert sink.ids == [f"r{n:04d}" for n in range(30)]
    assert (trail.spilled, trail.replayed) == (30, 30)


def test_a_spill_file_given_up_part_way_keeps_only_the_unwritten_rest(tmp_path: Path) -> None:
    mine = SpillFile.create(tmp_path)
    mine.append(encode_lines([event(number) for number in range(10)]))
    assert SpillFile.claim(mine.path) is None  # locked by its owner
    events, bad, end = mine.read(4)
    assert [e["request_id"] for e in events] == ["r0000", "r0001", "r0002", "r0003"]
    assert bad == []
    mine.consume(end)
    mine.release()
    claimed = SpillFile.claim(mine.path)
    assert claimed is not None
    events, _, end = claimed.read(100)
    assert [e["request_id"] for e in events] == [f"r{n:04d}" for n in range(4, 10)]
    claimed.consume(end)
    claimed.release()  # everything read: removed
    assert spill_files(tmp_path) == []
    assert SpillFile.claim(mine.path) is None


def test_a_full_queue_spills_at_once_and_submit_never_blocks(tmp_path: Path) -> None:
    sink = MemorySink()
    trail = trail_for(sink, tmp_path, queue_size=5)

    async def go() -> None:
        started = time.perf_counter()
        for number in range(50):  # before start(): nothing drains the queue
            trail.submit(event(number))
        assert time.perf_counter() - started < 0.5
        assert (trail.queued, trail.spilled) == (5, 45)
        await trail.start()
        await until(lambda: trail.written + trail.replayed == 50)
        await trail.close()

    run(go)
    assert sorted(sink.ids) == [f"r{n:04d}" for n in range(50)]
    assert (trail.written, trail.replayed) == (5, 45)
    assert spill_files(tmp_path) == []


def test_when_the_spill_file_cannot_be_written_either_events_are_counted_dropped(
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    trail = trail_for(MemorySink(), blocker / "spill", queue_size=2)

    async def go() -> None:
        for number in range(5):
            trail.submit(event(number))  # never raises
        assert (trail.queued, trail.spilled, trail.dropped) == (2, 0, 3)

    run(go)


def test_events_the_sink_refuses_are_set_aside_and_the_rest_written(tmp_path: Path) -> None:
    sink = MemorySink()
    sink.refused = {"r0003", "r0007"}
    trail = trail_for(sink, tmp_path)

    async def go() -> None:
        await trail.start()
        for number in range(10):
            trail.submit(event(number))
        await trail.close()

    run(go)
    assert sink.ids == [f"r{n:04d}" for n in range(10) if n not in (3, 7)]
    assert (trail.written, trail.rejected, trail.spilled) == (8, 2, 0)
    [rejected] = tmp_path.glob("rejected-*.jsonl")
    kept = [orjson.loads(line)["request_id"] for line in rejected.read_bytes().splitlines()]
    assert kept == ["r0003", "r0007"]
    assert spill_files(tmp_path) == []


def test_close_writes_everything_queued_without_waiting_for_flush_ms(tmp_path: Path) -> None:
    sink = MemorySink()
    trail = trail_for(sink, tmp_path, flush_ms=60_000, batch_size=1_000)

    async def go() -> None:
        await trail.start()
        for number in range(100):
            trail.submit(event(number))
        started = time.monotonic()
        await trail.close(timeout_s=5)
        assert time.monotonic() - started < 1
        trail.submit(event(100))  # after close: kept for the next run

    run(go)
    assert sink.ids == [f"r{n:04d}" for n in range(100)]
    assert trail.spilled == 1
    assert sink.closed == 1


def test_close_with_the_sink_down_leaves_a_spill_file_the_next_run_replays(
    tmp_path: Path,
) -> None:
    down = MemorySink()
    down.failing = True
    first = trail_for(down, tmp_path)
    sink = MemorySink()
    second = trail_for(sink, tmp_path)

    async def go() -> None:
        await first.start()
        assert not first.sink_up
        for number in range(25):
            first.submit(event(number))
        await first.close()
        assert (first.spilled, first.dropped) == (25, 0)
        assert len(spill_files(tmp_path)) == 1
        await second.start()
        await until(lambda: second.replayed == 25)
        assert second.sink_up
        await second.close()

    run(go)
    assert sink.ids == [f"r{n:04d}" for n in range(25)]
    assert spill_files(tmp_path) == []


def test_close_tries_a_sink_that_is_back_before_its_backoff_ran_out(tmp_path: Path) -> None:
    sink = MemorySink()
    trail = trail_for(sink, tmp_path, retry_min_s=60, retry_max_s=60)

    async def go() -> None:
        await trail.start()
        sink.failing = True
        for number in range(10):
            trail.submit(event(number))
        await until(lambda: trail.spilled == 10)
        sink.failing = False
        for number in range(10, 15):
            trail.submit(event(number))
        await trail.close()

    run(go)
    assert sink.ids == [f"r{n:04d}" for n in range(15)]
    assert spill_files(tmp_path) == []


def test_close_gives_up_on_a_hanging_sink_and_spills_the_batch(tmp_path: Path) -> None:
    sink = MemorySink()
    sink.hang = True
    trail = trail_for(sink, tmp_path)

    async def go() -> None:
        await trail.start()
        for number in range(15):
            trail.submit(event(number))
        await until(lambda: trail.queued < 15)  # the first batch is being written
        started = time.monotonic()
        await trail.close(timeout_s=0.2)
        assert time.monotonic() - started < 2

    run(go)
    assert (trail.written, trail.spilled) == (0, 15)
    [spill] = spill_files(tmp_path)
    assert len(spill.read_bytes().splitlines()) == 15


def test_a_spill_file_held_by_a_live_process_is_left_to_it(tmp_path: Path) -> None:
    holder = SpillFile.create(tmp_path)  # locked, as by another live worker
    holder.append(encode_lines([event(number) for number in range(3)]))
    sink = MemorySink()
    trail = trail_for(sink, tmp_path)
    later_sink = MemorySink()
    later = trail_for(later_sink, tmp_path)

    async def go() -> None:
        await trail.start()
        await until(lambda: trail.sink_up)
        await trail.close()
        assert spill_files(tmp_path) == [holder.path]
        holder.release()  # the worker exits without its sink coming back
        await later.start()
        await until(lambda: later.replayed == 3)
        await later.close()

    run(go)
    assert sink.ids == []
    assert later_sink.ids == ["r0000", "r0001", "r0002"]
    assert spill_files(tmp_path) == []


def test_a_crashed_process_file_with_broken_lines_is_replayed_as_far_as_it_reads(
    tmp_path: Path,
) -> None:
    left = tmp_path / "spill-99999-1.jsonl"
    good = encode_lines([event(1), event(2)])
    left.write_bytes(good + b"\x00\x00garbage\n" + encode_lines([event(3)]).rstrip(b"\n"))
    sink = MemorySink()
    trail = trail_for(sink, tmp_path)

    async def go() -> None:
        await trail.start()
        await until(lambda: trail.sink_up)
        await trail.close()

    run(go)
    assert sink.ids == ["r0001", "r0002", "r0003"]
    assert (trail.replayed, trail.rejected) == (3, 1)
    [rejected] = tmp_path.glob("rejected-*.jsonl")
    assert rejected.read_bytes() == b"\x00\x00garbage\n"
    assert not left.exists()


def test_a_sink_that_cannot_be_opened_at_start_is_retried(tmp_path: Path) -> None:
    sink = MemorySink()
    sink.failing = True
    trail = trail_for(sink, tmp_path)

    async def go() -> None:
        await trail.start()  # does not raise
        trail.submit(event(1))
        await until(lambda: trail.spilled == 1)
        sink.failing = False
        await until(lambda: trail.replayed == 1)
        await trail.close()

    run(go)
    assert sink.ids == ["r0001"]


def test_with_a_jsonl_sink(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    trail = trail_for(JsonlSink(path, max_bytes=10_000_000, rotate_s=0), tmp_path / "spill")

    async def go() -> None:
        await trail.start()
        for number in range(30):
            trail.submit(event(number))
        await trail.close()
        assert await trail.ready()  # the file can still be opened

    run(go)
    found = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert [e["request_id"] for e in found] == [f"r{n:04d}" for n in range(30)]
    assert found[0]["fingerprint"] and found[0]["normalized_sql"].startswith("SELECT * FROM")


@pytest.mark.parametrize("events", [1, 1_000])
def test_submit_costs_microseconds(tmp_path: Path, events: int) -> None:
    trail = trail_for(MemorySink(), tmp_path, queue_size=10_000)
    items = [event(number) for number in range(events)]

    async def go() -> None:
        started = time.perf_counter()
        for item in items:
            trail.submit(item)
        per_event_s = (time.perf_counter() - started) / events
        assert per_event_s < 200e-6  # about 1 µs
        await trail.start()
        await trail.close()

    run(go)


def test_a_file_left_by_a_worker_that_died_later_is_swept_up(tmp_path: Path) -> None:
    """The sink stays up here, so no recovery would look: the periodic sweep does."""
    sink = MemorySink()
    trail = trail_for(sink, tmp_path, sweep_s=0.05)
    sibling = SpillFile.create(tmp_path)  # a sibling worker, spilling while its sink was down

    async def go() -> None:
        await trail.start()
        await until(lambda: trail.sink_up)
        sibling.append(encode_lines([event(number) for number in range(4)]))
        await asyncio.sleep(0.2)
        assert trail.replayed == 0  # held by a live process: left to it
        sibling.release()  # the sibling dies
        await until(lambda: trail.replayed == 4)
        await trail.close()

    run(go)
    assert sink.ids == ["r0000", "r0001", "r0002", "r0003"]
    assert spill_files(tmp_path) == []
