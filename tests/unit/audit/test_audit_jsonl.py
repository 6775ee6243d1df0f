"""JsonlSink: one event per line, rotation by size and by age, several writers on one file."""

from __future__ import annotations

import asyncio
import os
import stat
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from sqlgateway.audit.jsonl import JsonlSink, decode_line, encode_event, rotated_files

START = 1_782_907_200.0  # 2026-07-01T12:00:00Z


class Clock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def events(first: int, count: int, sql: str = "SELECT 1") -> list[dict[str, Any]]:
    return [
        {"request_id": f"r{number}", "sql_received": sql} for number in range(first, first + count)
    ]


def lines(paths: list[Path]) -> list[dict[str, Any]]:
    found = []
    for path in paths:
        for line in path.read_bytes().splitlines():
            found.append(orjson.loads(line))
    return found


def ids(found: list[dict[str, Any]]) -> list[str]:
    return [event["request_id"] for event in found]


def test_events_are_appended_one_per_line_to_a_private_file(tmp_path: Path) -> None:
    path = tmp_path / "audit" / "audit.jsonl"
    sink = JsonlSink(path, max_bytes=1_000_000, rotate_s=0)

    async def run() -> None:
        await sink.open()
        await sink.write(events(0, 3))
        await sink.write([])
        await sink.write(events(3, 2))
        await sink.ping()
        await sink.close()

    asyncio.run(run())
    assert ids(lines([path])) == [f"r{n}" for n in range(5)]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert rotated_files(path) == [path]


