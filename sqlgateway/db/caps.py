"""Caps on every value PostgreSQL sends: the SQL that runs wraps the approved statement in
gateway-made SQL that limits each output column server-side.

A value larger than the response could show never crosses the wire, so the gateway's memory
per request is bounded by the response budget whatever the SQL builds (a 300 MB `repeat`, a
`json_agg` of a whole table). The approved statement is used once and unchanged, first (so
pg_stat_activity shows it); around it the gateway writes, for the demo's point lookup::

    WITH _sqlgateway_rows AS NOT MATERIALIZED (
    SELECT * FROM claims WHERE claim_id = 42
    )
    SELECT c1, c2, c3, left(c4, 10000), c5, left(c6, 10000), c7, …, left((c12)::text, 10000),
           ARRAY[length(c4), length(c6), length(c11), length((c12)::text)]
    FROM _sqlgateway_rows AS _sqlgateway_rows(c1, c2, …, c12)

Column by column (`Cap`):

- fixed-size built-in types (integers, dates, booleans, uuids…) and enums pass as they are,
  and so does numeric (147,457 characters at most) while rows come a few at a time;
- types the driver reads as text anyway (text, varchar, json, jsonb, numeric, xml,
  user-defined types…) come as their first characters, `left(<text>, n)`: exactly what the
  driver would have read when the value is shorter, so it keeps its exact encoding (numeric
  digits, JSON inline);
- `bytea` comes as its first bytes;
- everything else (arrays, composites, ranges, `char(n)`, bit strings, paths…) comes in its own
  type while its text is at most the budget, else as NULL, its first characters then in a
  `heads` array.

The last column holds every capped value's full length, so the encoder marks a clipped value
`…[clipped 10000/123456 chars]` as if the whole value had come. `n` is SQLGATEWAY_MAX_CELL_CHARS,
all the encoder would show of a text anyway; with many capped columns each gets a share of
twice the response budget instead.

Capped values of many rows could still add up: a statement shape seen returning more rows
than a round trip of fully capped rows could hold (`many_rows`) is wrapped once more, with a
running sum (`sum(…) OVER (ROWS UNBOUNDED PRECEDING)`) that stops the values after twice the
budget: a row that could still fit in the response never reaches it, so the rows it cuts are
rows the encoder would leave out. Other statements are fetched in round trips small enough
for their rows at full size (`rows_per_batch`).

Only gateway-made text is added: the names c1…cN, `_sqlgateway_*`, `_k`, numbers and built-in
functions; the statement's own column names never enter the SQL. The caps are decided from
the approved statement's description, and remembered for its shape (caps_cache.py): a point
lookup is then prepared wrapped straight away, one round trip as without caps.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlgateway.db.encode import ResultEncoder, clip_head

#: The approved statement's alias in the wrapper, and the running-sum subquery's.
ROWS = "_sqlgateway_rows"
SIZED = "_sqlgateway_sized"
#: The capped values of a many-row result cost at most this many response budgets.
RESULT_BUDGETS = 2
#: One round trip fetches at most this many response budgets of values.
BATCH_BUDGETS = 8
#: A capped column's share of a row never goes below this (thousands of columns).
MIN_SHARE_CHARS = 64
#: What a value costs in the gateway besides its characters (Python object, record slot).
CELL_OVERHEAD_CHARS = 48
#: PostgreSQL's limit on the columns of a query; the wrapper adds two at most.
MAX_COLUMNS = 1664

_TEXT, _INT4, _INT4_ARRAY, _TEXT_ARRAY = 25, 23, 1007, 1009
_CATALOG = "pg_catalog"
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
#: Built-in variable-size types the driver reads as their text (numeric: the executor's codec).
_TEXT_READ = frozenset(
    {"text", "varchar", "json", "jsonb", "xml", "numeric", "tsvector", "tsquery"}
)
#: Of those, the ones `left()` takes without a cast.
_TEXT_TYPES = frozenset({"text", "varchar"})
#: An enum label is at most 63 bytes.
_ENUM_CHARS = 66
#: The longest numeric PostgreSQL can hold: 131,072 digits before the point, 16,383 after.
_NUMERIC_CHARS = 131_072 + 16_383 + 2


class Cap(enum.Enum):
    """How the executed SQL limits one column."""

    BOUNDED = "bounded"  # fixed size: as it is
    TEXT = "text"  # read as text by the driver: the first characters, as text
    BYTEA = "bytea"  # the first bytes
    TYPED = "typed"  # in its own type while small, else NULL and its first characters apart


class PgType(Protocol):
    """What asyncpg tells of a column's type (asyncpg.types.Type)."""

    @property
    def oid(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def schema(self) -> str: ...


def cap_for(pg_type: PgType, enums: frozenset[int] = frozenset()) -> Cap:
    """The cap of a column of `pg_type` (PostgreSQL describes domains by their base type);
    `enums`: oids of user-defined types known to be enums."""
    kind, name, builtin = pg_type.kind, pg_type.name, pg_type.schema == _CATALOG
    if builtin and name in _BOUNDED_CHARS and kind in ("scalar", "range"):
        return Cap.BOUNDED
    if pg_type.oid in enums:
        return Cap.BOUNDED
    if kind != "scalar" or name == "record":
        return Cap.TYPED
    if not builtin or name in _TEXT_READ:
        return Cap.TEXT  # enums and other user-defined types are read as text too
    if name == "bytea":
        return Cap.BYTEA
    return Cap.TYPED  # char(n) (text casts drop its padding), bit strings, paths…


@dataclass(frozen=True, slots=True)
class Budget:
    """The response's limits the caps are derived from (settings of the same names)."""

    max_response_chars: int
    max_cell_chars: int


@dataclass(frozen=True, slots=True)
class _Capped:
    """One capped column: `c{position + 1}` in the wrapper."""

    position: int
    cap: Cap
    text: str  # SQL: the value as text (or the bytea itself)
    fits: int  # TYPED: its text passes in its own type up to this many characters
    head: int  # characters (bytes for bytea) of it that are sent
    typed: int = -1  # TYPED: its index in the heads array


@dataclass(frozen=True)
class Caps:
    """What the executed SQL caps, column by column, and how its rows reach the encoder.

    Built from the column types of the approved statement; `wrapped` is False when every
    column has a fixed size (the statement then runs as it is)."""

    caps: tuple[Cap, ...]
    type_names: tuple[str, ...]
    #: per column, the longest text of a value that may go uncapped: of a fixed-size type, or
    #: of a numeric, which passes when the row is fetched a few at a time (0: always capped)
    max_chars: tuple[int, ...]
    budget: Budget
    many_rows: bool = False
    _passing: frozenset[int] = field(init=False, repr=False, compare=False)
    _capped: tuple[_Capped, ...] = field(init=False, repr=False, compare=False)
    _by_position: dict[int, _Capped] = field(init=False, repr=False, compare=False)
    _tail: str = field(init=False, repr=False, compare=False)
    _smallest: int = field(init=False, repr=False, compare=False)

    @classmethod
    def of(
        cls,
        types: Sequence[PgType],
        budget: Budget,
        *,
        enums: frozenset[int] = frozenset(),
        many_rows: bool = False,
    ) -> Caps:
        caps = tuple(cap_for(t, enums) for t in types)
        max_chars = tuple(_max_chars(t, cap) for t, cap in zip(types, caps, strict=True))
        return cls(caps, tuple(t.name for t in types), max_chars, budget, many_rows)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_passing", self._passes())
        positions = [i for i in range(len(self.caps)) if i not in self._passing]
        share = max(
            RESULT_BUDGETS * self.budget.max_response_chars // max(1, len(positions)),
            MIN_SHARE_CHARS,
        )
        head = min(self.budget.max_cell_chars, share)
        capped, typed = [], 0
        for i in positions:
            cap, name, column = self.caps[i], self.type_names[i], f"c{i + 1}"
            if cap is Cap.BYTEA:  # shown as \x and two hex digits a byte
                capped.append(_Capped(i, cap, column, 0, max(1, (head - 1) // 2)))
            elif cap is Cap.TEXT:
                text = column if name in _TEXT_TYPES else f"({column})::text"
                capped.append(_Capped(i, cap, text, 0, head))
            else:
                fits = min(self.budget.max_response_chars, share)
                capped.append(_Capped(i, cap, f"({column})::text", fits, head, typed))
                typed += 1
        object.__setattr__(self, "_capped", tuple(capped))
        object.__setattr__(self, "_by_position", {c.position: c for c in capped})
        object.__setattr__(self, "_smallest", min((c.head for c in capped), default=0))
        object.__setattr__(self, "_tail", self._render_tail() if capped else "")

    def _passes(self) -> frozenset[int]:
        """The columns that go as they are: fixed-size types, and numerics when the rows come
        a few at a time and they all together are no longer than a round trip's budget."""
        bounded = {i for i, cap in enumerate(self.caps) if cap is Cap.BOUNDED}
        sized = {i for i, m in enumerate(self.max_chars) if m and i not in bounded}
        batch_chars = BATCH_BUDGETS * self.budget.max_response_chars
        if self.many_rows or sum(self.max_chars[i] for i in sized) > batch_chars:
            return frozenset(bounded)
        return frozenset(bounded | sized)

    @property
    def wrapped(self) -> bool:
        return bool(self._capped)

    @property
    def width(self) -> int:
        """Columns of the approved statement."""
        return len(self.caps)

    def sql(self, statement: str) -> str:
        """The SQL to run for `statement` (itself when nothing needs a cap)."""
        return _HEAD + statement + self._tail if self._capped else statement

    @property
    def statement_offset(self) -> int:
        """Where the approved statement starts in `sql(…)`."""
        return len(_HEAD) if self._capped else 0

    def too_wide(self) -> bool:
        """The wrapper would need more columns than PostgreSQL allows."""
        return self.wrapped and self.width + 3 > MAX_COLUMNS

    def described(self, inner_oids: Sequence[int]) -> tuple[int, ...]:
        """The column types the wrapped statement is described with, for a statement of
        these column types: how a remembered wrapper is checked."""
        oids = list(inner_oids)
        if not self._capped:
            return tuple(oids)
        for c in self._capped:
            if c.cap is Cap.TEXT:
                oids[c.position] = _TEXT
        oids.append(_INT4_ARRAY)
        if any(c.cap is Cap.TYPED for c in self._capped):
            oids.append(_TEXT_ARRAY)
        if self.many_rows:
            oids.append(_INT4)
        return tuple(oids)

    def _render_tail(self) -> str:
        names = ", ".join(f"c{i + 1}" for i in range(len(self.caps)))
        source = f"{ROWS} AS {ROWS}({names})"
        if not self.many_rows:
            values = self._values({c.position: (c.text, _length(c)) for c in self._capped}, "")
            return f"\n)\nSELECT {', '.join(values)}\nFROM {source}"
        # Many rows: each text form and length is worked out once a row, in subqueries that
        # the planner keeps apart (OFFSET 0), and the running sum adds the lengths up.
        texts = [
            f"{c.text} AS _t{c.position + 1}" for c in self._capped if c.text.endswith("::text")
        ]
        if texts:
            source = f"(SELECT *, {', '.join(texts)} FROM {source} OFFSET 0) AS _sqlgateway_t"
        named = {
            c.position: (
                f"_t{c.position + 1}" if c.text.endswith("::text") else c.text,
                f"_l{c.position + 1}",
            )
            for c in self._capped
        }
        lengths = ", ".join(
            f"{_length(_Capped(c.position, c.cap, named[c.position][0], 0, 0))} AS {named[c.position][1]}"
            for c in self._capped
        )
        source = f"(SELECT *, {lengths} FROM {source} OFFSET 0) AS _sqlgateway_l"
        cost = " + ".join(
            f"least(coalesce({named[c.position][1]}, 0), {max(c.head, c.fits)})"
            for c in self._capped
        )
        limit = RESULT_BUDGETS * self.budget.max_response_chars
        source = (
            f"(SELECT *, CASE WHEN sum({cost}) OVER (ROWS UNBOUNDED PRECEDING) > {limit} "
            f"THEN 0 ELSE 1 END AS _k FROM {source}) AS {SIZED}"
        )
        values = self._values(named, " * _k")
        return f"\n)\nSELECT {', '.join(values)}, _k\nFROM {source}"

    def _values(self, named: dict[int, tuple[str, str]], k: str) -> list[str]:
        """The select list: each column, capped if it must be, then the lengths (and the heads
        of typed values); `named`: each capped column's text and length, as SQL."""
        values = []
        for i in range(len(self.caps)):
            c = self._by_position.get(i)
            if c is None:
                values.append(f"c{i + 1}")
                continue
            text, length = named[i]
            if c.cap is Cap.BYTEA:
                values.append(f"substring({text} FROM 1 FOR {c.head}{k})")
            elif c.cap is Cap.TEXT:
                values.append(f"left({text}, {c.head}{k})")
            else:
                small = f"{'_k = 1 AND ' if k else ''}{length} <= {c.fits}"
                values.append(f"CASE WHEN {small} THEN c{i + 1} END")
        values.append(f"ARRAY[{', '.join(named[c.position][1] for c in self._capped)}]")
        heads = [
            f"CASE WHEN {named[c.position][1]} > {c.fits} "
            f"THEN left({named[c.position][0]}, {c.head}{k}) END"
            for c in self._capped
            if c.cap is Cap.TYPED
        ]
        if heads:
            values.append(f"ARRAY[{', '.join(heads)}]")
        return values

    def rows_per_batch(self, prefetch: int) -> int:
        """Rows one round trip may fetch: `prefetch`, fewer when rows could be large. Values
        of a many-row wrapper are bounded over the whole result by its running sum; other
        rows are counted at the full size of their capped values."""
        row_chars = CELL_OVERHEAD_CHARS * (len(self.caps) + 1)
        row_chars += sum(self.max_chars[i] for i in self._passing)
        if not self.many_rows:
            row_chars += sum(max(c.head, c.fits) for c in self._capped)
        batch_chars = BATCH_BUDGETS * self.budget.max_response_chars
        return max(1, min(prefetch, batch_chars // row_chars))

    def feed(self, encoder: ResultEncoder, batch: Sequence[Any]) -> bool:
        """Give `batch`'s rows to `encoder`; False once it wants no more."""
        if not self._capped:
            return all(encoder.add(record) for record in batch)
        width, smallest = len(self.caps), self._smallest
        heads_at = width + 1
        for record in batch:
            if self.many_rows and not record[-1]:  # the response was full long before
                encoder.leave_out()
                return False
            lengths = record[width]
            if max(filter(None, lengths), default=0) <= smallest:  # nothing was clipped
                accepted = encoder.add(record[:width])
            else:
                heads = record[heads_at] if heads_at < len(record) else None
                values, rendered = self._unclip(record[:width], lengths, heads)
                accepted = encoder.add(values, rendered)
            if not accepted:
                return False
        return True

    def _unclip(
        self, row: Sequence[Any], lengths: Sequence[int | None], heads: Sequence[str | None] | None
    ) -> tuple[list[Any], dict[int, str]]:
        values = list(row)
        rendered: dict[int, str] = {}
        max_cell = self.budget.max_cell_chars
        for c, total in zip(self._capped, lengths, strict=True):
            value = values[c.position]
            if total is None:
                continue
            if c.cap is Cap.BYTEA:
                if total > len(value):
                    head = "\\x" + bytes(value).hex()
                    rendered[c.position] = clip_head(head, 2 + 2 * total, max_cell)
            elif c.cap is Cap.TEXT:
                if total > len(value):
                    rendered[c.position] = clip_head(value, total, max_cell)
            elif value is None and total > c.fits and heads is not None:
                rendered[c.position] = clip_head(heads[c.typed] or "", total, max_cell)
        return values, rendered


def _max_chars(pg_type: PgType, cap: Cap) -> int:
    if cap is Cap.BOUNDED:
        return _BOUNDED_CHARS.get(pg_type.name, _ENUM_CHARS)
    if pg_type.schema == _CATALOG and pg_type.name == "numeric":
        return _NUMERIC_CHARS
    return 0


def _length(c: _Capped) -> str:
    return f"octet_length({c.text})" if c.cap is Cap.BYTEA else f"length({c.text})"


_HEAD = f"WITH {ROWS} AS NOT MATERIALIZED (\n"
