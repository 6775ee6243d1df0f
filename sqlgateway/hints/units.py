"""Date units and formats written as names (``date_trunc(month, …)``, ``to_char(x, YYYY)``,
``GROUP BY month``), which PostgreSQL reads as columns (42703): the quoted string meant.

Pure; used by postgres.py's `undefined_column`.
"""

from __future__ import annotations

import re

from sqlgateway.catalog.spelling import quoted
from sqlgateway.hints.failure import TIME_TYPES, Failure

#: Fields of date_trunc/date_part/extract, which PostgreSQL takes as strings ('month').
DATE_UNITS = frozenset(
    {
        *("microsecond", "millisecond", "second", "minute", "hour", "day", "week", "month"),
        *("quarter", "year", "decade", "century", "millennium", "dow", "doy", "isodow"),
        *("isoyear", "epoch", "julian", "timezone", "timezone_hour", "timezone_minute"),
    }
)
_UNIT_PLURALS = {"centuries": "century", "millennia": "millennium", "millenniums": "millennium"}
#: Functions whose first argument is a date unit, and those whose second is a format.
_UNIT_FUNCTIONS = frozenset({"date_trunc", "date_part"})
_FORMAT_FUNCTIONS = frozenset({"to_char", "to_date", "to_timestamp", "to_number"})
#: Farthest back (characters) the call around an unknown name is looked for.
_CALL_REACH_CHARS = 2_000


def date_unit(name: str) -> str | None:
    """``month`` for Month, MONTHS…; None if `name` is no date unit."""
    word = name.lower()
    word = _UNIT_PLURALS.get(word, word)
    if word not in DATE_UNITS and word.endswith("s") and word[:-1] in DATE_UNITS:
        word = word[:-1]
    return word if word in DATE_UNITS else None


def string_argument(sql: str, position: int | None, name: str) -> str | None:
    """``date_trunc('month', reported_at)``: a date unit or format written as a name, in the
    call of date_trunc, date_part, to_char… around `position`, quoted (a unit comes first)."""
    call = _call_around(sql, position) if position is not None else None
    if call is None:
        return None
    function, arguments, at = call
    bare = function.rsplit(".", 1)[-1].lower()
    unit = date_unit(name)
    if bare in _UNIT_FUNCTIONS and unit is not None and date_unit(arguments[at]) == unit:
        others = [a for i, a in enumerate(arguments) if i != at]
        fixed = f"{function}({', '.join([quoted(unit), *others])})"
        return f"the unit of {function}() is a string, not a name: write {_clip(fixed)}"
    if bare in _FORMAT_FUNCTIONS and at == 1 and re.fullmatch(r"[\w :/.,-]+", arguments[1]):
        # the SQL that ran is the guard's rendering: YYYY-MM came back as YYYY - MM
        pattern = re.sub(r"\s*([-/:.])\s*", r"\1", arguments[1])
        shown = [*arguments[:1], quoted(pattern), *arguments[2:]]
        fixed = f"{function}({', '.join(shown)})"
        return f"the format of {function}() is a string, not a name: write {_clip(fixed)}"
    return None


def _call_around(sql: str, position: int) -> tuple[str, list[str], int] | None:
    """The function call whose argument list holds the character at `position` (1-based), as
    (its name as written, its arguments' texts, the index of the argument there)."""
    depth, quote, start = 0, False, position - 2
    while start >= max(0, position - _CALL_REACH_CHARS):
        char = sql[start]
        if char == "'":
            quote = not quote
        elif not quote and char == ")":
            depth += 1
        elif not quote and char == "(":
            if depth == 0:
                break
            depth -= 1
        start -= 1
    else:
        return None
    named = re.search(r"([A-Za-z_][\w.]*)\s*$", sql[max(0, start - 100) : start])
    if named is None:
        return None
    arguments: list[str] = []
    piece, depth, quote, at = "", 0, False, -1
    for index in range(start + 1, min(len(sql), start + _CALL_REACH_CHARS)):
        char = sql[index]
        if index == position - 1:
            at = len(arguments)
        if char == "'":
            quote = not quote
        elif not quote and char == "(":
            depth += 1
        elif not quote and char == ")" and depth == 0:
            arguments.append(piece.strip())
            return (named.group(1), arguments, at) if at >= 0 else None
        elif not quote and char == ")":
            depth -= 1
        elif not quote and char == "," and depth == 0:
            arguments.append(piece.strip())
            piece = ""
            continue
        piece += char
    return None


def unit_alone(failure: Failure, name: str) -> str | None:
    """For a date unit used as a column: how to get that part of a timestamp column."""
    unit = date_unit(name)
    if unit is None:
        return None
    times = [c.name for t in failure.tables for c in t.columns if c.type.startswith(TIME_TYPES)]
    column = times[0] if times else "ts"
    return (
        f"{name} is no column; date units are strings in PostgreSQL: for the {unit} of a "
        f"timestamp write date_trunc('{unit}', {column}) or extract({unit} FROM {column})"
    )


def _clip(text: str, most: int = 120) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"
