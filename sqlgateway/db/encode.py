"""PostgreSQL values → JSON, within a character budget.

Pure: nothing here touches the network. `ResultEncoder` turns rows (sequences of values as
asyncpg decodes them, with numeric and interval decoded as text) into one JSON body that is
never longer than the budget and only ever contains whole rows:

    {"sql"?: str, "columns": [...], "rows": [[...], ...], "row_count": n, "truncated": b,
     "notice": str|null, "elapsed_ms": float}

`sql` (the statement that ran) leads the body when the caller asks for it.

Lengths are counted in UTF-8 bytes of the exact body sent; a character is at least one byte,
so the body never has more characters than the budget either.
"""

from __future__ import annotations

import datetime as dt
import decimal
import ipaddress
import math
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from sqlgateway.errors import RejectedError

Converter = Callable[[Any], Any]

#: Room kept at the end of the body for row_count, truncated, notice and elapsed_ms (and,
#: on top, the caller's own notice). `encode` never leaves more than this plus one row of
#: unused budget.
SUFFIX_RESERVE_CHARS = 512

_NON_FINITE_NUMERIC = {"NaN": "NaN", "Infinity": "Infinity", "-Infinity": "-Infinity"}
#: Types whose asyncpg values orjson already encodes correctly and compactly.
_NATIVE_TYPES = frozenset({"int2", "int4", "int8", "oid", "bool", "uuid", "time"})
_JSON_TYPES = frozenset({"json", "jsonb"})
_TIMESTAMP_TYPES = frozenset({"timestamp", "timestamptz"})


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str


def clip_text(text: str, max_chars: int) -> str:
    """`text` cut to `max_chars` characters with a visible marker saying how long it was."""
    if len(text) <= max_chars:
        return text
    return clip_head(text, len(text), max_chars)


def clip_head(head: str, total_chars: int, max_chars: int) -> str:
    """The start of a text `total_chars` long, of which only `head` is at hand, cut to
    `max_chars` characters with the marker `clip_text` writes."""
    shown = head[:max_chars]
    return f"{shown}…[clipped {len(shown)}/{total_chars} chars]"


def _float(value: float) -> Any:
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def _float_or_same(value: Any) -> Any:
    return _float(value) if isinstance(value, float) else value


def _numeric(value: str | decimal.Decimal) -> Any:
    # asyncpg hands numeric over as PostgreSQL's own text, so no precision is lost on the way.
    text = value if isinstance(value, str) else str(value)
    special = _NON_FINITE_NUMERIC.get(text)
    return special if special is not None else orjson.Fragment(text)


def _timestamp(value: dt.datetime) -> Any:
    # asyncpg decodes PostgreSQL's 'infinity' and '-infinity' as the extreme datetimes
    naive = value.replace(tzinfo=None)
    if naive == dt.datetime.max:
        return "infinity"
    if naive == dt.datetime.min:
        return "-infinity"
    return value


def _date(value: dt.date) -> Any:
    if value == dt.date.max:
        return "infinity"
    if value == dt.date.min:
        return "-infinity"
    return value


def _fallback(value: Any) -> Any:
    """orjson's `default`: everything orjson cannot encode by itself."""
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, decimal.Decimal):
        return orjson.Fragment(str(value)) if value.is_finite() else _numeric(str(value))
    if isinstance(value, bytes | bytearray | memoryview):
        return "\\x" + bytes(value).hex()
    if isinstance(value, dt.timedelta):
        return _iso_duration(value)
    if isinstance(value, dt.time):  # with tzinfo: orjson refuses those
        return value.isoformat()
    if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return str(value)
    if isinstance(value, ipaddress.IPv4Network | ipaddress.IPv6Network):
        return str(value)
    if isinstance(value, ipaddress.IPv4Interface | ipaddress.IPv6Interface):
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if hasattr(value, "isempty") and hasattr(value, "lower_inc"):  # asyncpg.Range
        if value.isempty:
            return "empty"
        lower = "" if value.lower is None else _scalar_text(value.lower)
        upper = "" if value.upper is None else _scalar_text(value.upper)
        return f"{'[' if value.lower_inc else '('}{lower},{upper}{']' if value.upper_inc else ')'}"
    if hasattr(value, "items") and hasattr(value, "keys"):  # composite → asyncpg.Record
        return dict(value.items())
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    return str(value)


def _scalar_text(value: Any) -> str:
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    return str(value)


def _iso_duration(delta: dt.timedelta) -> str:
    seconds = delta.total_seconds()
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86_400)
    return f"{sign}P{int(days)}DT{rest:g}S"


def _map_array(value: Any, element: Converter) -> Any:
    """Arrays may nest (and asyncpg may hand over a tuple); convert every element."""
    if isinstance(value, list | tuple):
        return [_map_array(item, element) for item in value]
    return element(value)


