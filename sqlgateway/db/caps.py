"""Caps on every value PostgreSQL sends: the SQL that runs wraps the approved statement in
gateway-made SQL that limits each output column server-side.

A value larger than the response could show never crosses the wire: the gateway's memory per
request is bounded by the response budget whatever the SQL builds (a 300 MB `repeat`, a
`json_agg` of a whole table). The approved statement is used as it is, once, as the body of a
CTE; around it, the gateway writes::

    WITH _sqlgateway_rows AS NOT MATERIALIZED (
    <the approved statement>
    )
    SELECT *, NULL FROM _sqlgateway_rows WHERE false
    UNION ALL
    SELECT c1, CASE WHEN NOT _over AND octet_length(c2) <= 10000 THEN c2 END, …,
           CASE WHEN _over THEN '{}'::text[] ELSE ARRAY[<clip of c2>, …] END
    FROM (SELECT *, sum(<row cost>) OVER (ROWS UNBOUNDED PRECEDING) > 190000 AS _over
          FROM _sqlgateway_rows AS _sqlgateway_rows(c1, c2, …)) AS _sqlgateway_sized

- Column by column (`Cap`): fixed-size types (integers, dates, enums of the catalog, …) pass
  as they are. Every other value passes in its own type when it is small enough (so it keeps
  its exact encoding: numeric digits, JSON inline, arrays as arrays); a larger one comes as
  NULL, and its clip (`<length>:<first characters>`, of its text form) comes in the last
  column instead: the encoder shows it clipped with the usual marker and its true length.
  Text, bytea and JSON pass up to max_cell_chars, which is all the encoder would show of them
  anyway; arrays, composites and ranges up to the response budget.
- Row by row: a running sum of what the capped values of the rows so far cost (`_over`) stops
  the values once twice the response budget has been sent. A row that could still fit in the
  response never reaches it, so the rows that are cut are rows the encoder would leave out:
  it stops at the first one. The capped values of a whole result thus cost at most twice the
  budget, however many rows each round trip fetches.
- The first branch of the UNION never runs; it makes the statement's description carry the
  approved statement's own column names, number and types (a different count is an error).
  So a wrapper remembered from an earlier query of the same shape is checked by the very
  round trip that prepares it: point lookups pay no second describe (`CapsCache`).

Only gateway-made text is added: names c1…cN, constants, built-in functions. The statement's
own column names never enter the SQL (duplicate, empty-looking or hostile names are fine).
"""

from __future__ import annotations

import enum
import re
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlgateway.db.encode import ResultEncoder, clip_head

#: The CTE holding the approved statement, and its sized view with the `_over` flag.
ROWS = "_sqlgateway_rows"
SIZED = "_sqlgateway_sized"
#: The capped values of a whole result cost at most this many response budgets.
RESULT_BUDGETS = 2
#: One round trip fetches at most this many response budgets of uncapped (fixed-size) data.
BATCH_BUDGETS = 8
#: A capped column's share of a row never goes below this (thousands of columns).
MIN_SHARE_CHARS = 64
#: What a value costs in the gateway besides its characters (Python object, record slot).
CELL_OVERHEAD_CHARS = 48
#: PostgreSQL's limit on the columns of a query; the wrapper adds one.
MAX_COLUMNS = 1664

#: Fixed-size built-in types (pg_catalog) and the longest JSON text of one of their values.
_BOUNDED_CHARS: dict[str, int] = {
    "bool": 5,
    "int2": 6,
    "int4": 11,
    "int8": 20,
    "oid": 10,
    "xid": 10,
    "xid8": 20,
    "cid": 10,
    "tid": 23,
    "float4": 16,
    "float8": 25,
    "money": 32,
    "date": 14,
    "time": 17,
    "timetz": 23,
    "timestamp": 30,
    "timestamptz": 36,
    "interval": 80,
    "uuid": 38,
    "inet": 45,
    "cidr": 45,
    "macaddr": 19,
    "macaddr8": 25,
    "char": 6,
    "name": 66,
    "pg_lsn": 19,
    "point": 52,
    "lseg": 108,
    "box": 106,
    "line": 78,
    "circle": 80,
    "void": 2,
    "regclass": 260,
    "regtype": 260,
    "regproc": 260,
    "regnamespace": 130,
    "regrole": 130,
    "regcollation": 260,
    "regconfig": 260,
    "regdictionary": 260,
    "int4range": 27,
    "int8range": 45,
    "daterange": 31,
    "tsrange": 65,
    "tstzrange": 77,
}
_HEAD = f"WITH {ROWS} AS NOT MATERIALIZED (\n"
_TEXT_TYPES = frozenset({"text", "varchar", "bpchar"})
_CATALOG = "pg_catalog"


