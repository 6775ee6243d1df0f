"""Hints for LIKE on a value that is not text (42883 ``operator does not exist: timestamp
with time zone ~~ unknown``): for a time, the range a date prefix means; for an enum, the
labels the pattern matches; otherwise the cast to text.

Pure; a rule of types.py's operator hints.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from sqlglot import exp

from sqlgateway.catalog.spelling import like_regex, quoted
from sqlgateway.hints.failure import TIME_TYPES, Failure
from sqlgateway.hints.lists import MAX_SHOWN_VALUES

_TEXT_LIKE = ("text", "character", "varchar", "char", "citext", "name")
_DATE_PREFIX = re.compile(r"(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?-?%")


def like_hint(failure: Failure, type_name: str) -> str:
    """LIKE on a value that is not text: for a time, the range a date prefix means; for an
    enum, the labels the pattern matches; otherwise the cast to text. Names the attempt's own
    column and pattern."""
    found = _like_of(failure)
    if found is None:
        return (
            f"LIKE needs text: cast the column, e.g. col::text LIKE '…' ({type_name} is not text)"
        )
    value, name, pattern, node = found
    negated = bool(node.args.get("negate")) or isinstance(node.parent, exp.Not)
    operator = ("NOT " if negated else "") + ("ILIKE" if isinstance(node, exp.ILike) else "LIKE")
    cast = f"{value}::text {operator} {quoted(pattern)}"
    if type_name.startswith(TIME_TYPES):
        bounds = _date_prefix_range(pattern)
        if bounds is not None and not negated:
            start, end = bounds
            index = " (this keeps the index usable)" if name is not None else ""
            return (
                f"{value} is {type_name}, not text: compare a range, {value} >= '{start}' AND "
                f"{value} < '{end}'{index}"
            )
        if bounds is not None:
            start, end = bounds
            return (
                f"{value} is {type_name}, not text: compare a range, {value} < '{start}' OR "
                f"{value} >= '{end}'"
            )
        return (
            f"{value} is {type_name}, not text: compare a range (col >= '2025-01-01' AND col < "
            f"'2026-01-01'), or format it first, to_char({value}, 'YYYY-MM-DD') {operator} "
            f"{quoted(pattern)}"
        )
    column = failure.column(name) if name is not None else None
    labels = column[1].enum_values if column is not None else ()
    if labels:
        regex = like_regex(pattern, isinstance(node, exp.ILike))
        matching = [label for label in labels if regex is not None and regex.fullmatch(label)]
        if matching:
            listed = ", ".join(quoted(label) for label in matching[:MAX_SHOWN_VALUES])
            inside = "NOT IN" if negated else "IN"
            return (
                f"{value} is an enum ({type_name}): list the labels the pattern means, "
                f"{value} {inside} ({listed}), or cast it, {cast}"
            )
        return (
            f"{value} is an enum ({type_name}) and no label matches {quoted(pattern)}: it takes "
            f"one of {', '.join(quoted(label) for label in labels)}"
        )
    return f"{value} is {type_name}, not text: cast it, {cast}"


def _like_of(failure: Failure) -> tuple[str, str | None, str, exp.Expr] | None:
    """(the value matched, as SQL; its column's name, if a column; the pattern; the LIKE node)
    of the first LIKE/ILIKE with a string pattern whose value is not a text column: the one
    PostgreSQL refused."""
    tree = failure.tree
    if tree is None:
        return None
    for node in tree.find_all(exp.Like, exp.ILike):
        value, pattern = node.this, node.expression
        while isinstance(value, exp.Paren):
            value = value.this
        if not isinstance(pattern, exp.Literal) or not pattern.is_string:
            continue
        if isinstance(value, exp.Column):
            found = failure.column(value.name)
            if found is not None and found[1].type.startswith(_TEXT_LIKE):
                continue  # LIKE on text is not what PostgreSQL refused
            return value.sql(dialect="postgres"), value.name, str(pattern.this), node
        return value.sql(dialect="postgres"), None, str(pattern.this), node
    return None


def _date_prefix_range(pattern: str) -> tuple[str, str] | None:
    """The [start, end) dates a LIKE pattern such as ``'2025%'``, ``'2025-03%'`` or
    ``'2025-03-14%'`` means (dates as text are zero-padded, so ``'2025-06-1%'`` is days 10 to
    19: not a prefix of whole units); None for any other pattern or an impossible date."""
    match = _DATE_PREFIX.fullmatch(pattern)
    if match is None:
        return None
    year = int(match.group(1))
    month, day = (int(part) if part else None for part in match.groups()[1:])
    try:
        if month is None:
            return f"{year}-01-01", f"{year + 1}-01-01"
        if day is None:
            start = date(year, month, 1)
            end = date(year + month // 12, month % 12 + 1, 1)
        else:
            start = date(year, month, day)
            end = start + timedelta(days=1)
    except ValueError:
        return None
    return start.isoformat(), end.isoformat()
