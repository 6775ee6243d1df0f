"""The JSON Lines audit sink: one event per line, appended to a file that rotates.

Several worker processes may append to the same file. Every write (and the rotation before
it) happens under an exclusive `flock` on a lock file beside it (`audit.jsonl.lock`), so
lines never interleave and only one process renames the file; a process whose open file was
renamed by another notices (the path's inode changed) and reopens the path. The lock file
also records when the current file was started, so every process rotates it at the same age.

Rotated files are named `audit.jsonl.<UTC timestamp>` (`20260701T120000.000000Z`), which sorts
by time; `rotated_files` lists them, oldest first, with the current file last. Rotation
happens when a write would take the file past `max_bytes`, or when the first write after
`rotate_s` seconds comes: a quiet file is not rotated until something is written to it.
Files and the directory are created private (0600, 0700): events hold SQL text.

A write is durable when it returns: the lines are appended under the lock, then the file is
fdatasync'ed (outside the lock, so other workers append meanwhile), and a file's name is made
durable by an fsync of its directory when the file is created or rotated. A write that fails
(a full disk) is cut off again, so nothing of it stays. A writer killed in the middle of a
write leaves a torn last line (whose events nobody was answered on); the next write finds
it, under the lock, reports it and ends it with a newline, so that its own first line is not
glued to it: readers skip the torn line as unreadable (`audit.read`).
"""

from __future__ import annotations

import asyncio
import fcntl
import glob
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

__all__ = ["JsonlSink", "decode_line", "encode_event", "rotated_files", "sync_directory"]

_log = logging.getLogger("sqlgateway.audit")

_ROTATED_SUFFIX = re.compile(r"\.\d{8}T\d{6}\.\d{6}Z(-\d+)?")


def encode_event(event: Mapping[str, Any]) -> bytes:
    """One event as one line of JSON, without the newline.

    Never fails on a value: what orjson cannot encode becomes its `str()`, and text orjson
    refuses (lone surrogates) is written with the standard library's ASCII escapes.
    """
    try:
        return orjson.dumps(event, default=str)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return json.dumps(event, default=str, ensure_ascii=True, separators=(",", ":")).encode()


def decode_line(line: bytes) -> dict[str, Any] | None:
    """The event on one line, or None if the line is not a JSON object."""
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        try:
            value = json.loads(line)
        except ValueError:
            return None
    return value if isinstance(value, dict) else None


def rotated_files(path: Path) -> list[Path]:
    """The audit files of `path`: rotated ones oldest first, then `path` itself if it exists."""
    rotated = sorted(
        (
            candidate
            for candidate in path.parent.glob(glob.escape(path.name) + ".*")
            if _ROTATED_SUFFIX.fullmatch(candidate.name[len(path.name) :])
        ),
        key=lambda candidate: _sort_key(candidate.name[len(path.name) + 1 :]),
    )
    return [*rotated, path] if path.exists() else rotated


