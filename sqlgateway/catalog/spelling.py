"""How values are written: shapes (``CLM-0000123`` is three capitals, a dash, seven digits),
letter cases, other spellings of a value, LIKE patterns, and how a notice quotes values.

Pure; the helpers of domains.py.

>>> shape_of("CLM-0000123"), case_of("New York"), recase("new york", "title")
('A3-97', 'title', 'New York')
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

#: Values listed in a notice or hint before "… (n more)".
MAX_LISTED_VALUES = 20
#: Characters of a pattern or value shown in a notice.
MAX_SHOWN_CHARS = 80

_DIGITS = re.compile(r"[0-9]+")


def ranked_values(value: str | None, values: Sequence[str]) -> list[str]:
    """`values` with the closest to `value` first: same letters in another case or spelling,
    then by similarity; the rest in their own order."""
    if not value:
        return list(values)
    wanted = value.lower()
    scored = []
    for index, candidate in enumerate(values):
        lower = candidate.lower()
        if lower == wanted or normal_value(candidate) == normal_value(value):
            score = 2.0
        else:
            score = difflib.SequenceMatcher(None, wanted, lower).ratio()
            if wanted in lower or lower in wanted:
                score = max(score, 0.8)
        scored.append((-score if score >= 0.6 else 0.0, index, candidate))
    return [candidate for _, _, candidate in sorted(scored)]


def listed(values: Sequence[str], most: int = MAX_LISTED_VALUES) -> str:
    """``'a', 'b', 'c'`` (string literals, as the query must write them)."""
    shown = ", ".join(quoted(v) for v in values[:most])
    return shown + (f" … ({len(values) - most} more)" if len(values) > most else "")


def quoted(value: Any) -> str:
    """`value` as a SQL literal for a notice: strings in single quotes, the rest as is."""
    if isinstance(value, str):
        return "'" + clip(value).replace("'", "''") + "'"
    return str(value)


def clip(text: str) -> str:
    return text if len(text) <= MAX_SHOWN_CHARS else text[: MAX_SHOWN_CHARS - 1] + "…"


def normal_value(text: str) -> str:
    return re.sub(r"[\s_\-]+", "", text.lower())


def shape_of(value: str) -> str:
    """The character-class signature of `value`: runs of capitals (A), lower-case letters (a)
    and digits (9) with their lengths, other characters as themselves.

    >>> shape_of("CLM-0000123"), shape_of("clm-123")
    ('A3-97', 'a3-93')
    """
    parts: list[str] = []
    kind, run = "", 0
    for char in value:
        now = (
            "A"
            if "A" <= char <= "Z"
            else "a"
            if "a" <= char <= "z"
            else "9"
            if char.isdigit()
            else char
        )
        if now == kind and now in "Aa9":
            run += 1
            continue
        if kind:
            parts.append(f"{kind}{run}" if kind in "Aa9" else kind)
        kind, run = now, 1
    if kind:
        parts.append(f"{kind}{run}" if kind in "Aa9" else kind)
    return "".join(parts)


def case_of(value: str) -> str | None:
    """``title`` (every word capitalised), ``upper``, ``lower``, or None (no letters, or
    mixed)."""
    letters = [char for char in value if char.isalpha()]
    if not letters:
        return None
    if all(char.isupper() for char in letters):
        return "upper" if len(letters) > 1 else None
    if all(char.islower() for char in letters):
        return "lower"
    words = [word for word in re.split(r"[\s\-/]+", value) if word[:1].isalpha()]
    if words and all(word[0].isupper() and not word[1:].isupper() for word in words):
        return "title"
    return None


def recase(value: str, case: str) -> str:
    if case == "upper":
        return value.upper()
    if case == "lower":
        return value.lower()
    return re.sub(r"[A-Za-z]+", lambda m: m.group(0)[0].upper() + m.group(0)[1:].lower(), value)


def examples_case(examples: Iterable[Any]) -> str | None:
    """The letter case all `examples` share, if two or more are strings and all share one."""
    texts = [e for e in examples if isinstance(e, str)]
    if len(texts) < 2 or len(texts) != len(list(examples)):
        return None
    cases = {case_of(text) for text in texts}
    return cases.pop() if len(cases) == 1 else None


def examples_shape(examples: Iterable[Any]) -> str | None:
    """The shape all `examples` share, if there are two or more strings and all have it."""
    texts = [e for e in examples if isinstance(e, str)]
    if len(texts) < 2 or len(texts) != len(list(examples)):
        return None
    shapes = {shape_of(text) for text in texts}
    return shapes.pop() if len(shapes) == 1 else None


def reformat(
    value: str, accepts: Callable[[str], bool], examples: Sequence[str] = ()
) -> str | None:
    """A spelling of `value` that `accepts`: another letter case, digits padded with zeros,
    a dash between letters and digits, or its one number put into an example's place."""
    candidates: list[str] = []
    for cased in dict.fromkeys((value, value.upper(), value.lower(), value.strip())):
        dashed = re.sub(r"(?<=[A-Za-z])(?=[0-9])", "-", cased)
        for base in dict.fromkeys((cased, dashed)):
            candidates.append(base)
            runs = list(_DIGITS.finditer(base))
            if runs:
                last = runs[-1]
                digits = last.group(0).lstrip("0") or "0"
                for width in range(len(digits), 13):
                    candidates.append(
                        base[: last.start()] + digits.zfill(width) + base[last.end() :]
                    )
    runs_written = _DIGITS.findall(value)
    # one number put into an example's place; several ('CLM-2025-000123') joined would be
    # an id nobody wrote
    digits = runs_written[0] if len(runs_written) == 1 else ""
    if digits:
        for example in examples:
            runs = list(_DIGITS.finditer(example))
            if runs:
                last = runs[-1]
                padded = digits.lstrip("0").zfill(len(last.group(0))) or digits
                candidates.append(example[: last.start()] + padded + example[last.end() :])
    for candidate in candidates:
        if candidate != value and accepts(candidate):
            return candidate
    return None


def like_regex(pattern: str, insensitive: bool) -> re.Pattern[str] | None:
    """The regex of a LIKE `pattern` (``%``, ``_``, backslash escapes), matched whole."""
    out: list[str] = []
    escaped = False
    for char in pattern:
        if escaped:
            out.append(re.escape(char))
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "%":
            out.append(".*")
        elif char == "_":
            out.append(".")
        else:
            out.append(re.escape(char))
    try:
        return re.compile("".join(out), re.DOTALL | (re.IGNORECASE if insensitive else 0))
    except re.error:
        return None


def json_access(column: str, path: Sequence[str]) -> str:
    """How PostgreSQL reads the text at `path` of a json column: ``details->>'channel'``,
    ``details->'vehicle'->>'make'``."""
    keys = [key.replace("'", "''") for key in path]
    steps = "".join(f"->'{key}'" for key in keys[:-1])
    return f"{column}{steps}->>'{keys[-1]}'"
