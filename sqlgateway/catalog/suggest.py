"""Did-you-mean: the existing names closest to a table or column PostgreSQL did not find.

Pure. Names are matched by spelling and by meaning: the schema docs' ``aliases``
(customers → policyholders), name parts (``amount`` → ``amount_claimed``, ``amount_approved``;
``customer_id`` → ``policyholder_id`` through the table's aliases), and the words of table and
column descriptions. `unknown_name_at` reads the name at the error position out of the SQL
that ran; `table_hint` and `column_hint` phrase what to use instead. Sensitive columns are
never suggested.

>>> closest("claim_statuss", ["status", "claim_id", "claim_number"])
['status']
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence

from sqlgateway.catalog.model import Catalog, ColumnInfo, TableInfo
from sqlgateway.catalog.spelling import json_access
from sqlgateway.catalog.words import normal, singular, terms

#: An identifier, optionally qualified, quoted or not, at the start of a string.
_NAME = re.compile(
    r'(?:"(?:[^"]|"")+"|[A-Za-z_][\w$]*)(?:\s*\.\s*(?:"(?:[^"]|"")+"|[A-Za-z_][\w$]*))*'
)
_QUOTED = re.compile(r'"((?:[^"]|"")+)"')
MAX_SUGGESTIONS = 3
MAX_LISTED_COLUMNS = 40
MAX_LISTED_TABLES = 60
#: Lowest score (0–1) of a guess worth naming.
MIN_SCORE = 0.6
#: Name parts that say nothing about meaning on their own.
_GENERIC = frozenset({"id", "at", "on", "is", "of", "the", "by", "no", "num", "nr", "ts", "dt"})


def closest(name: str, candidates: Iterable[str], n: int = MAX_SUGGESTIONS) -> list[str]:
    """Up to `n` candidates most like `name` by spelling (case-insensitive), best first."""
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


# -- meaning ---------------------------------------------------------------------------------


def score(
    wanted: str,
    name: str,
    aliases: Sequence[str] = (),
    text: str | None = None,
    *,
    spelling: bool = True,
) -> float:
    """How well an existing `name` (with its `aliases` and description `text`) fits the
    `wanted` one, from 0 to 1. `spelling` False: by meaning only (aliases, name parts,
    description), not by resemblance."""
    target = normal(wanted)
    if not target:
        return 0.0
    if any(normal(alias) == target for alias in aliases):
        return 1.0
    if normal(name) == target:
        return 0.98
    best = 0.0
    if spelling:
        best = difflib.SequenceMatcher(None, wanted.lower(), name.lower()).ratio()
        best = best if best >= MIN_SCORE else 0.0
        for alias in aliases:
            ratio = difflib.SequenceMatcher(None, target, normal(alias)).ratio()
            if ratio >= 0.85:
                best = max(best, 0.9 * ratio)
        lower, wanted_lower = name.lower(), wanted.lower()
        if min(len(lower), len(wanted_lower)) >= 3 and (
            lower in wanted_lower or wanted_lower in lower
        ):
            best = max(best, 0.7)
    parts = [part for part in terms(wanted) if part not in _GENERIC]
    if parts:
        own = set(terms(name))
        named = own.union(*(terms(alias) for alias in aliases))
        if all(part in own for part in parts):
            best = max(best, 0.75)
        elif all(part in named for part in parts):
            best = max(best, 0.65)
        described = set(terms(text or ""))
        if described and all(part in described or part in named for part in parts):
            best = max(best, 0.62)
    return best


def _ranked(scored: Iterable[tuple[float, int, str]], n: int) -> list[tuple[float, str]]:
    """The `n` best (score, name), best first; guesses far below the best one are dropped."""
    found = sorted((-fit, index, name) for fit, index, name in scored if fit >= MIN_SCORE)
    if not found:
        return []
    floor = -found[0][0] - 0.25
    return [(-fit, name) for fit, _, name in found[:n] if -fit >= floor]


def table_guesses(name: str, catalog: Catalog, n: int = MAX_SUGGESTIONS) -> list[TableInfo]:
    """The tables `name` most likely means, best first."""
    scored = []
    for index, table in enumerate(catalog.tables):
        fit = score(name, table.name, table.aliases, table.purpose)
        scored.append((fit, index, table.shown_name))
    found = (catalog.find(shown) for _, shown in _ranked(scored, n))
    return [table for table in found if table is not None]


Guess = tuple[float, TableInfo, ColumnInfo]


def column_guesses(
    name: str,
    tables: Sequence[TableInfo],
    catalog: Catalog,
    n: int = MAX_SUGGESTIONS,
    *,
    spelling: bool = True,
) -> list[Guess]:
    """The columns of `tables` `name` most likely means, as (score, table, column), best
    first; a part of the name that is another name of a table (``customer`` in
    ``customer_id``) counts as that table's name."""
    variants = _variants(name, catalog)
    scored: list[tuple[float, int, str]] = []
    found: dict[str, tuple[TableInfo, ColumnInfo]] = {}
    for table in tables:
        for column in table.columns:
            if column.sensitive:
                continue
            fit = max(
                score(v, column.name, column.aliases, column.description, spelling=spelling)
                for v in variants
            )
            key = f"{table.shown_name}.{column.name}"
            found[key] = (table, column)
            scored.append((fit, len(scored), key))
    return [(fit, *found[key]) for fit, key in _ranked(scored, n)]


