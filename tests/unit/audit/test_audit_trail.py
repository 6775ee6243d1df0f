"""AuditTrail: durable commits with group commit, counters, spilling while the sink fails,
failing closed (or open) when nothing can take an event, replay (also after a crash), shutdown.

The sink here is a list in memory that fails on demand (no database involved); the
PostgreSQL sink is exercised for real in tests/integration/audit/test_audit_postgres.py.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Collection, Coroutine, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest

from sqlgateway.audit.jsonl import JsonlSink
from sqlgateway.audit.spill import SpillFile, encode_lines, spill_files
from sqlgateway.audit.trail import AuditEventError, AuditTrail, Event
from sqlgateway.errors import UnavailableError


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

    async def stored(self, request_ids: Collection[str], since_s: float) -> set[str]:
        return set(self.ids) & set(request_ids)

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


def event_lines(spill: Path) -> list[bytes]:
    """The event lines of a spill file (after its header)."""
    return [line for line in spill.read_bytes().splitlines() if not line.startswith(b"#")]


def trail_for(sink: Any, spill_dir: Path, **overrides: Any) -> AuditTrail:
    options: dict[str, Any] = {
        "commit_max_events": 10,
        "commit_window_ms": 5,
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


def test_commit_returns_once_the_event_is_in_the_sink(tmp_path: Path) -> None:
    sink = MemorySink()
    trail = trail_for(sink, tmp_path, commit_window_ms=0)

    async def go() -> None:
        await trail.start()
        for number in range(3):
            await trail.commit(event(number))
            assert sink.ids[-1] == f"r{number:04d}"
        await trail.close()

    run(go)
    assert (trail.written, trail.spilled, trail.dropped) == (3, 0, 0)


def test_commits_within_the_window_share_one_write_up_to_the_batch_limit(tmp_path: Path) -> None:
    sink = MemorySink()
    trail = trail_for(sink, tmp_path, commit_window_ms=50, commit_max_events=8)

    async def go() -> None:
        await trail.start()
        started = time.monotonic()
        await asyncio.gather(*(trail.commit(event(number)) for number in range(5)))
        assert 0.04 < time.monotonic() - started < 1.0  # one window, then one write
        started = time.monotonic()
        await asyncio.gather(*(trail.commit(event(number)) for number in range(5, 21)))
        assert time.monotonic() - started < 0.04  # full batches do not wait out the window
        await trail.close()

    run(go)
    assert [len(batch) for batch in sink.batches] == [5, 8, 8]


def test_a_cancelled_commit_still_writes_its_event(tmp_path: Path) -> None:
    sink = MemorySink()
    trail = trail_for(sink, tmp_path, commit_window_ms=100)

    async def go() -> None:
        await trail.start()
        waiting = asyncio.ensure_future(trail.commit(event(1)))
        await asyncio.sleep(0.01)
        waiting.cancel()  # the client went away while its event was being written
        await until(lambda: trail.written == 1)
        await trail.close()

    run(go)
    assert sink.ids == ["r0001"]


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
        assert len(event_lines(spill)) == 30
        assert await trail.readiness() == "spilling"
        sink.failing = False
        await until(lambda: trail.sink_up)
        for number in range(40, 50):
            trail.submit(event(number))
        await until(lambda: trail.written + trail.replayed == 50)
        assert await trail.readiness() == "ok"
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
    found = mine.read(4)
    assert [e["request_id"] for e in found.events] == ["r0000", "r0001", "r0002", "r0003"]
    assert found.bad == []
    mine.consume(found.end)
    mine.release()
    claimed = SpillFile.claim(mine.path)
    assert claimed is not None
    found = claimed.read(100)
    assert [e["request_id"] for e in found.events] == [f"r{n:04d}" for n in range(4, 10)]
    claimed.consume(found.end)
    claimed.release()  # everything read: removed
    assert spill_files(tmp_path) == []
    assert SpillFile.claim(mine.path) is None


def test_events_handed_over_before_start_wait_in_the_spill_file(tmp_path: Path) -> None:
    sink = MemorySink()
    trail = trail_for(sink, tmp_path)

    async def go() -> None:
        for number in range(5):
            trail.submit(event(number))
        await trail.commit(event(5))
        assert trail.spilled == 6
        await trail.start()
        await until(lambda: trail.replayed == 6)
        await trail.close()

    run(go)
    assert sink.ids == [f"r{n:04d}" for n in range(6)]
    assert spill_files(tmp_path) == []


def _unwritable(tmp_path: Path) -> Path:
    """A spill directory that cannot be made: a file stands where its parent should be."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    return blocker / "spill"


def test_with_the_sink_down_and_no_spill_the_trail_fails_closed(tmp_path: Path) -> None:
    sink = MemorySink()
    sink.failing = True
    trail = trail_for(sink, _unwritable(tmp_path), retry_min_s=0.05, retry_max_s=0.05)

    async def go() -> None:
        await trail.start()
        assert not trail.accepting
        with pytest.raises(UnavailableError) as refused:
            trail.admit()
        assert "audit trail" in refused.value.message and refused.value.hint
        assert int(refused.value.headers["Retry-After"]) >= 1
        with pytest.raises(UnavailableError):
            await trail.commit(event(1))  # admitted earlier: the answer must not leave
        trail.submit(event(2))  # never raises
        await until(lambda: trail.dropped == 2)
        assert await trail.readiness() == "unavailable"
        sink.failing = False  # the sink is back: events can be stored again
        await until(lambda: trail.accepting)
        trail.admit()
        await trail.commit(event(3))
        assert await trail.readiness() == "ok"
        await trail.close()

    run(go)
    assert sink.ids == ["r0003"]
    assert (trail.dropped, trail.unaudited) == (2, 0)


