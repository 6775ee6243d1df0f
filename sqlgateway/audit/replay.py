"""Replaying spill files to the sink, one batch at a time, so that new events never wait for
a whole file (the trail alternates a replayed batch with a batch of new events).

After each batch the file records how far it was replayed (`SpillFile.mark`), durably: a
process killed in the middle of a replay leaves a file whose next reader (the next start, or
a sibling worker's sweep) starts there. Only the batch that was being written may have
reached the sink already; the first batch read from a claimed file is therefore checked
against the sink (`Sink.stored`) and what it holds is not written again (the PostgreSQL sink
ignores repeats anyway: request ids are unique there). Lines that are not events (a torn last
line, garbage after a crash of the machine) are reported, kept in the rejected file and
skipped; they never stop the replay.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

from sqlgateway.audit.sink import Sink, keep_rejected, with_fingerprints, write_batch
from sqlgateway.audit.spill import SpillFile, spill_files

__all__ = ["Backlog", "Replayed", "replay_batch"]

_log = logging.getLogger("sqlgateway.audit")

#: How much earlier than a claimed file's last change a cut-short replay may have written:
#: a margin for file systems with coarse timestamps.
MTIME_MARGIN_S = 2.0


class Backlog:
    """Spill files of processes that are gone (or of an earlier run), claimed by this one
    and waiting to be replayed, oldest first."""

    def __init__(self, spill_dir: Path) -> None:
        self.spill_dir = spill_dir
        self.files: list[SpillFile] = []
        #: per claimed file, since when its first batch may already be in the sink
        self.check_since: dict[Path, float] = {}

    def claim_left(self, own: SpillFile | None) -> None:
        """Claim every spill file no live process holds (but this process's own)."""
        held = {spill.path for spill in self.files}
        if own is not None:
            held.add(own.path)
        try:
            paths = spill_files(self.spill_dir)
        except OSError as exc:
            _log.warning("audit: cannot list the spill directory %s: %s", self.spill_dir, exc)
            return
        for path in paths:
            if path in held:
                continue
            try:
                claimed = SpillFile.claim(path)
            except OSError as exc:
                _log.warning("audit: cannot open the spill file %s: %s", path, exc)
                continue
            if claimed is None:
                continue  # its process is alive and replays it itself, or it is gone
            if not claimed.unread:
                claimed.remove()
                continue
            _log.info("audit: replaying %s, left by a process that is gone", path)
            self.files.append(claimed)
            self.check_since[path] = claimed.modified_s - MTIME_MARGIN_S


@dataclass
class Replayed:
    """What one replayed batch did: events written, refused (kept aside), lost, already in
    the sink (skipped); the sink's failure, if it failed (then nothing was consumed)."""

    written: int = 0
    refused: int = 0
    lost: int = 0
    repeats: int = 0
    failure: Exception | None = None


async def replay_batch(
    sink: Sink, spill: SpillFile, max_events: int, spill_dir: Path, since_s: float | None
) -> Replayed:
    """Write the next batch of `spill` to `sink` and record that it was. With `since_s`,
    events the sink already holds (written since then) are skipped."""
    found = spill.read(max_events)
    step = Replayed()
    if found.bad:
        step.refused += len(found.bad)
        if found.torn:
            what = (
                f"a torn last line ({len(found.bad[-1]) - 1} bytes) in {spill.path}: its "
                "process was killed while writing it, before anyone was answered on it"
            )
        else:
            what = f"{len(found.bad)} unreadable line(s) in {spill.path}"
        keep_rejected(spill_dir, b"".join(found.bad), what)
    events = found.events
    if events and since_s is not None:
        ids = [event["request_id"] for event in events if isinstance(event.get("request_id"), str)]
        already = await sink.stored(ids, since_s)
        if already:
            step.repeats = len(already)
            events = [event for event in events if event.get("request_id") not in already]
            _log.warning(
                "audit: %d event(s) of %s were written before its last replay was cut short; "
                "not written again",
                step.repeats,
                spill.path,
            )
    if events:
        await with_fingerprints(events)
        result = await write_batch(sink, events, spill_dir)
        step.written, step.lost = result.written, len(result.lost)
        step.refused += result.refused
        if result.failure is not None:
            step.failure = result.failure
            return step
    try:
        await asyncio.to_thread(spill.mark, found.end)
    except OSError as exc:
        spill.consume(found.end)
        _log.warning("audit: cannot record the replay's progress in %s: %s", spill.path, exc)
    return step
