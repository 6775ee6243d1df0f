"""Notices about the documented keys of a JSON column: a key spelt otherwise than the docs
spell it, written as a path (``'$.channel'``, ``'vehicle.make'``), a boolean key compared
with text ``->>`` never gives (``'yes'``, ``'TRUE'``), and the object of ``col @> '{…}'``
read key by key. ``->>`` of a key that is not there is NULL: each of these is a silent zero
or a column of NULLs without the notice.

Pure; notices.py calls these for comparisons and reads of a key (guard/literals.py).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

import orjson

from sqlgateway.catalog.domains import JSON_BOOLEAN, Domain
from sqlgateway.catalog.model import ColumnInfo
from sqlgateway.catalog.spelling import json_access, quoted, ranked_values
from sqlgateway.guard.verdict import Comparison


def subject(comparison: Comparison, table: str = "") -> str:
    """What `comparison` compares, as written in SQL: ``claims.status``, ``details->>'channel'``
    (without `table`), ``upper(claims.loss_type)``."""
    column = f"{table}.{comparison.column}" if table else comparison.column
    if comparison.key:
        column = json_access(column, comparison.key)
    return f"{comparison.applied}({column})" if comparison.applied else column


def unknown_key_notice(comparison: Comparison, table: str, column: ColumnInfo) -> str | None:
    """A JSON key the schema docs do not list, when one they list is meant: spelled alike (in
    another case, with a typo, another form of the word, at another depth), or written as a
    JSON path (``'$.channel'``) or a dotted path (``'vehicle.make'``), which ``->>`` reads as
    one key's name. ``->>`` of a missing key is NULL, so the comparison matches no row. A key
    the docs do not list may still exist: without a close documented one, nothing is said."""
    meant = documented_key(comparison.key, column)
    if meant is None:
        return None
    wanted = ".".join(comparison.key)
    fix = json_access(comparison.column, meant.split("."))
    outcome = "on every row" if comparison.operator == "->>" else "which matches no row"
    return (
        f"{subject(comparison, table)}: {_missing_key(wanted, meant, column)}, and ->> of a "
        f"key that is not there is NULL, {outcome}: did you mean {fix}? "
        f"(documented keys: {', '.join(key.name for key in column.keys[:12])})"
    )


def json_boolean_notice(comparison: Comparison, table: str) -> str | None:
    """A JSON boolean compared with text other than ``'true'``/``'false'``, which is all
    ``->>`` makes of it (``= 'yes'``, ``= 'TRUE'``, ``= '1'``)."""
    if comparison.operator not in ("=", "<>"):
        return None
    wrong = [value for value in comparison.values if not JSON_BOOLEAN.accepts(value)]
    if not wrong:
        return None
    truth = _typed(wrong[0], JSON_BOOLEAN)
    name, operator = subject(comparison), comparison.operator
    if len(comparison.values) > 1:
        written = f"{quoted(wrong[0])} in {subject(comparison, table)} IN (…)"
        verb = "can never match" if operator == "=" else "excludes nothing"
    else:
        written = f"{subject(comparison, table)} {operator} {quoted(wrong[0])}"
        verb = "excludes nothing" if operator == "<>" else "matches no row"
    fix = f"{name} {operator} {quoted(str(truth).lower())}, or " if truth is not None else ""
    test = "IS NOT" if operator == "<>" else "IS"
    return (
        f"{written} {verb}: the key holds a JSON boolean, which ->> reads as 'true' or 'false' "
        f"(lower case): write {fix}({name})::boolean {test} {'FALSE' if truth is False else 'TRUE'}"
    )


def documented_key(path: Sequence[str], column: ColumnInfo) -> str | None:
    """The documented key (its dotted name) that `path`, not one of them, means; None when
    none is close."""
    if not column.keys or column.key(tuple(path)) is not None:
        return None
    wanted = ".".join(_as_keys(path))
    names = [key.name for key in column.keys]
    if wanted in names:
        return wanted
    if ".".join(path) != wanted and any(n.startswith(f"{wanted}.") for n in names):
        return wanted  # '$.vehicle': the object that holds documented keys
    if any(name.startswith(f"{'.'.join(path)}.") for name in names):
        return None  # an object holding documented keys (details->>'vehicle'), read whole
    last = wanted.rpartition(".")[2].lower()
    for name in ranked_values(wanted, names)[:3]:
        own = name.rpartition(".")[2].lower()
        if (
            name.lower() == wanted.lower()
            or own == last
            or difflib.SequenceMatcher(None, wanted.lower(), name.lower()).ratio() >= 0.85
            or _same_stem(own, last)
        ):
            return name
    return None


def _as_keys(path: Sequence[str]) -> list[str]:
    """The keys `path` means when a step is written as a path: ``'$.vehicle.make'``,
    ``'vehicle.make'``, ``'$[0].a'`` (MySQL's, SQLite's, BigQuery's JSON paths)."""
    keys: list[str] = []
    for step in path:
        step = re.sub(r"\[[^\]]*\]", "", step.removeprefix("$")).strip(".")
        keys += [part for part in step.split(".") if part] or [step]
    return keys


def _same_stem(a: str, b: str) -> bool:
    """Two forms of one word (``injured``, ``injuries``): a long common start."""
    common = next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )
    return common >= 5 and common >= 0.6 * min(len(a), len(b))