def _variants(name: str, catalog: Catalog) -> list[str]:
    """`name`, and `name` with a part that names a table (by an alias) replaced by the
    table's own name: ``customer_id`` → ``policyholder_id``."""
    parts = terms(name)
    variants = [name]
    for table in catalog.tables:
        others = {normal(alias) for alias in table.aliases}
        own = singular(table.name.lower())
        for i, part in enumerate(parts):
            if part in others and part != own:
                variants.append("_".join([*parts[:i], own, *parts[i + 1 :]]))
    return variants


# -- hints -----------------------------------------------------------------------------------


def table_hint(name: str, catalog: Catalog) -> str:
    """What to use instead of the table `name`: a foreign schema's table under its own
    schema, the closest tables by spelling or meaning, and the list of tables."""
    parts = split_name(name)
    bare = parts[-1] if parts else name
    names = [t.shown_name for t in catalog.tables]
    moved = catalog.find(bare) if len(parts) > 1 else None
    if moved is not None and (len(parts) > 2 or moved.schema.lower() != parts[-2].lower()):
        written = ".".join(parts[:-1])
        where = "this database" if len(parts) > 2 else f"schema {written}"
        return (
            f"{bare} is in schema {moved.schema} of this database, not {where}: write "
            f"{moved.shown_name}; "
            f"tables: {_list(names, MAX_LISTED_TABLES)}"
        )
    found = table_guesses(bare, catalog)
    guesses = [t.shown_name for t in found]
    # the table meant's columns too: the model's column names were guessed with the table's
    text = f"did you mean {_or(guesses)}? ({columns_line(found[0])}) " if found else ""
    return text + f"tables: {_list(names, MAX_LISTED_TABLES)}"


def column_hint(
    name: str,
    tables: Sequence[TableInfo],
    catalog: Catalog,
    *,
    qualified: TableInfo | None = None,
) -> str:
    """What to use instead of the column `name`: a key of a JSON column, a column of another
    table (with how to join it) when that fits better, the closest columns among `tables`
    (the ones the query reads; all tables if none), and their columns. `qualified`: the
    table `name`'s qualifier stands for (``a`` in ``a.last_name``), whose own closest columns
    come first, written with that qualifier."""
    parts = split_name(name)
    column = parts[-1] if parts else name
    searched = list(tables) or list(catalog.tables)
    own = _own_columns(parts, qualified, catalog) if qualified is not None else None
    lines: list[str] = []
    json = json_key_hint(column, searched)
    if json:
        lines.append(json)
    guesses = column_guesses(column, searched, catalog)
    best = guesses[0][0] if guesses else 0.0
    others = sorted(
        (t for t in catalog.tables if t not in searched),
        key=lambda t: join_path(searched, t, catalog, keys_only=True) is None,
    )
    elsewhere = [g for g in column_guesses(column, others, catalog, spelling=False) if g[0] >= 0.75]
    exact = bool(elsewhere) and elsewhere[0][2].name == column
    if elsewhere and (elsewhere[0][0] > best or exact) and not json:
        line = _elsewhere(column, elsewhere[0], searched, catalog)
        lines.append(line)
    if guesses and not json and not own and (best >= 0.75 or not lines):
        meant = f"did you mean {_or([f'{t.shown_name}.{c.name}' for _, t, c in guesses])}?"
        lines.insert(0 if best >= elsewhere_best(elsewhere) else len(lines), meant)
    if own and not json:
        lines.insert(0, own)
    listed = [columns_line(t) for t in tables[:3]]
    return " ".join([*lines, "; ".join(listed)]).strip()