class Cap(enum.Enum):
    """How the executed SQL limits one column."""

    BOUNDED = "bounded"  # fixed size: as it is
    TEXT = "text"  # text, varchar, char(n): bytes counted, first characters kept
    BYTEA = "bytea"  # bytes counted, first bytes kept (shown as \x + hex)
    SCALAR = "scalar"  # numeric, json, jsonb, xml, user-defined types…: through their text
    STRUCTURED = "structured"  # arrays, composites, ranges: through their text, up to the budget


class PgType(Protocol):
    """What asyncpg tells of a column's type (asyncpg.types.Type)."""

    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def schema(self) -> str: ...


def cap_for(pg_type: PgType) -> Cap:
    """The cap of a column of `pg_type` (PostgreSQL describes domains by their base type)."""
    kind, name = pg_type.kind, pg_type.name
    builtin = pg_type.schema == _CATALOG
    if kind == "range":
        return Cap.BOUNDED if builtin and name in _BOUNDED_CHARS else Cap.STRUCTURED
    if kind != "scalar" or (builtin and name == "record"):
        return Cap.STRUCTURED
    if builtin and name in _BOUNDED_CHARS:
        return Cap.BOUNDED
    if builtin and name in _TEXT_TYPES:
        return Cap.TEXT
    if builtin and name == "bytea":
        return Cap.BYTEA
    return Cap.SCALAR


@dataclass(frozen=True, slots=True)
class Budget:
    """The response's limits the caps are derived from (settings of the same names)."""

    max_response_chars: int
    max_cell_chars: int


@dataclass(frozen=True, slots=True)
class _Capped:
    """SQL and limits of one capped column, `c{position + 1}` in the wrapper."""

    position: int
    cap: Cap
    fits: int  # the value passes when its size (bytes of bytea, else characters) is at most this
    head: int  # characters (bytes for bytea) of a larger value that are sent

    @property
    def column(self) -> str:
        return f"c{self.position + 1}"

    def size(self) -> str:
        if self.cap is Cap.TEXT or self.cap is Cap.BYTEA:
            return f"octet_length({self.column})"  # from the header: no detoasting
        return f"length(({self.column})::text)"

    def value(self) -> str:
        return f"CASE WHEN NOT _over AND {self.size()} <= {self.fits} THEN {self.column} END"

    def clip(self) -> str:
        if self.cap is Cap.BYTEA:
            total = f"2 + 2 * {self.size()}"
            head = f"encode(substring({self.column} FROM 1 FOR {self.head}), 'hex')"
        elif self.cap is Cap.TEXT:
            total = f"length({self.column})"
            head = f"substr({self.column}, 1, {self.head})"
        else:
            total = self.size()
            head = f"substr(({self.column})::text, 1, {self.head})"
        return f"CASE WHEN {self.size()} > {self.fits} THEN ({total})::text || ':' || {head} END"

    def cost(self) -> str:
        return f"least(coalesce({self.size()}, 0), {self.fits})"