def _missing_key(wanted: str, meant: str, column: ColumnInfo) -> str:
    if wanted.startswith("$"):
        return f"->> takes a key's name, not a JSON path like {wanted!r}"
    if "." in wanted and ".".join(_as_keys([wanted])) == meant:
        return f"->> reads one key, so {wanted!r} is a key with a dot in its name, not a path"
    return f"{column.name} has no documented key {wanted!r} (keys are case-sensitive)"


def containment_notice(comparison: Comparison, table: str, column: ColumnInfo) -> str | None:
    """``details @> '{"injuries": "true"}'``: the object's keys and values, read against the
    documented keys. A key the docs do not list but one they list is meant, a string where
    the key holds a JSON boolean or number, or a value outside the key's domain: none can be
    contained, and the answer says which and how to write it."""
    if not column.keys:
        return None
    written = f"{table}.{comparison.column} @> {quoted(comparison.values[0])}"
    try:
        wanted = orjson.loads(comparison.values[0])
    except orjson.JSONDecodeError:
        return None  # PostgreSQL would have said so
    for path, value in _leaves(wanted, ())[:20]:
        key = column.key(path)
        if key is None:
            meant = documented_key(path, column)
            if meant is None:
                continue
            fixed = _nested(meant.split("."), value)
            return (
                f"{written} matches no row: {_missing_key('.'.join(path), meant, column)}; "
                f"did you mean {quoted(fixed)}?"
            )
        domain = key.domain
        if isinstance(value, str) and domain is not None and domain.source.startswith("JSON "):
            typed = _typed(value, domain)
            shown = f"write {quoted(_nested(path, typed))}" if typed is not None else ""
            return (
                f"{written} matches no row: {key.name} holds a {domain.source}, not the "
                f"string {orjson.dumps(value).decode()}; {shown or f'its values are {domain.describe()}'}"
            )
        if isinstance(value, str) and domain is not None:
            miss = domain.miss(value, "=")
            if miss is not None:
                fix = f"did you mean {quoted(miss.fix)}? " if miss.fix else ""
                return f"{written} matches no row: {fix}({key.name} is {domain.describe(value)})"
    return None


def _leaves(value: object, path: tuple[str, ...]) -> list[tuple[tuple[str, ...], object]]:
    """(path, value) of each key of a JSON object that is not itself an object."""
    if not isinstance(value, dict):
        return [(path, value)] if path else []
    found: list[tuple[tuple[str, ...], object]] = []
    for key, inner in value.items():
        found += _leaves(inner, (*path, key))
    return found


def _typed(value: str, domain: Domain) -> object | None:
    """`value`, a string, as the JSON boolean or number the key holds, if it reads as one."""
    text = value.strip().lower()
    if domain.values:  # a boolean
        truth = {"true": True, "t": True, "yes": True, "y": True, "1": True}
        untruth = {"false": False, "f": False, "no": False, "n": False, "0": False}
        return truth.get(text, untruth.get(text))
    if domain.accepts(text):
        number: object = orjson.loads(text)
        return number
    return None


def _nested(path: Sequence[str], value: object) -> str:
    """``{"vehicle": {"make": "Toyota"}}`` for the path (vehicle, make)."""
    inner: object = value
    for key in reversed(path):
        inner = {key: inner}
    return orjson.dumps(inner).decode().replace(",", ", ").replace(":", ": ")
