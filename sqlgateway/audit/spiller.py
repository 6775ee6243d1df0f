"""This process's spill file, as the audit trail writes it: events appended and fsynced before
the requests waiting on them go on, a failure remembered (`ok`) and reported once, the
directory probed while it fails so that the trail knows when it can take events again."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from sqlgateway.audit.sink import Event
from sqlgateway.audit.spill import SpillFile, encode_lines, probe_directory

__all__ = ["Spiller"]

_log = logging.getLogger("sqlgateway.audit")


class Spiller:
    """Appends events to this process's spill file in `spill_dir` (created when first needed)."""

    def __init__(self, spill_dir: Path) -> None:
        self.spill_dir = spill_dir
        #: this process's spill file, while it has one
        self.file: SpillFile | None = None
        #: the last spill (or probe of the directory) succeeded
        self.ok = True
        #: events written to the spill file since start
        self.spilled = 0

    async def append(self, events: list[Event]) -> bool:
        """Append `events` and fsync (in a worker thread); False if that fails (nothing of
        them stays in the file)."""
        try:
            spill, size = self._write(events)
            try:
                await asyncio.to_thread(spill.sync)
            except OSError:
                spill.cut(size)
                raise
        except OSError as exc:
            self._failed(exc)
            return False
        return self._done(events)

    def append_now(self, events: list[Event]) -> bool:
        """`append` on the calling thread, for when no writer runs (before start, after
        close): blocks for one fsync."""
        try:
            spill, size = self._write(events)
            try:
                spill.sync()
            except OSError:
                spill.cut(size)
                raise
        except OSError as exc:
            self._failed(exc)
            return False
        return self._done(events)

    async def probe(self) -> bool:
        """Whether a spill would succeed now (remembered in `ok`)."""
        try:
            await asyncio.to_thread(probe_directory, self.spill_dir)
        except OSError as exc:
            self._failed(exc)
            return False
        if not self.ok:
            _log.warning("audit: the spill directory %s can be written again", self.spill_dir)
        self.ok = True
        return True

    def _write(self, events: list[Event]) -> tuple[SpillFile, int]:
        """Append the lines (not yet durable): the file, and its size before them."""
        if self.file is None:
            self.file = SpillFile.create(self.spill_dir)
        size = self.file.size
        self.file.append(encode_lines(events))
        return self.file, size

    def _done(self, events: list[Event]) -> bool:
        self.ok = True
        self.spilled += len(events)
        return True

    def _failed(self, exc: OSError) -> None:
        if self.ok:
            _log.error(
                "audit: cannot write the spill directory %s (%s: %s)",
                self.spill_dir,
                type(exc).__name__,
                exc,
            )
        self.ok = False
