"""The notices of an answer that ran: what the model should know before trusting the rows.

Pure, and cheap: everything comes from the verdict (cached by shape) and the catalog (cached),
never from another query. A notice says

- that a comparison cannot match, because its literal is outside the column's known domain
  (``loss_type = 'flood'``: the silent zero), naming the valid values or format and, where
  one is likely, the spelling meant (``'Approved'`` → ``'approved'``), also through
  ``upper``/``lower`` (``upper(loss_type) = 'FLOOD'``), and for the documented keys of a
  JSON column (``details->>'channel' = 'Mobile'``), or a key spelled unlike the documented
  one (``details->>'Channel'``: NULL on every row);
- that a timestamp compared with a bare date means midnight (``reported_at = '2025-03-04'``,
  ``BETWEEN '2025-01-01' AND '2025-01-31'``), with the range that covers the whole day;
- how PostgreSQL read text written for another dialect (``[status]``, ``LIMIT 10, 20``);
- which sensitive columns ``*`` left out;
- the schema docs' conventions about the clock when the query reads it (``now()``,
  ``CURRENT_DATE``): a snapshot's "today" is not the server's.

>>> from sqlgateway.catalog.domains import Domain
>>> from sqlgateway.guard.verdict import Comparison
>>> domain_notice(Comparison("loss_type", ("claims",), "=", ("Fire",)), "claims",
...               Domain(values=("theft", "fire")))
"claims.loss_type = 'Fire' matches no row: did you mean 'fire'? (loss_type is one of 'fire', 'theft'; values are case-sensitive)"
"""

from __future__ import annotations

import dataclasses
import datetime
import re
from collections.abc import Iterable, Sequence

from sqlgateway.catalog.domains import JSON_BOOLEAN, Domain, Miss
from sqlgateway.catalog.model import Catalog, ColumnInfo
from sqlgateway.catalog.spelling import quoted
from sqlgateway.guard.verdict import Comparison, Verdict
from sqlgateway.hints.keys import (
    containment_notice,
    json_boolean_notice,
    subject,
    unknown_key_notice,
)

#: Longest notice text an answer carries (all notices joined); longer is clipped.
MAX_NOTICE_CHARS = 1_000
#: Comparisons reported per answer.
MAX_REPORTED = 3


#: Functions that read the clock: a convention naming one of them applies to a query calling
#: any of them ("today" alone is too common a word to tell).
CLOCK_FUNCTIONS = frozenset(
    {
        "now",
        "current_date",
        "current_timestamp",
        "current_time",
        "localtimestamp",
        "localtime",
        "clock_timestamp",
        "statement_timestamp",
        "transaction_timestamp",
    }
)
_CLOCK_WORDS = re.compile(
    r"(?<![\w])(?:" + "|".join(sorted(CLOCK_FUNCTIONS)) + r")(?![\w])", re.IGNORECASE
)


def may_notice(verdict: Verdict) -> bool:
    """Whether an answer to `verdict` may carry a notice before it runs (cheap: most point
    lookups have nothing for the notices to look at)."""
    return bool(verdict.comparisons or verdict.notes or verdict.omitted) or reads_clock(verdict)


def needs_catalog(verdict: Verdict) -> bool:
    """Whether the notices of `verdict` depend on the catalog."""
    return bool(verdict.comparisons) or reads_clock(verdict)


def reads_clock(verdict: Verdict) -> bool:
    """The query compares data with the clock (`SELECT now()` alone reads no table)."""
    return bool(verdict.tables) and not CLOCK_FUNCTIONS.isdisjoint(verdict.functions)


def answer_notices(verdict: Verdict, catalog: Catalog | None) -> list[str]:
    """Every notice for an answer to `verdict` (the truncation notice comes later, from the
    encoder). `catalog` None: only what the verdict alone says."""
    notices: list[str] = []
    if verdict.comparisons and catalog is not None:
        notices += comparison_notices(verdict.comparisons, catalog)
    if catalog is not None and reads_clock(verdict):
        notices += clock_conventions(verdict.functions, catalog)
    notices += verdict.notes
    if verdict.omitted:
        notices.append(omitted_notice(verdict.omitted))
    return notices