def test_failing_open_the_answer_goes_and_is_counted_unaudited(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sink = MemorySink()
    sink.failing = True
    trail = trail_for(sink, _unwritable(tmp_path), fail_open=True)

    async def go() -> None:
        await trail.start()
        assert not trail.accepting
        trail.admit()  # never refuses
        await trail.commit(event(1))
        await trail.commit(event(2))
        await trail.close()

    run(go)
    assert (trail.unaudited, trail.dropped) == (2, 2)
    logged = [r.getMessage() for r in caplog.records if "without an audit event" in r.getMessage()]
    assert len(logged) == 2 and "request_id=r0001" in logged[0]


def test_a_spill_directory_that_recovers_is_noticed_while_the_sink_stays_down(
    tmp_path: Path,
) -> None:
    sink = MemorySink()
    sink.failing = True
    spill_dir = _unwritable(tmp_path)
    trail = trail_for(sink, spill_dir, retry_min_s=0.02, retry_max_s=0.02)

    async def go() -> None:
        await trail.start()
        assert not trail.accepting
        spill_dir.parent.unlink()  # the operator freed the disk
        await until(lambda: trail.accepting)
        await trail.commit(event(1))  # durable in the spill file
        assert trail.spilled == 1
        assert await trail.readiness() == "spilling"
        await trail.close()

    run(go)
    assert len(spill_files(spill_dir)) == 1


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


def test_close_writes_everything_pending_without_waiting_out_the_window(tmp_path: Path) -> None:
    sink = MemorySink()
    trail = trail_for(sink, tmp_path, commit_window_ms=1_000, commit_max_events=1_000)

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
    assert len(event_lines(spill)) == 15


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


def _left_by_a_dead_process(spill_dir: Path, events: list[Event]) -> SpillFile:
    """A spill file as a process killed just now leaves it: written, never released (its
    lock goes with its descriptor); returns the file, claimed by this process, to shape it."""
    spill = SpillFile.create(spill_dir)
    spill.append(encode_lines(events))
    spill.sync()
    return spill


def test_a_torn_last_line_in_a_spill_file_is_reported_and_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spill = _left_by_a_dead_process(tmp_path, [event(1), event(2)])
    torn = encode_lines([event(3)])[:25]  # killed in the middle of this write
    spill.append(torn)
    os.close(spill._fd)  # the process is gone
    sink = MemorySink()
    trail = trail_for(sink, tmp_path)

    async def go() -> None:
        await trail.start()
        await until(lambda: trail.replayed == 2 and not trail._backlog.files)
        await trail.commit(event(4))
        await trail.close()

    run(go)
    assert sink.ids == ["r0001", "r0002", "r0004"]
    assert trail.rejected == 1
    [rejected] = tmp_path.glob("rejected-*.jsonl")
    assert rejected.read_bytes() == torn + b"\n"
    [report] = [r.getMessage() for r in caplog.records if "torn last line" in r.getMessage()]
    assert "(25 bytes)" in report and str(spill.path) in report
    assert spill_files(tmp_path) == []


def test_a_replay_cut_short_by_a_crash_resumes_where_it_stopped_and_writes_nothing_twice(
    tmp_path: Path,
) -> None:
    """A process replayed 10 events to the JSON Lines file and recorded it, wrote 10 more
    and was killed before recording those: the next start writes only the last 10."""
    audit_file = tmp_path / "audit.jsonl"
    spill = _left_by_a_dead_process(tmp_path / "spill", [event(n) for n in range(30)])
    found = spill.read(10)
    spill.mark(found.end)  # the first 10 were replayed, and that was recorded
    audit_file.write_bytes(encode_lines(event(n) for n in range(20)))  # 10 more, unrecorded
    os.close(spill._fd)
    sink = JsonlSink(audit_file, max_bytes=10_000_000, rotate_s=0)
    trail = trail_for(sink, tmp_path / "spill")

    async def go() -> None:
        await trail.start()
        await until(lambda: not trail._backlog.files)
        await trail.close()

    run(go)
    ids = [orjson.loads(line)["request_id"] for line in audit_file.read_bytes().splitlines()]
    assert ids == [f"r{n:04d}" for n in range(30)]
    assert trail.replayed == 10
    assert spill_files(tmp_path / "spill") == []


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
        assert await trail.readiness() == "ok"  # the file can still be opened

    run(go)
    found = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert [e["request_id"] for e in found] == [f"r{n:04d}" for n in range(30)]
    assert found[0]["fingerprint"] and found[0]["normalized_sql"].startswith("SELECT * FROM")


@pytest.mark.parametrize("events", [1, 1_000])
def test_submit_costs_microseconds(tmp_path: Path, events: int) -> None:
    trail = trail_for(MemorySink(), tmp_path, commit_max_events=10_000)
    items = [event(number) for number in range(events)]

    async def go() -> None:
        await trail.start()
        started = time.perf_counter()
        for item in items:
            trail.submit(item)
        per_event_s = (time.perf_counter() - started) / events
        assert per_event_s < 200e-6  # about 1 µs
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
