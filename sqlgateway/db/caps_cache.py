"""The caps each statement shape needed, remembered so that a point lookup is prepared wrapped
straight away (db/caps.py): one round trip, as without caps.

A remembered entry is only a guess: the executor checks it against the description of the
statement it prepared (the types of a wrapped one, the types and names of one run as it is),
and describes the statement itself again once the entry is RECHECK_S old.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

from sqlgateway.db.caps import Caps, PgType
from sqlgateway.db.encode import Column, Converter

#: How long the caps remembered for a statement shape are used before the statement is
#: described again: a table altered meanwhile (a column added, renamed or retyped) shows
#: in the answers after at most this long.
RECHECK_S = 10.0


@dataclass(frozen=True, slots=True)
class Remembered:
    """The caps a statement shape needed, and what its description gave the encoder."""

    caps: Caps
    types: tuple[PgType, ...]  # of the approved statement's columns
    columns: tuple[Column, ...]
    converters: tuple[Converter | None, ...]
    described: tuple[int, ...]  # the wrapped statement's column types
    checked_at: float = field(default_factory=time.monotonic)

    @classmethod
    def of(
        cls,
        caps: Caps,
        types: Sequence[PgType],
        columns: Sequence[Column],
        converters: Sequence[Converter | None],
    ) -> Remembered:
        described = caps.described([t.oid for t in types])
        return cls(caps, tuple(types), tuple(columns), tuple(converters), described)

    def fresh(self) -> bool:
        return time.monotonic() - self.checked_at < RECHECK_S

    def with_many_rows(self) -> Remembered:
        """The same, wrapped with the running sum (see the module's docstring)."""
        old = self.caps
        caps = Caps(old.caps, old.type_names, old.max_chars, old.budget, many_rows=True)
        described = caps.described([t.oid for t in self.types])
        return Remembered(
            caps, self.types, self.columns, self.converters, described, self.checked_at
        )


def shape_key(sql: str, role: str | None) -> Hashable:
    """Statements that differ only in integers (ids, limits) usually share their columns."""
    return (role, _INTEGER.sub("0", sql))


_INTEGER = re.compile(r"\b[0-9]+\b")


class CapsCache:
    """The caps each statement shape needed (an LRU)."""

    def __init__(self, max_entries: int = 1024) -> None:
        self._max_entries = max_entries
        self._entries: OrderedDict[Hashable, Remembered] = OrderedDict()

    def get(self, key: Hashable) -> Remembered | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, key: Hashable, entry: Remembered) -> None:
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def forget(self, key: Hashable) -> None:
        self._entries.pop(key, None)

    def many_rows(self, key: Hashable) -> None:
        """The shape returned more rows than its wrapper fetches at once: from now on, the
        wrapper with the running sum, which can fetch more."""
        entry = self._entries.get(key)
        if entry is not None and not entry.caps.many_rows:
            self._entries[key] = entry.with_many_rows()