def converter_for(type_name: str, type_kind: str, max_cell_chars: int) -> Converter | None:
    """The per-cell conversion a column of this PostgreSQL type needs, or None if orjson's own
    encoding is already right (ints, booleans, uuids, dates…). Decided once per column."""

    def clipped(value: Any) -> Any:
        if value is None or len(value) <= max_cell_chars:
            return value
        return clip_text(value, max_cell_chars)

    if type_kind == "array":
        element_type = type_name.removesuffix("[]").removeprefix("_")
        element = converter_for(element_type, "scalar", max_cell_chars) or _float_or_same
        return lambda v: None if v is None else _map_array(v, element)
    if type_name == "numeric":
        return lambda v: None if v is None else _numeric(v)
    if type_name in ("float4", "float8"):
        return lambda v: None if v is None else _float(v)
    if type_name in _TIMESTAMP_TYPES:
        return lambda v: None if v is None else _timestamp(v)
    if type_name == "timetz":  # orjson refuses times with a zone
        return lambda v: None if v is None else v.isoformat()
    if type_name == "date":
        return lambda v: None if v is None else _date(v)
    if type_name in _JSON_TYPES:
        # PostgreSQL's json text is valid JSON: pass it through unparsed unless it must be clipped.
        return lambda v: (
            None if v is None else orjson.Fragment(v) if len(v) <= max_cell_chars else clipped(v)
        )
    if type_name == "bytea":
        return lambda v: None if v is None else clipped("\\x" + v.hex())
    if type_name in _NATIVE_TYPES:
        return None
    # text, varchar, enums, domains, xml, user-defined types…: strings may need clipping.
    return lambda v: clipped(v) if isinstance(v, str) else v


def _dump(value: Any) -> bytes:
    return orjson.dumps(value, default=_fallback)


def _fitted(text: str, max_bytes: int) -> str | None:
    """`text`, cut with "…" until its JSON takes at most `max_bytes` (None if nothing fits)."""
    most = len(text)
    while (
        most > 0 and len(orjson.dumps(text if most == len(text) else text[:most] + "…")) > max_bytes
    ):
        most = most * 3 // 4
    if most <= 0:
        return None
    return text if most == len(text) else text[:most] + "…"


#: An answer sorted DESC whose first row has a NULL in the sort column (PostgreSQL's default
#: for DESC is NULLS FIRST): the model would report the NULL rows as the largest.
NULLS_FIRST_NOTE = (
    "The first row has no {name}: ORDER BY … DESC puts NULLs first in PostgreSQL; for the "
    "largest values first write ORDER BY … DESC NULLS LAST, or filter … IS NOT NULL."
)


@dataclass(frozen=True, slots=True)
class EncodedResult:
    body: bytes
    row_count: int
    truncated: bool


