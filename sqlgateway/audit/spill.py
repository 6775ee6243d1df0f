"""Spill files: where audit events wait, on local disk, while the sink cannot take them.

Each process spills to a file of its own, `spill-<pid>-<hex time>.jsonl` in the spill
directory, and holds an exclusive `flock` on it for as long as it has the file open; the file
is created under a hidden name and renamed once locked, so no other process can lock it
first. A process replays its own file once the sink answers again; the files of processes
that are gone (their lock went with them) are claimed and replayed by whichever process looks
first (`SpillFile.claim`).

The file starts with a fixed-width header line, `#sqlgateway-spill replayed_to=<offset>`,
rewritten in place (and fsynced) after each replayed batch (`mark`): a process killed in the
middle of a replay leaves a file whose next reader starts where it stopped, so at most the
one batch being written then may reach the sink twice (the PostgreSQL sink ignores it, the
JSON Lines sink looks for it; see `trail`). Files without the header (written by an older
gateway) are read from the start.

Events follow, one per line. Lines are appended whole, or cut off again if the disk is full;
`sync` makes them durable. A line that is not a JSON object comes back as bad rather than
stopping the replay: a torn last line (the process was killed in the middle of writing it,
so nobody was answered on its strength) or garbage after a crash of the machine.
"""

from __future__ import annotations

import fcntl
import os
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlgateway.audit.jsonl import decode_line, encode_event, sync_directory

__all__ = [
    "SpillFile",
    "SpillRead",
    "append_rejected",
    "encode_lines",
    "probe_directory",
    "spill_files",
]

SPILL_GLOB = "spill-*.jsonl"
#: How much of a file one read takes at a time (a batch of events is usually less).
READ_CHUNK_BYTES = 1 << 20
#: The header line: its offset field has a fixed width, so it is rewritten in place.
HEADER_PREFIX = b"#sqlgateway-spill replayed_to="
HEADER_DIGITS = 20
HEADER_BYTES = len(HEADER_PREFIX) + HEADER_DIGITS + 1
_HEADER = re.compile(re.escape(HEADER_PREFIX) + rb"(\d{%d})\n" % HEADER_DIGITS)
#: What `probe_directory` writes: a page, as the smallest append would need.
PROBE_BYTES = 4096


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
    rejected events, `rejected-<pid>.jsonl`, which nothing replays: kept for an operator.
    Durable when it returns."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / f"rejected-{os.getpid()}.jsonl"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        _write_all(fd, lines, os.fstat(fd).st_size)
        os.fsync(fd)
    finally:
        os.close(fd)
    return path


def probe_directory(directory: Path) -> None:
    """Raise OSError unless a file of PROBE_BYTES can be written and fsynced in `directory`
    (made if missing): whether a spill would succeed now (a full or read-only disk fails)."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / f".probe-{os.getpid()}-{time.time_ns():x}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        _write_all(fd, b"\n" * PROBE_BYTES, 0)
        os.fsync(fd)
    finally:
        os.close(fd)
        path.unlink(missing_ok=True)


@dataclass
class SpillRead:
    """What one `SpillFile.read` found: events, bad lines, and the offset after them."""

    events: list[dict[str, Any]] = field(default_factory=list)
    #: lines that are not JSON objects, each with its newline
    bad: list[bytes] = field(default_factory=list)
    #: the last of `bad` is the file's last line and has no newline: a write cut short
    torn: bool = False
    end: int = 0


class SpillFile:
    """One spill file, locked by this process: append at the end, read from a cursor."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd = fd
        self._size = os.fstat(fd).st_size
        head = os.pread(fd, HEADER_BYTES, 0)
        found = _HEADER.fullmatch(head)
        self._header = found is not None
        #: where the events start, and where the unread ones start
        self._start = HEADER_BYTES if self._header else 0
        self._offset = max(int(found.group(1)), self._start) if found else 0

    @classmethod
    def create(cls, directory: Path) -> SpillFile:
        """A new file of this process in `directory` (made if missing), holding its header."""
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        name = f"spill-{os.getpid()}-{time.time_ns():x}.jsonl"
        hidden = directory / f".{name}.new"
        fd = os.open(hidden, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            _write_all(fd, _header(HEADER_BYTES), 0)
            os.rename(hidden, directory / name)
            sync_directory(directory)  # the file's name is durable too
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

    @property
    def records_progress(self) -> bool:
        """False for a file without the header (an older gateway's): `mark` cannot record."""
        return self._header

    @property
    def modified_s(self) -> float:
        """When the file last changed (seconds since the epoch)."""
        return os.fstat(self._fd).st_mtime

    def append(self, lines: bytes) -> None:
        """Append whole lines (raises OSError; then nothing of them is in the file)."""
        _write_all(self._fd, lines, self._size)
        self._size += len(lines)

    def sync(self) -> None:
        """Make what was appended durable (raises OSError)."""
        os.fsync(self._fd)

    def cut(self, size: int) -> None:
        """Drop everything after `size` (appended lines whose sync failed)."""
        os.ftruncate(self._fd, size)
        self._size = size

    @property
    def size(self) -> int:
        return self._size

    def read(self, max_lines: int) -> SpillRead:
        """Up to `max_lines` lines from the cursor. Nothing is consumed: pass `end` to
        `consume` (or `mark`) once the events are written."""
        found = SpillRead()
        base, buffer, position = self._offset, b"", 0  # buffer holds the file from `base`
        while len(found.events) + len(found.bad) < max_lines:
            newline = buffer.find(b"\n", position)
            last = False
            if newline >= 0:
                line, position = buffer[position:newline], newline + 1
            elif base + len(buffer) < self._size:
                more = os.pread(self._fd, READ_CHUNK_BYTES, base + len(buffer))
                if not more:
                    break
                base, buffer, position = base + position, buffer[position:] + more, 0
                continue
            elif position < len(buffer):  # a last line without its newline
                line, position, last = buffer[position:], len(buffer), True
            else:
                break
            if line.strip(b" \t\r\n"):
                event = decode_line(line)
                if event is None:
                    found.bad.append(line + b"\n")
                    found.torn = last
                else:
                    found.events.append(event)
        found.end = base + position
        return found

    def consume(self, offset: int) -> None:
        self._offset = offset

    def mark(self, offset: int) -> None:
        """`consume(offset)` and record it in the header, durably: a later reader of the
        file (after a crash) starts there. Raises OSError."""
        self._offset = offset
        if self._header:
            os.pwrite(self._fd, _header(offset), 0)
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
            if self._offset > self._start or not self._header:
                self._rewrite_unread()
            else:
                os.fsync(self._fd)
        finally:
            os.close(self._fd)

    def _rewrite_unread(self) -> None:
        """Replace the file by a new one: a header, then the unread lines."""
        hidden = self.path.with_name(f".{self.path.name}.new")
        fd = os.open(hidden, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            _write_all(fd, _header(HEADER_BYTES), 0)
            offset, size = self._offset, HEADER_BYTES
            while offset < self._size:
                chunk = os.pread(self._fd, READ_CHUNK_BYTES, offset)
                if not chunk:
                    break
                _write_all(fd, chunk, size)
                offset, size = offset + len(chunk), size + len(chunk)
            os.fsync(fd)
            os.rename(hidden, self.path)
            sync_directory(self.path.parent)
        except BaseException:
            hidden.unlink(missing_ok=True)
            raise
        finally:
            os.close(fd)


def _header(offset: int) -> bytes:
    return HEADER_PREFIX + str(offset).zfill(HEADER_DIGITS).encode() + b"\n"


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
