"""Value domains: which values a column can hold, from what the catalog already knows.

Pure. A column's domain comes from, strongest first: its enum labels, a ``CHECK (col IN
(…))`` list (PostgreSQL stores it as ``col = ANY (ARRAY[…])``), the schema docs' allowed
values (with their meanings), a ``CHECK (col ~ 'pattern')``, and the shape or letter case
shared by all its documented examples (``'CLM-0000001'``, ``'CLM-0000123'``: three capitals,
a dash, seven digits; ``'Phoenix'``, ``'New York'``: title case). How values are written is
spelling.py's business.

`Domain.miss` says whether a literal compared with the column can match, and if not, which
spelling was probably meant: the right case (``'Approved'`` → ``'approved'``), the padded
form (``'CLM-123'`` → ``'CLM-0000123'``), a documented meaning (``'car'`` → ``'auto'``: "car
insurance"). Nothing here runs a query: a column's domain is built once per catalog read
(`ColumnInfo.domain`), and checking a listed value costs a set lookup.

>>> domain = Domain(values=("paid", "denied"))
>>> domain.miss("Paid", "=")
Miss(value='Paid', fix='paid')
>>> domain.miss("paid", "=") is None
True
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from sqlgateway.catalog.spelling import (
    case_of,
    clip,
    examples_case,
    examples_shape,
    like_regex,
    listed,
    normal_value,
    quoted,
    ranked_values,
    recase,
    reformat,
    shape_of,
)
from sqlgateway.catalog.words import terms

#: Literals whose verdict a domain remembers (a dict cleared when full: threads may share
#: a domain, and a lost entry only costs its recomputation).
MAX_REMEMBERED = 256

_POSIX_CLASSES = {
    "[:digit:]": "0-9",
    "[:alpha:]": "A-Za-z",
    "[:alnum:]": "A-Za-z0-9",
    "[:upper:]": "A-Z",
    "[:lower:]": "a-z",
    "[:space:]": r"\s",
    "[:xdigit:]": "0-9A-Fa-f",
}


@dataclass(frozen=True, slots=True)
class Miss:
    """A literal outside the domain, and the spelling that would be inside it (if one is)."""

    value: str
    fix: str | None = None


@dataclass(frozen=True)
class Domain:
    """What a column's values can be. `values` is exhaustive when set; `pattern` must match
    (PostgreSQL's ``~``, unanchored); `shape` is the character-class signature all examples
    share (a weaker promise, so only a different shape counts as a miss)."""

    values: tuple[str, ...] = ()
    source: str = ""  # "enum labels", "CHECK constraint", "schema docs"
    pattern: str | None = None
    shape: str | None = None
    examples: tuple[str, ...] = ()
    meanings: tuple[str, ...] = ()  # of each value (schema docs), "" when unknown
    case: str | None = None  # "title", "upper" or "lower": the letter case all examples share

    def __post_init__(self) -> None:
        object.__setattr__(self, "_set", frozenset(self.values))
        regex = _python_regex(self.pattern) if self.pattern else None
        object.__setattr__(self, "_regex", regex)
        object.__setattr__(self, "_misses", {})

    def miss(self, value: str, operator: str) -> Miss | None:
        """None when `value` can match under `operator` (``=``, ``<>``, ``like``, ``ilike``;
        any other operator always can). A value in the list costs a set lookup; what is
        found for the others is remembered (MAX_REMEMBERED per domain)."""
        if operator in ("=", "<>") and value in self._set:  # type: ignore[attr-defined]
            return None
        misses: dict[tuple[str, str], Miss | None] = self._misses  # type: ignore[attr-defined]
        key = (value, "like" if operator == "like" else "ilike" if operator == "ilike" else "=")
        if key in misses:
            return misses[key]
        found = self._miss(value, operator)
        if len(misses) >= MAX_REMEMBERED:
            misses.clear()
        misses[key] = found
        return found

    def _miss(self, value: str, operator: str) -> Miss | None:
        if operator in ("like", "ilike"):
            return self._miss_like(value, operator == "ilike")
        if operator not in ("=", "<>"):
            return None
        if self.values:
            if value in self._set:  # type: ignore[attr-defined]
                return None
            return Miss(value, self._closest_value(value))
        regex: re.Pattern[str] | None = self._regex  # type: ignore[attr-defined]
        if regex is not None:
            if regex.search(value):
                return None
            return Miss(
                value, reformat(value, lambda v: regex.search(v) is not None, self.examples)
            )
        if self.shape is not None and len(value) <= 200:
            if shape_of(value) == self.shape:
                return None
            return Miss(value, reformat(value, lambda v: shape_of(v) == self.shape, self.examples))
        if self.case is not None and case_of(value) not in (self.case, None):
            return Miss(value, recase(value, self.case))
        return None

    def accepts(self, value: str) -> bool:
        """Whether `value` can be a value of the column."""
        return self.miss(value, "=") is None

    def _miss_like(self, pattern: str, insensitive: bool) -> Miss | None:
        if not self.values:
            return None
        regex = like_regex(pattern, insensitive)
        if regex is None or any(regex.fullmatch(value) for value in self.values):
            return None
        if not insensitive:
            loose = like_regex(pattern, True)
            if loose is not None and any(loose.fullmatch(value) for value in self.values):
                return Miss(pattern, "ILIKE")
        return Miss(pattern, None)

    def _closest_value(self, value: str) -> str | None:
        """The value meant: same letters in another case or spacing, a close spelling, one
        containing the other, or one whose documented meaning has the literal's words
        (``'car'`` → ``auto``: "car insurance")."""
        ranked = ranked_values(value, self.values)
        if not ranked:
            return None
        best = ranked[0]
        if best.lower() == value.lower() or normal_value(best) == normal_value(value):
            return best
        wanted = value.lower()
        if difflib.SequenceMatcher(None, wanted, best.lower()).ratio() >= 0.7:
            return best
        if min(len(wanted), len(best)) >= 3 and (wanted in best.lower() or best.lower() in wanted):
            return best
        words = [w for w in terms(value) if len(w) > 2]
        if words:
            for candidate, meaning in zip(self.values, self.meanings, strict=False):
                described = set(terms(meaning))
                if described and all(w in described for w in words):
                    return candidate
        return None

    def describe(self, first: str | None = None) -> str:
        """The domain in words, e.g. ``one of paid, denied`` (values near `first` first)."""
        if self.values:
            ordered = ranked_values(first, self.values) if first else list(self.values)
            return "one of " + listed(ordered)
        examples = ", ".join(quoted(e) for e in self.examples[:3])
        if self.case is not None and not (self.pattern or self.shape):
            return f"written in {self.case} case, like {examples}"
        if self.pattern:
            shown = clip(self.pattern)
            kind = f"{self.source} text " if self.source else ""
            return f"{kind}matching {shown}" + (f" (e.g. {examples})" if examples else "")
        return f"like {examples}" if examples else "of a known format"


def _python_regex(pattern: str) -> re.Pattern[str] | None:
    """PostgreSQL's regex `pattern` as a Python one, or None when it uses what Python reads
    otherwise (word boundaries ``\\m``, ``\\y``, embedded options…)."""
    for posix, python in _POSIX_CLASSES.items():
        pattern = pattern.replace(posix, python)
    if "[:" in pattern or "(?" in pattern or re.search(r"\\[mMyYZA]", pattern):
        return None
    try:
        return re.compile(pattern)
    except re.error:
        return None


def check_domain(expression: str, column: str) -> tuple[tuple[str, ...], str | None]:
    """(values, pattern) that a CHECK `expression` (pg_get_expr text) on `column` alone
    promises: ``col = ANY (ARRAY[…])``, ``col = 'x'`` or ``col ~ 'pattern'`` (possibly among
    ANDed conditions); ((), None) for anything else."""
    try:
        tree = sqlglot.parse_one(expression, read="postgres")
    except (SqlglotError, RecursionError, ValueError):
        return (), None
    values: tuple[str, ...] = ()
    pattern: str | None = None
    for node in _conjuncts(tree):
        if isinstance(node, exp.EQ) and _is_column(node.this, column):
            right = _unwrap(node.expression)
            if isinstance(right, exp.Any):
                array = _unwrap(right.this)
                if isinstance(array, exp.Array):
                    strings = [_literal(item) for item in array.expressions]
                    if strings and all(s is not None for s in strings):
                        values = tuple(s for s in strings if s is not None)
            elif (literal := _literal(right)) is not None:
                values = (literal,)
        elif isinstance(node, exp.RegexpLike) and _is_column(node.this, column):
            pattern = _literal(node.expression)
    return values, pattern


def _conjuncts(node: exp.Expr | None) -> list[exp.Expr]:
    inner = _unwrap(node)
    if isinstance(inner, exp.And):
        return _conjuncts(inner.this) + _conjuncts(inner.expression)
    return [inner] if inner is not None else []


def _unwrap(node: exp.Expr | None) -> exp.Expr | None:
    while isinstance(node, exp.Paren | exp.Cast):
        node = node.this
    return node


def _is_column(node: exp.Expr | None, column: str) -> bool:
    node = _unwrap(node)
    return isinstance(node, exp.Column) and node.name == column


def _literal(node: exp.Expr | None) -> str | None:
    node = _unwrap(node)
    return str(node.this) if isinstance(node, exp.Literal) and node.is_string else None


def domain_of(
    *,
    column: str,
    enum_values: Sequence[str],
    checks: Sequence[str],
    allowed_values: Mapping[str, str],
    examples: Sequence[Any],
    json_type: str | None = None,
) -> Domain | None:
    """The domain of one column, or None when nothing is known about its values.
    `allowed_values` maps each documented value to its meaning. `json_type`: the column is
    a documented key of a json column, of that type, read as text with ``->>``."""
    check_values: tuple[str, ...] = ()
    pattern = None
    for expression in checks:
        found, found_pattern = check_domain(expression, column)
        check_values = check_values or found
        pattern = pattern or found_pattern
    text_examples = tuple(e for e in examples if isinstance(e, str))
    for values, source in (
        (tuple(enum_values), "enum labels"),
        (check_values, "CHECK constraint"),
        (tuple(allowed_values), "schema docs"),
    ):
        if values:
            meanings = tuple(allowed_values.get(value, "") for value in values)
            return Domain(values, source, examples=text_examples, meanings=meanings)
    if json_type is not None and (typed := _json_text_domain(json_type)) is not None:
        return typed
    if pattern and _python_regex(pattern) is not None:
        return Domain(pattern=pattern, examples=text_examples)
    shape = examples_shape(examples)
    if shape is not None:
        return Domain(shape=shape, examples=text_examples)
    case = examples_case(examples)
    if case is not None:
        return Domain(case=case, examples=text_examples)
    return None


#: What ``->>`` makes of a JSON boolean and number: ``true``/``false`` in lower case, digits.
JSON_BOOLEAN = Domain(
    ("true", "false"),
    "JSON boolean",
    meanings=("JSON true, as ->> reads it", "JSON false, as ->> reads it"),
)
_JSON_INTEGER = Domain(source="JSON integer", pattern=r"^-?[0-9]+$", examples=("16",))
_JSON_NUMBER = Domain(
    source="JSON number", pattern=r"^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$", examples=("2.5",)
)


def _json_text_domain(json_type: str) -> Domain | None:
    """The text ``->>`` gives for a key of `json_type` (the schema docs' word for it)."""
    kind = json_type.strip().lower()
    if kind in ("boolean", "bool"):
        return JSON_BOOLEAN
    if kind in ("integer", "int", "bigint", "smallint"):
        return _JSON_INTEGER
    if kind in ("number", "numeric", "float", "double precision", "real", "decimal"):
        return _JSON_NUMBER
    return None