class ResultEncoder:
    """Accumulates encoded rows until the next one would not fit, then renders the body.

    Usage: `add(row)` for each row while it returns True; then `finish(elapsed_ms, more=…)`.
    """

    def __init__(
        self,
        columns: Sequence[Column],
        converters: Sequence[Converter | None],
        *,
        max_chars: int,
        max_rows: int | None,
        has_order_by: bool,
        executed_sql: str | None = None,
        notice: str | None = None,
        nulls_first: tuple[int, str] | None = None,
        if_empty: str | None = None,
    ) -> None:
        self._notice_text = _fitted(notice, max_chars // 4) if notice else None
        # the column sorted DESC with its NULLs first: said when the first row has one there
        self._nulls_first = nulls_first
        self._nulls_note = NULLS_FIRST_NOTE.format(name=nulls_first[1][:64]) if nulls_first else ""
        self._nulls_text: str | None = None
        # said when the answer is empty: no row, or one row of a single 0 (a count)
        self._if_empty = _fitted(if_empty, max_chars // 8) if if_empty else None
        self._first_alone: Any = None
        # room for what the rows may add to the notice
        later_room = sum(len(orjson.dumps(t)) + 1 for t in (self._nulls_note, self._if_empty) if t)
        self._convert = [(i, c) for i, c in enumerate(converters) if c is not None]
        self._max_chars = max_chars
        self._max_rows = max_rows
        self._has_order_by = has_order_by
        echo = b'"sql":' + orjson.dumps(executed_sql) + b"," if executed_sql is not None else b""
        self._prefix = (
            b"{"
            + echo
            + b'"columns":'
            + orjson.dumps([{"name": c.name, "type": c.type} for c in columns])
            + b',"rows":['
        )
        #: The encoded rows, comma-separated, in one buffer: orjson's bytes each hold a 4 KiB
        #: buffer however short the row, so a list of them cost ~4 KiB a row (40 MiB for the
        #: 10,000 one-number rows a response holds).
        self._rows = bytearray()
        self._count = 0
        self._notice_room = len(orjson.dumps(self._notice_text)) + 1 if self._notice_text else 0
        self._notice_room += later_room
        self._used = len(self._prefix) + SUFFIX_RESERVE_CHARS + self._notice_room
        self.overflow = False  # a row was left out for lack of room or rows
        if self._used > max_chars:
            raise RejectedError(
                f"the {len(columns)} column names alone do not fit in a response",
                construct="columns",
                hint="select fewer columns",
            )

    @property
    def row_count(self) -> int:
        return self._count

    def add(self, row: Iterable[Any], rendered: Mapping[int, str] | None = None) -> bool:
        """Encode `row`; False (and the row left out) once the budget or max_rows is reached.

        `rendered`: cells given as their final text (values PostgreSQL sent clipped, with
        their marker), by column index; they skip their column's conversion."""
        if self._max_rows is not None and self._count >= self._max_rows:
            self.overflow = True
            return False
        values = list(row)
        if not self._count and len(values) == 1:
            self._first_alone = values[0]
        if not self._count and self._nulls_first is not None:
            index = self._nulls_first[0]
            if index < len(values) and values[index] is None:
                self._nulls_text = self._nulls_note
        for index, convert in self._convert:
            values[index] = convert(values[index])
        if rendered:
            for index, text in rendered.items():
                values[index] = text
        encoded = _dump(values)
        cost = len(encoded) + (1 if self._count else 0)
        if self._used + cost > self._max_chars:
            if self._count:
                self.overflow = True
                return False
            squeezed = self._squeeze(values)
            if squeezed is None:
                self.overflow = True
                return False
            encoded, cost = squeezed, len(squeezed)
        if self._count:
            self._rows += b","
        self._rows += encoded
        self._count += 1
        self._used += cost
        return True

    def leave_out(self) -> None:
        """A row is left out without being looked at (it cannot fit): no more rows."""
        self.overflow = True

    def _squeeze(self, values: list[Any]) -> bytes | None:
        """The first row alone is over the budget: clip its largest cells until it fits
        (None if even a row of clipped markers cannot fit, e.g. thousands of columns)."""
        room = self._max_chars - self._used
        # copied out of orjson's bytes, which keep a 4 KiB buffer each (6 MB for 1,600 cells)
        texts = [bytes(memoryview(_dump(value))) for value in values]
        per_cell = room // max(1, len(values))
        while per_cell >= 0:
            cells = [
                clip_text(text.decode(), per_cell)
                if len(text) > per_cell
                else orjson.Fragment(text)
                for text in texts
            ]
            encoded = _dump(cells)
            if len(encoded) <= room:
                return encoded
            per_cell = per_cell // 2 if per_cell > 1 else -1
        return None

    def finish(self, elapsed_ms: float) -> EncodedResult:
        """The body. `notice` is the caller's notice, then the truncation notice, if any."""
        alone = self._first_alone
        zero = type(alone) is not bool and isinstance(alone, int | decimal.Decimal) and alone == 0
        empty = self._count == 0 or (self._count == 1 and zero)
        parts = [
            self._notice_text,
            self._nulls_text,
            self._if_empty if empty else None,
            self._notice() if self.overflow else None,
        ]
        notice = " ".join(part for part in parts if part) or None
        suffix = (
            b'],"row_count":'
            + str(self._count).encode()
            + b',"truncated":'
            + (b"true" if self.overflow else b"false")
            + b',"notice":'
            + orjson.dumps(notice)
            + b',"elapsed_ms":'
            + orjson.dumps(round(elapsed_ms, 2))
            + b"}"
        )
        if len(suffix) > SUFFIX_RESERVE_CHARS + self._notice_room:  # pragma: no cover
            raise AssertionError("suffix reserve too small")
        body = b"".join((self._prefix, self._rows, suffix))
        return EncodedResult(body=body, row_count=self._count, truncated=self.overflow)

    def _notice(self) -> str:
        n = self._count
        if self._max_rows is not None and n >= self._max_rows:
            why = f"max_rows={self._max_rows} was reached"
        else:
            why = f"the response is limited to {self._max_chars} characters"
        text = (
            f"Returned {n} rows; more rows exist but {why}. Aggregate (COUNT, SUM, GROUP BY), "
            "add a narrower WHERE, select fewer columns, or page with ORDER BY <unique key> "
            f"LIMIT {max(n, 1)} OFFSET {n}."
        )
        if not self._has_order_by:
            text += " The query has no ORDER BY, so which rows were returned is arbitrary."
        return text
