"""What `sqlgateway audit` shows: time flags, the aggregations, and the renderings of events
(aligned table, JSON, JSON Lines, CSV). Pure functions, plus writers that stream events to a
text stream one at a time.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol, TextIO

import orjson

from sqlgateway.audit.event import NAMES
from sqlgateway.audit.read import Event, event_time

EventFormat = Literal["table", "json", "jsonl", "csv"]
ReportFormat = Literal["table", "json", "csv"]
TopKey = Literal["count", "total", "avg", "p95", "rows"]

#: The outcomes of someone probing the gateway: refused SQL, bad credentials, throttling.
PROBING = ("rejected", "syntax_error", "unauthorized", "forbidden", "rate_limited")
SQL_CHARS = 60

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_SECONDS = {"s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800}
_SPACE = re.compile(r"\s+")


def parse_time(text: str, now: datetime) -> datetime:
    """A `--since`/`--until` value: a duration before `now` (`30s`, `30m`, `2h`, `7d`, `1w`)
    or an ISO 8601 date or time (UTC when it has no offset).

    >>> now = datetime(2026, 11, 25, 12, tzinfo=UTC)
    >>> parse_time("2h", now).isoformat(), parse_time("2026-11-24T08:00", now).isoformat()
    ('2026-11-25T10:00:00+00:00', '2026-11-24T08:00:00+00:00')
    """
    value = text.strip()
    duration = _DURATION.fullmatch(value.lower())
    if duration is not None:
        return now - timedelta(seconds=float(duration[1]) * _SECONDS[duration[2]])
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"{text!r} is neither a duration (30m, 2h, 7d) nor an ISO 8601 time"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def clip(text: str | None, width: int) -> str:
    """`text` on one line, at most `width` characters (an ellipsis marks the cut)."""
    line = _SPACE.sub(" ", text or "").strip()
    return line if len(line) <= width else line[: width - 1] + "…"


def short_ts(ts: Any) -> str:
    """An event time to the second, UTC: `2026-11-25 15:30:00`."""
    moment = event_time({"ts": ts})
    return "" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def format_ms(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """The `fraction` percentile of `values`, interpolated like PostgreSQL's
    percentile_cont; None without values.

    >>> percentile([10, 20, 30, 40], 0.95)
    38.5
    """
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# -- the aligned table -----------------------------------------------------------------------

EVENT_HEADERS = ("ts", "actor", "outcome", "total_ms", "rows", "sql")
#: widths of the event columns (0: the last, unpadded); numbers are right-aligned
EVENT_WIDTHS = (19, 16, 17, 9, 7, 0)
_NUMERIC_EVENT_COLUMNS = frozenset({3, 4})


def event_cells(event: Event) -> tuple[str, ...]:
    """The table cells of an event: its SQL, or for requests without SQL `METHOD path` (`mcp
    <tool or method>` for MCP messages)."""
    sql = event.get("sql_received")
    if not sql and event.get("protocol") == "mcp" and event.get("operation"):
        sql = f"mcp {event['operation']}"
    elif not sql:
        sql = f"{event.get('method') or ''} {event.get('path') or ''}".strip()
    rows = event.get("rows")
    return (
        short_ts(event.get("ts")),
        clip(str(event.get("actor") or ""), EVENT_WIDTHS[1]),
        str(event.get("outcome") or ""),
        format_ms(event.get("total_ms")),
        "" if rows is None else str(rows),
        clip(sql, SQL_CHARS),
    )


def format_row(cells: Sequence[str], widths: Sequence[int], right: frozenset[int]) -> str:
    """One line of an aligned table, two spaces between columns."""
    padded = [
        cell.rjust(width) if index in right else cell.ljust(width)
        for index, (cell, width) in enumerate(zip(cells, widths, strict=True))
    ]
    return "  ".join(padded).rstrip()


def render_table(
    headers: Sequence[str], rows: Iterable[Sequence[str]], right: frozenset[int] = frozenset()
) -> str:
    """An aligned table, each column as wide as its widest cell."""
    lines = [list(headers), *(list(row) for row in rows)]
    widths = [max(len(line[index]) for line in lines) for index in range(len(headers))]
    return "".join(format_row(line, widths, right) + "\n" for line in lines)


# -- events, one at a time -------------------------------------------------------------------


def csv_cell(value: Any) -> str:
    """A CSV cell: empty for null, `true`/`false`, lists joined by commas."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(str(item) for item in value)
    return str(value)