def empty_answer_notice(verdict: Verdict, catalog: Catalog | None) -> str | None:
    """What to say if the answer turns out empty (no row, or a count of 0): a case-sensitive
    LIKE on free text (``description LIKE '%burst pipe%'`` where the text says "Burst pipe")
    is the usual reason. Not for columns whose values are known (the domain notice says
    before the query runs whether a value is like the pattern)."""
    if catalog is None:
        return None
    for comparison in verdict.comparisons:
        pattern = comparison.values[0] if comparison.values else ""
        if comparison.operator != "like" or comparison.negated or comparison.applied:
            continue
        if not any(char.isalpha() for char in pattern):
            continue
        found = _column(comparison, catalog.columns_by_relation)
        if found is None:
            continue
        table, column = found
        held = column.key(comparison.key) if comparison.key else column
        domain = held.domain if held is not None else None
        if domain is not None and domain.values:
            continue
        return (
            f"{subject(comparison, table)} LIKE {quoted(pattern)} found nothing, and LIKE is "
            f"case-sensitive: if the text may be written in another case, write "
            f"{subject(comparison)} ILIKE {quoted(pattern)}."
        )
    return None


def omitted_notice(omitted: Sequence[str]) -> str:
    names = ", ".join(dict.fromkeys(omitted))
    return (
        f"* left out the sensitive column(s) {names}: they cannot be read through this "
        "gateway; the other columns are shown"
    )


def comparison_notices(comparisons: Iterable[Comparison], catalog: Catalog) -> list[str]:
    """A notice for each comparison with a literal that cannot match (at most MAX_REPORTED)."""
    by_relation = catalog.columns_by_relation
    remembered = catalog.memo("comparison notices")
    notices: list[str] = []
    for comparison in comparisons:
        found = _column(comparison, by_relation)
        if found is None:
            continue
        table, column = found
        notice = remembered.get(comparison, "")
        if notice == "":  # not seen yet (None: seen, nothing to say)
            notice = _notice(comparison, table, column, catalog)
            remembered[comparison] = notice
        if notice is not None and notice not in notices:  # a key read twice
            notices.append(notice)
            if len(notices) >= MAX_REPORTED:
                break
    return notices


def _notice(comparison: Comparison, table: str, column: ColumnInfo, catalog: Catalog) -> str | None:
    if comparison.operator == "@>":
        return containment_notice(comparison, table, column)
    if comparison.operator == "not in select":
        return null_subquery_notice(comparison, table, column)
    if comparison.operator in ("like", "ilike") and (stars := glob_notice(comparison, table)):
        return stars
    if comparison.key:
        key = column.key(comparison.key)
        if key is None:
            return unknown_key_notice(comparison, table, column)
        if comparison.operator == "->>":
            return None  # a documented key, read
        if key.domain is JSON_BOOLEAN and not comparison.applied:
            return json_boolean_notice(comparison, table)
        column = key
    elif column.type.startswith("timestamp") and not (comparison.cast or comparison.applied):
        return timestamp_notice(comparison, table)
    domain = column.domain
    if domain is not None and comparison.applied:
        domain = applied_domain(domain, comparison.applied)
    if domain is None:
        return None
    notice = domain_notice(comparison, table, domain)
    if notice is not None:
        itself = subject(dataclasses.replace(comparison, applied=""), table)
        notice += _elsewhere(comparison, itself, catalog)
    return notice


def null_subquery_notice(comparison: Comparison, table: str, column: ColumnInfo) -> str | None:
    """``x NOT IN (SELECT col …)`` where col can be NULL: one NULL among the subquery's rows
    and no row passes (x <> NULL is unknown), so the answer is empty or a count of 0."""
    if column.nullable is not True:
        return None
    name = f"{table}.{column.name}"
    return (
        f"NOT IN (SELECT {column.name} FROM {table} …) passes no row at all once the subquery "
        f"returns a NULL, and {name} can be NULL: write NOT EXISTS (SELECT 1 FROM {table} WHERE "
        f"{name} = …), or add WHERE {column.name} IS NOT NULL inside the subquery"
    )