def test_rotation_by_size_keeps_every_line_once_in_order(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    clock = Clock()
    sink = JsonlSink(path, max_bytes=1_000, rotate_s=0, clock=clock)
    for number in range(40):
        clock.now += 0.5
        sink.write_sync(b"".join(encode_event(e) + b"\n" for e in events(number * 3, 3, "x" * 40)))
    sink.close_sync()
    files = rotated_files(path)
    assert len(files) > 5 and files[-1] == path
    assert all(file.stat().st_size <= 1_000 for file in files)
    assert ids(lines(files)) == [f"r{n}" for n in range(120)]
    # named by the time of rotation, which here came at the fifth write, 2.5 s in
    assert files[0].name == "audit.jsonl.20260701T120002.500000Z"
    assert files == [*sorted(files[:-1], key=lambda p: p.name), path]


def test_a_batch_larger_than_max_bytes_still_lands_whole(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    sink = JsonlSink(path, max_bytes=1_000, rotate_s=0)
    sink.write_sync(b'{"request_id":"small"}\n')
    big = b"".join(encode_event(e) + b"\n" for e in events(0, 50, "y" * 100))
    sink.write_sync(big)
    sink.close_sync()
    assert [file.read_bytes() for file in rotated_files(path)] == [b'{"request_id":"small"}\n', big]


def test_rotation_by_age_with_an_injected_clock(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    clock = Clock()
    sink = JsonlSink(path, max_bytes=10_000_000, rotate_s=3_600, clock=clock)
    sink.write_sync(b'{"request_id":"a"}\n')
    clock.now += 3_599
    sink.write_sync(b'{"request_id":"b"}\n')
    assert rotated_files(path) == [path]
    clock.now += 1
    sink.write_sync(b'{"request_id":"c"}\n')  # the file is an hour old: rotated first
    clock.now += 1_800
    sink.write_sync(b'{"request_id":"d"}\n')
    sink.close_sync()
    files = rotated_files(path)
    assert [file.name for file in files] == ["audit.jsonl.20260701T130000.000000Z", "audit.jsonl"]
    assert [ids(lines([file])) for file in files] == [["a", "b"], ["c", "d"]]


def test_the_age_is_shared_by_every_writer_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    clock = Clock()
    first = JsonlSink(path, max_bytes=10_000_000, rotate_s=60, clock=clock)
    first.write_sync(b'{"request_id":"a"}\n')
    clock.now += 59
    second = JsonlSink(path, max_bytes=10_000_000, rotate_s=60, clock=clock)  # a later worker
    second.write_sync(b'{"request_id":"b"}\n')
    clock.now += 1
    second.write_sync(b'{"request_id":"c"}\n')  # 60 s since `first` started the file
    first.write_sync(b'{"request_id":"d"}\n')  # follows the rename to the new file
    first.close_sync()
    second.close_sync()
    assert [ids(lines([file])) for file in rotated_files(path)] == [["a", "b"], ["c", "d"]]


def test_no_age_limit_when_rotate_s_is_zero(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    clock = Clock()
    sink = JsonlSink(path, max_bytes=10_000_000, rotate_s=0, clock=clock)
    sink.write_sync(b'{"request_id":"a"}\n')
    clock.now += 10 * 86_400
    sink.write_sync(b'{"request_id":"b"}\n')
    sink.close_sync()
    assert rotated_files(path) == [path]


def test_several_writers_rotating_one_file_lose_and_mix_nothing(tmp_path: Path) -> None:
    """Separate open files and locks, as separate worker processes have."""
    path = tmp_path / "audit.jsonl"
    writers, batches, per_batch = 4, 50, 5

    def work(writer: int) -> None:
        sink = JsonlSink(path, max_bytes=4_000, rotate_s=0)
        for batch in range(batches):
            first = (writer * batches + batch) * per_batch
            sink.write_sync(
                b"".join(encode_event(e) + b"\n" for e in events(first, per_batch, "z" * 50))
            )
        sink.close_sync()

    threads = [threading.Thread(target=work, args=(writer,)) for writer in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    files = rotated_files(path)
    assert len(files) > 10
    found = ids(lines(files))
    assert sorted(found) == sorted(f"r{n}" for n in range(writers * batches * per_batch))
    for writer in range(writers):  # each writer's own lines stay in its order
        first = writer * batches * per_batch
        mine = [int(i[1:]) for i in found if first <= int(i[1:]) < first + batches * per_batch]
        assert mine == sorted(mine)


def test_a_file_moved_away_by_someone_else_is_recreated(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    sink = JsonlSink(path, max_bytes=10_000_000, rotate_s=0)
    sink.write_sync(b'{"request_id":"a"}\n')
    os.rename(path, tmp_path / "moved.jsonl")  # e.g. logrotate
    sink.write_sync(b'{"request_id":"b"}\n')
    sink.close_sync()
    assert ids(lines([path])) == ["b"]


def test_every_event_encodes_to_one_line() -> None:
    odd = {"request_id": "r", "tags": {1, 2}, "lone": "\ud800", "nl": "a\nb"}
    line = encode_event(odd)
    assert b"\n" not in line
    decoded = decode_line(line)
    assert decoded is not None and decoded["nl"] == "a\nb" and decoded["request_id"] == "r"
    assert decode_line(b"[1, 2]") is None
    assert decode_line(b'{"request_id": "cut') is None


def test_a_torn_last_line_left_by_a_killed_writer_is_ended_and_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "audit.jsonl"
    whole = b"".join(encode_event(e) + b"\n" for e in events(0, 2))
    torn = encode_event(events(2, 1)[0])[:17]  # a writer killed in the middle of its write
    path.write_bytes(whole + torn)
    sink = JsonlSink(path, max_bytes=10_000_000, rotate_s=0)
    sink.write_sync(b"".join(encode_event(e) + b"\n" for e in events(3, 2)))
    sink.write_sync(b"".join(encode_event(e) + b"\n" for e in events(5, 1)))
    sink.close_sync()
    data = path.read_bytes()
    assert data.startswith(whole + torn + b"\n")  # kept, on a line of its own
    readable = [decode_line(line) for line in data.splitlines()]
    assert [e["request_id"] for e in readable if e] == ["r0", "r1", "r3", "r4", "r5"]
    assert readable.count(None) == 1
    [report] = [r.getMessage() for r in caplog.records if "torn line" in r.getMessage()]
    assert "(17 bytes" in report


def test_stored_finds_request_ids_in_files_changed_since(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    clock = Clock()
    sink = JsonlSink(path, max_bytes=300, rotate_s=0, clock=clock)
    for number in range(12):
        sink.write_sync(encode_event({"ts": "t", "request_id": f"r{number}"}) + b"\n")
    nested = {"request_id": "outer", "parameters": {"request_id": "r99"}}
    sink.write_sync(encode_event(nested) + b"\n")
    sink.close_sync()
    assert len(rotated_files(path)) > 1
    wanted = ["r0", "r5", "r11", "r99", "missing"]

    async def found(since_s: float) -> set[str]:
        return await sink.stored(wanted, since_s)

    assert asyncio.run(found(0)) == {"r0", "r5", "r11"}  # a nested id does not count
    assert asyncio.run(found(time.time() + 60)) == set()  # no file changed since