class EventWriter(Protocol):
    def write(self, event: Event) -> None: ...

    def close(self) -> None: ...


class TableWriter:
    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._count = 0
        out.write(format_row(EVENT_HEADERS, EVENT_WIDTHS, _NUMERIC_EVENT_COLUMNS) + "\n")

    def write(self, event: Event) -> None:
        self._count += 1
        cells = event_cells(event)
        self._out.write(format_row(cells, EVENT_WIDTHS, _NUMERIC_EVENT_COLUMNS) + "\n")

    def close(self) -> None:
        if not self._count:
            self._out.write("(no matching events)\n")


class JsonArrayWriter:
    """A JSON array, one event per line, written as the events come."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._separator = "[\n"

    def write(self, event: Event) -> None:
        self._out.write(self._separator + orjson.dumps(event).decode())
        self._separator = ",\n"

    def close(self) -> None:
        self._out.write("[]\n" if self._separator == "[\n" else "\n]\n")


class JsonLinesWriter:
    def __init__(self, out: TextIO) -> None:
        self._out = out

    def write(self, event: Event) -> None:
        self._out.write(orjson.dumps(event).decode() + "\n")

    def close(self) -> None:
        pass


class CsvWriter:
    """Every event field, in `event.NAMES` order, under a header line."""

    def __init__(self, out: TextIO) -> None:
        self._csv = csv.writer(out, lineterminator="\n")
        self._csv.writerow(NAMES)

    def write(self, event: Event) -> None:
        self._csv.writerow([csv_cell(event.get(name)) for name in NAMES])

    def close(self) -> None:
        pass


def event_writer(kind: EventFormat, out: TextIO) -> EventWriter:
    writers: dict[str, Callable[[TextIO], EventWriter]] = {
        "table": TableWriter,
        "json": JsonArrayWriter,
        "jsonl": JsonLinesWriter,
        "csv": CsvWriter,
    }
    return writers[kind](out)


# -- top: queries grouped by fingerprint -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueryStats:
    fingerprint: str
    count: int
    total_ms: float
    avg_ms: float | None
    p95_ms: float | None
    rows: int
    normalized_sql: str | None


@dataclass(slots=True)
class _QueryGroup:
    normalized_sql: str | None = None
    count: int = 0
    rows: int = 0
    durations: list[float] = field(default_factory=list)


#: the QueryStats field each `--by` ranks on
_TOP_METRICS = {
    "count": "count",
    "total": "total_ms",
    "avg": "avg_ms",
    "p95": "p95_ms",
    "rows": "rows",
}


class TopQueries:
    """Events grouped by fingerprint (events without one, e.g. unparsable SQL, are left out)."""

    def __init__(self) -> None:
        self._groups: dict[str, _QueryGroup] = {}

    def add(self, event: Event) -> None:
        fingerprint = event.get("fingerprint")
        if not fingerprint:
            return
        group = self._groups.setdefault(fingerprint, _QueryGroup())
        group.count += 1
        group.normalized_sql = group.normalized_sql or event.get("normalized_sql")
        group.rows += event.get("rows") or 0
        total = event.get("total_ms")
        if total is not None:
            group.durations.append(float(total))

    def result(self, by: TopKey, limit: int) -> list[QueryStats]:
        """The `limit` largest groups by `by`, largest first (ties: by fingerprint)."""
        stats = [_stats(fingerprint, group) for fingerprint, group in self._groups.items()]
        metric = _TOP_METRICS[by]

        def key(s: QueryStats) -> tuple[float, str]:
            value: float | None = getattr(s, metric)
            return (-math.inf if value is None else -value, s.fingerprint)

        return sorted(stats, key=key)[:limit]


def _stats(fingerprint: str, group: _QueryGroup) -> QueryStats:
    total = sum(group.durations)
    p95 = percentile(group.durations, 0.95)
    return QueryStats(
        fingerprint=fingerprint,
        count=group.count,
        total_ms=round(total, 3),
        avg_ms=round(total / len(group.durations), 3) if group.durations else None,
        p95_ms=None if p95 is None else round(p95, 3),
        rows=group.rows,
        normalized_sql=group.normalized_sql,
    )


def render_top(stats: Sequence[QueryStats], kind: ReportFormat) -> str:
    if kind != "table":
        names = [f.name for f in fields(QueryStats)]
        return _render_records([asdict(s) for s in stats], kind, headers=names)
    rows = [
        (
            s.fingerprint,
            str(s.count),
            format_ms(s.total_ms),
            format_ms(s.avg_ms),
            format_ms(s.p95_ms),
            str(s.rows),
            clip(s.normalized_sql, SQL_CHARS),
        )
        for s in stats
    ]
    headers = ("fingerprint", "count", "total_ms", "avg_ms", "p95_ms", "rows", "normalized_sql")
    return render_table(headers, rows, frozenset(range(1, 6))) if rows else "(no queries)\n"


# -- rejected: who is probing ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ActorProbes:
    actor: str
    events: int
    #: outcome → count, most frequent first
    outcomes: dict[str, int]
    #: the most frequent reasons and their counts
    reasons: list[tuple[str, int]]
    first_seen: str
    last_seen: str


@dataclass(slots=True)
class _ActorGroup:
    first: tuple[datetime, str]
    last: tuple[datetime, str]
    outcomes: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)


class Probes:
    """Refused and throttled events grouped by actor."""

    def __init__(self) -> None:
        self._actors: dict[str, _ActorGroup] = {}

    def add(self, event: Event) -> None:
        moment = event_time(event)
        if moment is None:
            return
        seen = (moment, str(event.get("ts")))
        actor = str(event.get("actor") or "")
        group = self._actors.get(actor)
        if group is None:
            group = self._actors[actor] = _ActorGroup(first=seen, last=seen)
        group.first, group.last = min(group.first, seen), max(group.last, seen)
        group.outcomes[str(event.get("outcome"))] += 1
        if event.get("reason"):
            group.reasons[str(event["reason"])] += 1

    def result(self, limit: int, reasons: int = 3) -> list[ActorProbes]:
        """The `limit` actors with the most events, most first (ties: by name)."""
        probes = [
            ActorProbes(
                actor=actor,
                events=group.outcomes.total(),
                outcomes=dict(_ranked(group.outcomes)),
                reasons=_ranked(group.reasons)[:reasons],
                first_seen=group.first[1],
                last_seen=group.last[1],
            )
            for actor, group in self._actors.items()
        ]
        return sorted(probes, key=lambda p: (-p.events, p.actor))[:limit]


def _ranked(counts: Counter[str]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def render_probes(probes: Sequence[ActorProbes], kind: ReportFormat) -> str:
    if kind == "json":
        records = [
            {**asdict(p), "reasons": [{"reason": r, "count": n} for r, n in p.reasons]}
            for p in probes
        ]
        return _render_records(records, kind)
    if kind == "csv":
        flat = [
            {
                **asdict(p),
                "outcomes": " ".join(f"{o}={n}" for o, n in p.outcomes.items()),
                "reasons": " | ".join(f"{n}× {r}" for r, n in p.reasons),
            }
            for p in probes
        ]
        return _render_records(flat, kind, headers=[f.name for f in fields(ActorProbes)])
    rows = [
        (
            clip(p.actor, 24),
            str(p.events),
            ", ".join(f"{o} {n}" for o, n in p.outcomes.items()),
            short_ts(p.first_seen),
            short_ts(p.last_seen),
            clip("; ".join(f"{clip(r, 40)} ({n})" for r, n in p.reasons), SQL_CHARS),
        )
        for p in probes
    ]
    headers = ("actor", "events", "outcomes", "first_seen", "last_seen", "top_reasons")
    return render_table(headers, rows, frozenset({1})) if rows else "(no refused requests)\n"


def _render_records(
    records: list[dict[str, Any]], kind: ReportFormat, headers: Sequence[str] | None = None
) -> str:
    """Aggregated rows as a JSON array or CSV (with a header line)."""
    if kind == "json":
        return orjson.dumps(records, option=orjson.OPT_INDENT_2).decode() + "\n"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    names = list(headers) if headers is not None else list(records[0]) if records else []
    writer.writerow(names)
    for record in records:
        writer.writerow([csv_cell(record.get(name)) for name in names])
    return buffer.getvalue()