def glob_notice(comparison: Comparison, table: str) -> str | None:
    """A LIKE pattern written with another tool's wildcards, ``*`` for any characters: LIKE's
    are ``%`` and ``_``, so ``'*fire*'`` matches the text ``*fire*`` only."""
    pattern = comparison.values[0]
    if "*" not in pattern or "%" in pattern:
        return None
    fixed = pattern.replace("*", "%")
    operator = ("NOT " if comparison.negated else "") + comparison.operator.upper()
    return (
        f"{subject(comparison, table)} {operator} {quoted(pattern)}: LIKE's wildcards are % "
        f"(any characters) and _ (one character), not *: write {subject(comparison)} "
        f"{operator} {quoted(fixed)}"
    )


def applied_domain(domain: Domain, applied: str) -> Domain | None:
    """The domain of ``upper(col)`` or ``lower(col)``: its listed values so written (a
    pattern or example shape says nothing certain once the case changed)."""
    if not domain.values:
        return None
    change = str.upper if applied == "upper" else str.lower
    meanings = (*domain.meanings, *("",) * (len(domain.values) - len(domain.meanings)))
    changed: dict[str, str] = {}
    for value, meaning in zip(domain.values, meanings, strict=False):
        changed.setdefault(change(value), meaning)
    return Domain(tuple(changed), domain.source, meanings=tuple(changed.values()))


_DATE_ONLY = re.compile(r"\s*(\d{4})-(\d{1,2})-(\d{1,2})\s*")


def timestamp_notice(comparison: Comparison, table: str) -> str | None:
    """A timestamp column compared with bare dates, which PostgreSQL reads as midnight:
    ``= '2025-03-04'`` matches that instant only, ``BETWEEN … AND '2025-01-31'`` and ``<=
    '2025-01-31'`` leave out that last day but its first instant."""
    name, operator = comparison.column, comparison.operator
    days = [_day(value) for value in comparison.values]
    column = f"{table}.{name}"
    if operator == "=" and days and all(days):
        shown = ", ".join(quoted(v) for v in comparison.values[:3])
        if len(days) == 1:
            day = days[0]
            assert day is not None
            whole = f"{name} >= {quoted(day.isoformat())} AND {name} < {quoted(_next(day))}"
            return (
                f"{column} = {shown} matches only the instant {day.isoformat()} 00:00:00 "
                f"({name} is a timestamp): for the whole day write {whole}"
            )
        return (
            f"{column} IN ({shown}{', …' if len(days) > 3 else ''}) matches only midnight of "
            f"each day ({name} is a timestamp): for whole days write {name}::date IN "
            f"({shown}{', …' if len(days) > 3 else ''})"
        )
    if comparison.negated or operator not in ("between", "<="):
        return None
    last = days[-1]
    if last is None:
        return None
    if operator == "between":
        first = comparison.values[0]
        written = f"{column} BETWEEN {quoted(first)} AND {quoted(comparison.values[1])}"
        whole = f"{name} >= {quoted(first)} AND {name} < {quoted(_next(last))}"
    else:
        written = f"{column} <= {quoted(comparison.values[0])}"
        whole = f"{name} < {quoted(_next(last))}"
    return (
        f"{written} stops at {last.isoformat()} 00:00:00 and leaves out the rest of that day "
        f"({name} is a timestamp): to include it write {whole}"
    )


def _day(value: str) -> datetime.date | None:
    match = _DATE_ONLY.fullmatch(value)
    if match is None:
        return None
    try:
        return datetime.date(*(int(part) for part in match.groups()))
    except ValueError:
        return None


def _next(day: datetime.date) -> str:
    return (day + datetime.timedelta(days=1)).isoformat() if day < datetime.date.max else "infinity"


def _column(
    comparison: Comparison, by_relation: dict[str, dict[str, ColumnInfo]]
) -> tuple[str, ColumnInfo] | None:
    """The one relation among the comparison's that has its column, with the column."""
    found: tuple[str, ColumnInfo] | None = None
    for relation in comparison.relations:
        columns = by_relation.get(relation)
        column = columns.get(comparison.column) if columns is not None else None
        if column is not None:
            if found is not None and found[1] is not column:
                return None  # ambiguous: PostgreSQL reports it
            found = relation.rpartition(".")[2], column
    return found