@dataclass(frozen=True)
class Caps:
    """What the executed SQL caps, column by column, and how its rows reach the encoder.

    Built from the column types of the approved statement; `wrapped` is False when every
    column has a fixed size (the statement then runs as it is)."""

    caps: tuple[Cap, ...]
    budget: Budget
    _capped: tuple[_Capped, ...] = field(init=False, repr=False, compare=False)
    _tail: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        capped = [i for i, cap in enumerate(self.caps) if cap is not Cap.BOUNDED]
        result_chars = RESULT_BUDGETS * self.budget.max_response_chars
        share = max(result_chars // max(1, len(capped)), MIN_SHARE_CHARS)
        columns = []
        for position in capped:
            cap = self.caps[position]
            if cap is Cap.STRUCTURED:
                fits = min(self.budget.max_response_chars, share)
                head = min(self.budget.max_cell_chars, share)
            else:
                fits = head = min(self.budget.max_cell_chars, share)
            if cap is Cap.BYTEA:  # shown as \x and two hex digits a byte
                fits, head = max(0, (fits - 2) // 2), max(1, (head - 1) // 2)
            columns.append(_Capped(position, cap, fits, head))
        object.__setattr__(self, "_capped", tuple(columns))
        object.__setattr__(self, "_tail", self._render_tail(result_chars) if columns else "")

    @classmethod
    def of(cls, types: Sequence[PgType], budget: Budget) -> Caps:
        return cls(tuple(cap_for(t) for t in types), budget)

    @property
    def wrapped(self) -> bool:
        return bool(self._capped)

    @property
    def width(self) -> int:
        """Columns of the approved statement (the wrapped one has one more)."""
        return len(self.caps)

    def sql(self, statement: str) -> str:
        """The SQL to run for `statement` (itself when nothing needs a cap)."""
        return _HEAD + statement + self._tail if self._capped else statement

    @property
    def statement_offset(self) -> int:
        """Where the approved statement starts in `sql(…)`."""
        return len(_HEAD) if self._capped else 0

    def _render_tail(self, result_chars: int) -> str:
        names = ", ".join(f"c{i + 1}" for i in range(len(self.caps)))
        by_position = {c.position: c for c in self._capped}
        values = ", ".join(
            by_position[i].value() if i in by_position else f"c{i + 1}"
            for i in range(len(self.caps))
        )
        clips = ", ".join(c.clip() for c in self._capped)
        cost = " + ".join(c.cost() for c in self._capped)
        return (
            f"\n)\nSELECT *, NULL FROM {ROWS} WHERE false\nUNION ALL\n"
            f"SELECT {values}, CASE WHEN _over THEN '{{}}'::text[] ELSE ARRAY[{clips}] END\n"
            f"FROM (SELECT *, sum({cost}) OVER (ROWS UNBOUNDED PRECEDING) > {result_chars} "
            f"AS _over FROM {ROWS} AS {ROWS}({names})) AS {SIZED}"
        )

    def too_wide(self) -> bool:
        """The wrapper would need more columns than PostgreSQL allows."""
        return self.wrapped and len(self.caps) + 1 > MAX_COLUMNS

    def feed(self, encoder: ResultEncoder, batch: Sequence[Any]) -> bool:
        """Give `batch`'s rows to `encoder`; False once it wants no more."""
        if not self._capped:
            return all(encoder.add(record) for record in batch)
        width = len(self.caps)
        for record in batch:
            clips = record[width]
            if not clips:  # `_over`: the response was full long before this row
                encoder.leave_out()
                return False
            if clips.count(None) == len(clips):
                accepted = encoder.add(record[:width])
            else:
                values, rendered = self._unclip(record[:width], clips)
                accepted = encoder.add(values, rendered)
            if not accepted:
                return False
        return True

    def _unclip(
        self, row: Sequence[Any], clips: Sequence[str | None]
    ) -> tuple[list[Any], dict[int, str]]:
        values = list(row)
        rendered: dict[int, str] = {}
        for column, clip in zip(self._capped, clips, strict=True):
            if clip is None:
                continue
            total_text, _, head = clip.partition(":")
            total = int(total_text)
            if column.cap is Cap.BYTEA:
                head = "\\x" + head
            elif column.cap is Cap.TEXT and total <= len(head):
                values[column.position] = head  # more bytes than the cap, not more characters
                continue
            rendered[column.position] = clip_head(head, total, self.budget.max_cell_chars)
        return values, rendered


def rows_per_batch(types: Sequence[PgType], budget: Budget, prefetch: int) -> int:
    """Rows one round trip may fetch: `prefetch`, fewer when the fixed-size columns are wide.
    (The capped values of the whole result are bounded by the `_over` flag instead.)"""
    row_chars = CELL_OVERHEAD_CHARS * (len(types) + 1)
    for pg_type in types:
        if cap_for(pg_type) is Cap.BOUNDED:
            row_chars += _BOUNDED_CHARS[pg_type.name]
    return max(1, min(prefetch, BATCH_BUDGETS * budget.max_response_chars // row_chars))


def shape_key(sql: str, role: str | None) -> Hashable:
    """Statements that differ only in integers (ids, limits) usually share their columns."""
    return (role, _INTEGER.sub("0", sql))


_INTEGER = re.compile(r"\b[0-9]+\b")


class CapsCache:
    """The caps last used for each statement shape (an LRU), so that a wrapped statement can
    be prepared without describing the approved statement first. A remembered entry is only
    a guess: the executor checks it against the description of the wrapped statement."""

    def __init__(self, max_entries: int = 1024) -> None:
        self._max_entries = max_entries
        self._entries: OrderedDict[Hashable, Caps] = OrderedDict()

    def get(self, key: Hashable) -> Caps | None:
        caps = self._entries.get(key)
        if caps is not None:
            self._entries.move_to_end(key)
        return caps

    def put(self, key: Hashable, caps: Caps) -> None:
        self._entries[key] = caps
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def forget(self, key: Hashable) -> None:
        self._entries.pop(key, None)