def sync_directory(directory: Path) -> None:
    """fsync a directory: the names created or renamed in it are durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


#: An event's id where `encode_event` puts it: first, or second after `ts` (never nested).
_REQUEST_ID = re.compile(rb'^\{(?:"ts":"[^"\\]*",)?"request_id":"([^"\\]*)"', re.MULTILINE)
SCAN_CHUNK_BYTES = 4 << 20


def stored_request_ids(paths: Sequence[Path], wanted: Collection[str]) -> set[str]:
    """Which of `wanted` the JSON Lines files at `paths` hold."""
    want = {request_id.encode() for request_id in wanted}
    found: set[str] = set()
    for path in paths:
        try:
            handle = path.open("rb")
        except FileNotFoundError:
            continue
        with handle:
            rest = b""
            while chunk := handle.read(SCAN_CHUNK_BYTES):
                data = rest + chunk
                cut = data.rfind(b"\n") + 1
                data, rest = data[:cut], data[cut:]
                found.update(m.decode() for m in _REQUEST_ID.findall(data) if m in want)
            found.update(m.decode() for m in _REQUEST_ID.findall(rest) if m in want)
    return found


def _sort_key(suffix: str) -> tuple[str, int]:
    stamp, _, number = suffix.partition("-")
    return stamp, int(number or 0)


class JsonlSink:
    """Appends events to `path` as JSON Lines, rotating at `max_bytes` and `rotate_s` (0: no
    age limit). `clock` gives the time in seconds since the epoch (tests inject their own)."""

    def __init__(
        self,
        path: Path,
        max_bytes: int,
        rotate_s: float,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self._max_bytes = max_bytes
        self._rotate_s = rotate_s
        self._clock = clock
        self._lock_path = path.with_name(path.name + ".lock")
        self._fd: int | None = None
        self._lock_fd: int | None = None
        # write() runs in a worker thread; close() may come from another.
        self._mutex = threading.Lock()

    async def open(self) -> None:
        await asyncio.to_thread(self.open_sync)

    async def write(self, events: Sequence[Mapping[str, Any]]) -> None:
        """Append all of `events` or none of them (a failed write is cut off again)."""
        if events:
            payload = b"".join(encode_event(event) + b"\n" for event in events)
            await asyncio.to_thread(self.write_sync, payload)

    async def ping(self) -> None:
        """Raise OSError unless the file is open (or can be opened) and its directory writable."""
        await asyncio.to_thread(self._check)

    async def stored(self, request_ids: Collection[str], since_s: float) -> set[str]:
        """Which of `request_ids` the audit files changed since `since_s` (seconds since the
        epoch) already hold: what a replay cut short by a crash may have written."""

        def find() -> set[str]:
            recent = []
            for path in rotated_files(self.path):
                try:
                    if path.stat().st_mtime >= since_s:
                        recent.append(path)
                except FileNotFoundError:
                    continue
            return stored_request_ids(recent, request_ids)

        return await asyncio.to_thread(find)

    async def close(self) -> None:
        await asyncio.to_thread(self.close_sync)

    def open_sync(self) -> None:
        with self._mutex:
            self._open()

    def write_sync(self, payload: bytes) -> None:
        """Append `payload` (whole lines) under the lock, rotating first if it is time, and
        make it durable; on failure nothing of it stays in the file."""
        with self._mutex:
            self._open()
            assert self._lock_fd is not None
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            try:
                fd = self._current()
                size = os.fstat(fd).st_size
                if not size:
                    self._started(fd)  # a new file: its age counts from now
                elif size + len(payload) > self._max_bytes or self._expired(fd):
                    fd = self._rotate(fd)
                    size = 0
                else:
                    size = self._end_torn_line(fd, size)
                _append(fd, payload, size)
            finally:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            try:
                os.fdatasync(fd)
            except OSError:
                _cut(fd, size, size + len(payload))
                raise

    def close_sync(self) -> None:
        with self._mutex:
            if self._fd is not None:
                try:
                    os.fsync(self._fd)
                finally:
                    os.close(self._fd)
                    self._fd = None
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None

    def _open(self) -> None:
        if self._lock_fd is None:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        if self._fd is None:
            self._fd = _open_append(self.path)

    def _check(self) -> None:
        with self._mutex:
            self._open()
        if not os.access(self.path.parent, os.W_OK):
            raise PermissionError(f"the audit directory {self.path.parent} is not writable")

    def _current(self) -> int:
        """The descriptor of the file now at `path`, reopened if another process rotated it."""
        assert self._fd is not None
        try:
            now_at_path = os.stat(self.path)
        except FileNotFoundError:
            now_at_path = None
        mine = os.fstat(self._fd)
        if now_at_path is None or (now_at_path.st_ino, now_at_path.st_dev) != (
            mine.st_ino,
            mine.st_dev,
        ):
            os.close(self._fd)
            self._fd = None
            self._fd = _open_append(self.path)
        return self._fd

    def _end_torn_line(self, fd: int, size: int) -> int:
        """If the file does not end with a newline (a writer was killed in the middle of a
        write), report the torn line and end it with one; the file's size then."""
        if os.pread(fd, 1, size - 1) == b"\n":
            return size
        tail = os.pread(fd, min(size, 1 << 16), max(size - (1 << 16), 0))
        torn = len(tail) - tail.rfind(b"\n") - 1
        _append(fd, b"\n", size)
        _log.warning(
            "audit file %s ends in a torn line (%d bytes: a writer was killed in the middle "
            "of a write, before anyone was answered on it); ended it with a newline, readers "
            "skip it as unreadable",
            self.path,
            torn,
        )
        return size + 1

    def _expired(self, fd: int) -> bool:
        if self._rotate_s <= 0:
            return False
        return self._clock() - self._started(fd) >= self._rotate_s

    def _started(self, fd: int) -> float:
        """When the file open as `fd` was started, as the lock file records it (recorded as
        now when it records another file: one that predates the lock file)."""
        assert self._lock_fd is not None
        inode = os.fstat(fd).st_ino
        recorded = os.pread(self._lock_fd, 64, 0).split()
        if len(recorded) == 2 and recorded[0] == str(inode).encode():
            try:
                return float(recorded[1])
            except ValueError:
                pass
        started = self._clock()
        self._record(inode, started)
        return started

    def _record(self, inode: int, started: float) -> None:
        assert self._lock_fd is not None
        data = f"{inode} {started!r}\n".encode()
        os.ftruncate(self._lock_fd, 0)
        os.pwrite(self._lock_fd, data, 0)

    def _rotate(self, fd: int) -> int:
        now = self._clock()
        stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        target = self.path.with_name(f"{self.path.name}.{stamp}")
        number = 0
        while target.exists():
            number += 1
            target = self.path.with_name(f"{self.path.name}.{stamp}-{number}")
        os.fsync(fd)
        os.rename(self.path, target)
        os.close(fd)
        self._fd = None
        self._fd = _open_append(self.path)  # fsyncs the directory: the rename too
        self._record(os.fstat(self._fd).st_ino, now)
        return self._fd


def _open_append(path: Path) -> int:
    """Open `path` for appending (and reading its last line), created if missing (its name
    then made durable)."""
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        if os.fstat(fd).st_size == 0:  # new (or empty): the directory entry must last too
            sync_directory(path.parent)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _cut(fd: int, size: int, expected: int) -> None:
    """Cut the file back to `size` if it is still `expected` long (nobody appended since)."""
    try:
        if os.fstat(fd).st_size == expected:
            os.ftruncate(fd, size)
    except OSError:
        pass


def _append(fd: int, payload: bytes, size: int) -> None:
    """Write all of `payload`; on failure (a full disk) cut the file back to `size`, so no
    half line is left for the next write to run into."""
    view = memoryview(payload)
    try:
        while view:
            written = os.write(fd, view)
            view = view[written:]
    except OSError:
        os.ftruncate(fd, size)
        raise
