"""What the audit trail writes to (`Sink`), and how one batch reaches it (`write_batch`):
whole, or, when the sink refuses some events as such, event by event with the refused ones
set aside in the spill directory's rejected file."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sqlgateway.audit.fingerprint import add_fingerprints
from sqlgateway.audit.spill import append_rejected, encode_lines

__all__ = [
    "AuditEventError",
    "Event",
    "Sink",
    "Written",
    "keep_rejected",
    "with_fingerprints",
    "write_batch",
]

_log = logging.getLogger("sqlgateway.audit")

Event = dict[str, Any]


class AuditEventError(Exception):
    """Raised by a sink that refuses the events themselves (a value a column cannot hold);
    writing them again cannot succeed, unlike after a connection failure."""


class Sink(Protocol):
    """Where events end up. `write` stores all of a batch durably or raises (nothing of it
    stored, or, for a sink that deduplicates by `request_id`, possibly all of it). `stored`
    says which request ids it already holds among those a replay cut short by a crash may
    have written since `since_s` (a sink that ignores repeats may answer none)."""

    async def open(self) -> None: ...
    async def write(self, events: Sequence[Event]) -> None: ...
    async def ping(self) -> None: ...
    async def stored(self, request_ids: Collection[str], since_s: float) -> set[str]: ...
    async def close(self) -> None: ...


@dataclass
class Written:
    """What became of a batch: `written` events are in the sink; `refused` ones the sink
    refused as such (kept in the rejected file unless also in `lost`); `rest` were not
    written because the sink failed with `failure`."""

    written: int = 0
    refused: int = 0
    lost: list[Event] = field(default_factory=list)
    rest: list[Event] = field(default_factory=list)
    failure: Exception | None = None


async def write_batch(sink: Sink, events: list[Event], spill_dir: Path) -> Written:
    """Write `events` in one call; if the sink refuses some as such, one by one, keeping the
    refused ones in the rejected file. Never raises but CancelledError."""
    try:
        await sink.write(events)
    except AuditEventError:
        pass
    except Exception as exc:
        return Written(rest=events, failure=exc)
    else:
        return Written(written=len(events))
    result = Written()
    for number, one in enumerate(events):
        try:
            await sink.write([one])
        except AuditEventError as exc:
            result.refused += 1
            what = f"event {one.get('request_id')} refused by the sink ({exc})"
            if not keep_rejected(spill_dir, encode_lines([one]), what):
                result.lost.append(one)
        except Exception as exc:
            result.rest, result.failure = events[number:], exc
            return result
        else:
            result.written += 1
    return result


def keep_rejected(spill_dir: Path, lines: bytes, what: str) -> bool:
    """Set `lines` aside in the rejected file (nothing replays it) and say so; False if
    they could not be kept."""
    try:
        path = append_rejected(spill_dir, lines)
    except OSError as err:
        _log.error("audit: %s, and lost: %s", what, err)
        return False
    _log.error("audit: %s; kept in %s", what, path)
    return True


#: Events fingerprinted on the event loop between two yields to it (about 20 µs each for a
#: typical query): the loop never stalls for more than a fraction of a millisecond. A worker
#: thread would hold the GIL for whole batches (7 ms for 300 events) and show in the p99 of
#: the requests being served meanwhile (bench/: audit scenario).
FINGERPRINT_SLICE = 16
#: Longer SQL is fingerprinted in a worker thread: it can take milliseconds.
FINGERPRINT_INLINE_MAX_CHARS = 4_000


async def with_fingerprints(events: list[Event]) -> None:
    """Add `fingerprint` and `normalized_sql` to the events that lack them."""
    pending = [item for item in events if "fingerprint" not in item]
    for start in range(0, len(pending), FINGERPRINT_SLICE):
        chunk = pending[start : start + FINGERPRINT_SLICE]
        long = [item for item in chunk if _sql_chars(item) > FINGERPRINT_INLINE_MAX_CHARS]
        if long:
            await asyncio.to_thread(add_fingerprints, long)
        add_fingerprints(chunk)
        if start + FINGERPRINT_SLICE < len(pending):
            await asyncio.sleep(0)


def _sql_chars(event: Event) -> int:
    sql = event.get("sql_executed") or event.get("sql_received")
    return len(sql) if isinstance(sql, str) else 0