def columns_line(table: TableInfo) -> str:
    """``claims has columns claim_id, …`` (never a sensitive one), bounded."""
    shown = [c.name for c in table.columns if not c.sensitive]
    return f"{table.shown_name} has columns {_list(shown, MAX_LISTED_COLUMNS)}"


def _own_columns(parts: Sequence[str], table: TableInfo, catalog: Catalog) -> str | None:
    """``a is adjusters, which has no last_name: did you mean a.full_name?``"""
    if len(parts) < 2:
        return None
    qualifier, column = parts[-2], parts[-1]
    guesses = column_guesses(column, [table], catalog)
    if not guesses:
        return None
    meant = _or([f"{qualifier}.{c.name}" for _, _, c in guesses])
    shown = table.shown_name
    which = shown if qualifier == table.name.lower() else f"{qualifier} is {shown}, which"
    return f"{which} has no column {column}: did you mean {meant}?"


def elsewhere_best(guesses: Sequence[Guess]) -> float:
    return guesses[0][0] if guesses else 0.0


def json_key_hint(key: str, tables: Sequence[TableInfo]) -> str | None:
    """``channel is a key of claims.details (jsonb): details->>'channel'`` when `key` is a
    key of a JSON column's documented examples, or a quoted word of its description."""
    for table in tables:
        for column in table.columns:
            if column.sensitive or not column.type.startswith("json"):
                continue
            path = json_path(key, column)
            if path is not None:
                access = json_access(column.name, path)
                return (
                    f"{key} is a key of {table.shown_name}.{column.name} ({column.type}), not a "
                    f"column: write {access} (->> gives text: cast it with ::int, ::numeric or "
                    "::boolean to compare with numbers or booleans)."
                )
    return None


def json_path(key: str, column: ColumnInfo) -> list[str] | None:
    """The keys leading to `key` in a JSON column's documented keys, examples or description,
    e.g. ``["vehicle", "make"]``; None when it is not documented."""
    for documented in column.keys:
        path = documented.name.split(".")
        if path[-1] == key:
            return path

    def search(value: object, path: list[str]) -> list[str] | None:
        if isinstance(value, dict):
            if any(str(name) == key for name in value):
                return [*path, key]
            for name, inner in value.items():
                found = search(inner, [*path, str(name)])
                if found:
                    return found
        return None

    for example in column.examples:
        found = search(example, [])
        if found:
            return found
    if f'"{key}"' in (column.description or ""):
        return [key]
    return None


def _elsewhere(column: str, guess: Guess, searched: Sequence[TableInfo], catalog: Catalog) -> str:
    _, table, info = guess
    owner = f"{table.shown_name}.{info.name}"
    read = ", ".join(t.shown_name for t in searched[:3])
    text = f"{column} is not a column of {read}; {owner} is: join {table.shown_name}"
    path = join_path(searched, table, catalog)
    return text + (f", e.g. {path}" if path else "") + "."


def join_path(
    tables: Sequence[TableInfo], target: TableInfo, catalog: Catalog, *, keys_only: bool = False
) -> str | None:
    """How to join `target` to one of `tables`: a documented join path naming both, else
    a foreign key between them (`keys_only`: only a foreign key, i.e. a direct join)."""
    for text in () if keys_only else sorted(catalog.join_paths.values(), key=len):
        text = " ".join(text.split("--", 1)[0].split())
        words = set(re.findall(r"[A-Za-z_][\w$]*", text))
        if target.name in words and any(t.name in words for t in tables):
            return text
    for table in tables:
        for a, b in ((table, target), (target, table)):
            for fk in a.foreign_keys:
                match = re.fullmatch(r"\((.+)\) -> (.+)\((.+)\)", fk)
                if match and match.group(2) == b.key and "," not in match.group(1):
                    return (
                        f"JOIN {target.shown_name} ON {b.shown_name}.{match.group(3)} = "
                        f"{a.shown_name}.{match.group(1)}"
                    )
    return None


def _or(names: Sequence[str]) -> str:
    return " or ".join(names)


def _list(names: Sequence[str], most: int) -> str:
    shown = ", ".join(names[:most])
    return shown + (f" … ({len(names) - most} more)" if len(names) > most else "")