def domain_notice(comparison: Comparison, table: str, domain: Domain) -> str | None:
    """The notice for `comparison` on `table` when a literal is outside `domain`, else None."""
    operator = comparison.operator
    misses = [m for v in comparison.values if (m := domain.miss(v, operator)) is not None]
    if not misses:
        return None
    name = subject(comparison)
    first = misses[0]
    written = _written(comparison, table, misses)
    where = _where(name, domain, first)
    if operator in ("like", "ilike"):
        verb = "matches every row" if comparison.negated else "matches no row"
        if first.fix == "ILIKE":
            return f"{written} {verb}: the values differ in case, use ILIKE ({where})"
        return f"{written} {verb}: no {name} value is like it ({where})"
    if operator == "<>" and not any(m.fix for m in misses):
        return None  # a defensive <> 'unknown' filter: nothing suggests another value was meant
    if len(misses) < len(comparison.values):
        verb = "can never match" if operator == "=" else "excludes nothing"
    else:
        verb = "is true for every row" if operator == "<>" else "matches no row"
    fixes = [
        f"{quoted(m.value)} → {quoted(m.fix)}" if len(misses) > 1 else quoted(m.fix)
        for m in misses
        if m.fix
    ]
    meant = f"did you mean {', '.join(fixes[:3])}? " if fixes else ""
    return f"{written} {verb}: {meant}({where})"


def _written(comparison: Comparison, table: str, misses: Sequence[Miss]) -> str:
    column = subject(comparison, table)
    first = misses[0]
    if comparison.operator in ("like", "ilike"):
        negation = "NOT " if comparison.negated else ""
        return f"{column} {negation}{comparison.operator.upper()} {quoted(first.value)}"
    if len(comparison.values) > 1:
        shown = ", ".join(quoted(m.value) for m in misses[:5])
        return f"{shown} in {column} {'IN' if comparison.operator == '=' else 'NOT IN'} (…)"
    return f"{column} {comparison.operator} {quoted(first.value)}"


def _where(name: str, domain: Domain, first: Miss) -> str:
    if domain.values:
        case = first.fix is not None and first.fix.lower() == first.value.lower()
        suffix = "; values are case-sensitive" if case else ""
        return f"{name} is {domain.describe(first.value)}{suffix}"
    return f"{name} values are {domain.describe()}"


def _elsewhere(comparison: Comparison, column: str, catalog: Catalog) -> str:
    """Where else the literals are values, and the conventions that mention them."""
    extra: list[str] = []
    for value in comparison.values[:5]:
        owners = [o for o in catalog.value_owners.get(value.lower(), ()) if o != column]
        if owners:
            extra.append(f"{quoted(value)} is a value of {' and '.join(owners[:3])}")
        extra += conventions_about(value, catalog)
    return ("; " + "; ".join(dict.fromkeys(extra))) if extra else ""


def clock_conventions(functions: Iterable[str], catalog: Catalog) -> list[str]:
    """The conventions that speak of the clock, for a query calling `functions`."""
    memo = catalog.memo("clock conventions", most=1)
    if "" not in memo:
        memo[""] = [
            " ".join(text.split()) for text in catalog.conventions if _CLOCK_WORDS.search(text)
        ][:2]
    found: list[str] = memo[""]
    if not found:
        return []
    called = sorted(CLOCK_FUNCTIONS.intersection(functions))
    shown = ", ".join(f"{name}()" if name in _CALLED else name.upper() for name in called)
    return [f"{shown} reads the server's clock; conventions: {text}" for text in found]


#: Clock functions written with parentheses (the others are SQL keywords: CURRENT_DATE).
_CALLED = frozenset({"now", "clock_timestamp", "statement_timestamp", "transaction_timestamp"})


def conventions_about(value: str, catalog: Catalog) -> list[str]:
    """The conventions of the schema docs that mention `value` as a word."""
    if len(value) < 3 or len(value) > 40:
        return []
    word = re.compile(rf"(?<![\w]){re.escape(value)}(?![\w])", re.IGNORECASE)
    return [
        f"conventions: {' '.join(text.split())}"
        for text in catalog.conventions
        if word.search(text)
    ][:2]


def joined(notices: Sequence[str]) -> str | None:
    """The notices as one text, each a sentence (the response keeps `notice` one string);
    at most MAX_NOTICE_CHARS characters."""
    text = " ".join(f"{n.rstrip('. ')}." for n in notices if n)
    if len(text) > MAX_NOTICE_CHARS:
        text = text[: MAX_NOTICE_CHARS - 1] + "…"
    return text or None
