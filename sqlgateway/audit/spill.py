"""Spill files: where audit events wait, on local disk, while the sink cannot take them.

Each process spills to a file of its own, `spill-<pid>-<hex time>.jsonl` in the spill
directory, one event per line, and holds an exclusive `flock` on it for as long as it has the
file open; the file is created under a hidden name and renamed once locked, so no other
process can lock it first. A process replays its own file once the sink answers again; the
files of processes that are gone (their lock went with them) are claimed and replayed by
whichever process looks first (`SpillFile.claim`). Lines are appended whole, or cut off again
if the disk is full; lines that are not JSON objects (a crash of the machine mid-write) are
handed back as bad lines rather than stopping the replay.

A file is read from a cursor that only moves on (`consume`) once the events read were
written; a file given up part-way (`release`) is rewritten first without what was already
written, through a new file renamed over it, so a crash leaves the old file or the new one.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sqlgateway.audit.jsonl import decode_line, encode_event

__all__ = ["SpillFile", "append_rejected", "encode_lines", "spill_files"]

SPILL_GLOB = "spill-*.jsonl"
#: How much of a file one read takes at a time (a batch of events is usually less).
READ_CHUNK_BYTES = 1 << 20


def spill_files(directory: Path) -> list[Path]:
    """The spill files in `directory`, oldest first (by modification time)."""
    found = []
    for path in directory.glob(SPILL_GLOB):
        try:
            found.append((path.stat().st_mtime_ns, path))
        except OSError:
            continue  # replayed and removed meanwhile
    return [path for _, path in sorted(found)]


def encode_lines(events: Iterable[Mapping[str, Any]]) -> bytes:
    return b"".join(encode_event(event) + b"\n" for event in events)


def append_rejected(directory: Path, lines: bytes) -> Path:
    """Append lines (events a sink refused, unreadable spill lines) to this process's file of
    rejected events, `rejected-<pid>.jsonl`, which nothing replays: kept for an operator."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / f"rejected-{os.getpid()}.jsonl"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        _write_all(fd, lines, os.fstat(fd).st_size)
    finally:
        os.close(fd)
    return path


class SpillFile:
    """One spill file, locked by this process: append at the end, read from a cursor."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd = fd
        self._size = os.fstat(fd).st_size
        self._offset = 0  # everything before it was written to the sink

    @classmethod
    def create(cls, directory: Path) -> SpillFile:
        """A new, empty file of this process in `directory` (made if missing)."""
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        name = f"spill-{os.getpid()}-{time.time_ns():x}.jsonl"
        hidden = directory / f".{name}.new"
        fd = os.open(hidden, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.rename(hidden, directory / name)
        except BaseException:
            os.close(fd)
            hidden.unlink(missing_ok=True)
            raise
        return cls(directory / name, fd)

    @classmethod
    def claim(cls, path: Path) -> SpillFile | None:
        """The file at `path`, locked for this process; None when a live process holds it or
        it is gone (replayed and removed by another process meanwhile)."""
        try:
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            # The holder may have removed it between our open and our lock.
            now_at_path = os.stat(path)
            mine = os.fstat(fd)
            if (now_at_path.st_ino, now_at_path.st_dev) != (mine.st_ino, mine.st_dev):
                raise FileNotFoundError(path)
        except (BlockingIOError, FileNotFoundError):
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        return cls(path, fd)

    @property
    def unread(self) -> bool:
        """True while some of the file is not yet written to the sink."""
        return self._offset < self._size

    def append(self, lines: bytes) -> None:
        """Append whole lines (raises OSError; then nothing of them is in the file)."""
        _write_all(self._fd, lines, self._size)
        self._size += len(lines)

    def read(self, max_lines: int) -> tuple[list[dict[str, Any]], list[bytes], int]:
        """Up to `max_lines` lines from the cursor: (events, bad lines, offset after them).

        Nothing is consumed: pass the offset to `consume` once the events are written."""
        events: list[dict[str, Any]] = []
        bad: list[bytes] = []
        base, buffer, position = self._offset, b"", 0  # buffer holds the file from `base`
        while len(events) + len(bad) < max_lines:
            newline = buffer.find(b"\n", position)
            if newline >= 0:
                line, position = buffer[position:newline], newline + 1
            elif base + len(buffer) < self._size:
                more = os.pread(self._fd, READ_CHUNK_BYTES, base + len(buffer))
                if not more:
                    break
                base, buffer, position = base + position, buffer[position:] + more, 0
                continue
            elif position < len(buffer):  # a last line without its newline
                line, position = buffer[position:], len(buffer)
            else:
                break
            if line.strip():
                found = decode_line(line)
                if found is None:
                    bad.append(line + b"\n")
                else:
                    events.append(found)
        return events, bad, base + position

    def consume(self, offset: int) -> None:
        self._offset = offset

    def sync(self) -> None:
        os.fsync(self._fd)

    def remove(self) -> None:
        """Delete the file (everything in it is written) and let go of it."""
        os.ftruncate(self._fd, 0)  # a process that opened it before the unlink reads nothing
        self.path.unlink(missing_ok=True)
        os.close(self._fd)

    def release(self) -> None:
        """Let go of the file for a later replay, keeping only what is unread; deleted if
        nothing is left."""
        if not self.unread:
            self.remove()
            return
        try:
            if self._offset:
                self._rewrite_unread()
            else:
                os.fsync(self._fd)
        finally:
            os.close(self._fd)

    def _rewrite_unread(self) -> None:
        hidden = self.path.with_name(f".{self.path.name}.new")
        fd = os.open(hidden, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            offset = self._offset
            while offset < self._size:
                chunk = os.pread(self._fd, READ_CHUNK_BYTES, offset)
                if not chunk:
                    break
                _write_all(fd, chunk, offset - self._offset)
                offset += len(chunk)
            os.fsync(fd)
            os.rename(hidden, self.path)
        except BaseException:
            hidden.unlink(missing_ok=True)
            raise
        finally:
            os.close(fd)


def _write_all(fd: int, data: bytes, size: int) -> None:
    """Write `data` at offset `size` (the file's end); on failure cut the file back to
    `size`, so no half line is left behind."""
    view = memoryview(data)
    offset = size
    try:
        while view:
            written = os.pwrite(fd, view, offset)
            view, offset = view[written:], offset + written
    except OSError:
        os.ftruncate(fd, size)
        raise
