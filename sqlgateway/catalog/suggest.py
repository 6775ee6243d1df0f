"""Did-you-mean: the closest existing names for a table or column PostgreSQL did not find.

Pure. `unknown_name_at` reads the name at the error position out of the SQL that ran;
`table_hint` and `column_hint` phrase what to use instead, from the catalog.

>>> closest("claim_statuss", ["status", "claim_id", "claim_number"])
['status']
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence

from sqlgateway.catalog.model import Catalog, TableInfo

#: An identifier, optionally qualified, quoted or not, at the start of a string.
_NAME = re.compile(
    r'(?:"(?:[^"]|"")+"|[A-Za-z_][\w$]*)(?:\s*\.\s*(?:"(?:[^"]|"")+"|[A-Za-z_][\w$]*))*'
)
_QUOTED = re.compile(r'"((?:[^"]|"")+)"')
MAX_SUGGESTIONS = 3
MAX_LISTED_COLUMNS = 40


def closest(name: str, candidates: Iterable[str], n: int = MAX_SUGGESTIONS) -> list[str]:
    """Up to `n` candidates most like `name` (case-insensitive), best first."""
    by_lower: dict[str, str] = {}
    for candidate in candidates:
        by_lower.setdefault(candidate.lower(), candidate)
    wanted = name.lower()
    found = difflib.get_close_matches(wanted, list(by_lower), n=n, cutoff=0.6)
    # a name that contains, or is contained in, the wanted one is a good guess too
    for lower in by_lower:
        if len(found) >= n:
            break
        if (
            lower not in found
            and min(len(lower), len(wanted)) >= 3
            and (lower in wanted or wanted in lower)
        ):
            found.append(lower)
    return [by_lower[lower] for lower in found]


def unknown_name_at(sql: str, position: int | None, message: str) -> str | None:
    """The (possibly qualified) name at 1-based `position` in `sql`, else the first quoted
    name in PostgreSQL's `message` (``relation "x" does not exist``)."""
    if position is not None and 1 <= position <= len(sql):
        match = _NAME.match(sql, position - 1)
        if match:
            return "".join(match.group(0).split())
    quoted = _QUOTED.search(message)
    return quoted.group(1) if quoted else None


def _unquote(part: str) -> str:
    return part[1:-1].replace('""', '"') if part.startswith('"') else part.lower()


def split_name(name: str) -> list[str]:
    """``a."B".c`` → ``["a", "B", "c"]`` (unquoted parts folded to lower case)."""
    return [_unquote(part) for part in re.findall(r'"(?:[^"]|"")+"|[^.]+', name)]


def table_hint(name: str, catalog: Catalog) -> str:
    parts = split_name(name)
    wanted = ".".join(parts[-2:]) if len(parts) > 1 else parts[-1] if parts else name
    names = [t.shown_name for t in catalog.tables]
    guesses = closest(wanted, names) or closest(parts[-1] if parts else name, names)
    text = f"did you mean {_or(guesses)}? " if guesses else ""
    return text + f"tables: {_list(names, 60)}"


def column_hint(name: str, tables: Sequence[TableInfo], catalog: Catalog) -> str:
    """Closest columns among `tables` (the ones the query reads; all tables if none)."""
    parts = split_name(name)
    column = parts[-1] if parts else name
    searched = list(tables) or list(catalog.tables)
    candidates = {
        f"{t.shown_name}.{c.name}": c.name for t in searched for c in t.columns if not c.sensitive
    }
    by_column: dict[str, list[str]] = {}
    for qualified, bare in candidates.items():
        by_column.setdefault(bare, []).append(qualified)
    guesses = [q for bare in closest(column, by_column) for q in by_column[bare]]
    text = f"did you mean {_or(guesses[:MAX_SUGGESTIONS])}? " if guesses else ""
    listed = [
        f"{t.shown_name} has columns "
        + _list([c.name for c in t.columns if not c.sensitive], MAX_LISTED_COLUMNS)
        for t in tables[:3]
    ]
    return text + "; ".join(listed)


def _or(names: Sequence[str]) -> str:
    return " or ".join(names)


def _list(names: Sequence[str], most: int) -> str:
    shown = ", ".join(names[:most])
    return shown + (f" … ({len(names) - most} more)" if len(names) > most else "")
