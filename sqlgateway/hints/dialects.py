"""Another dialect's habits: is the text valid SQL of another dialect, and what is it in
PostgreSQL?

Pure and bounded. When PostgreSQL cannot read an attempt (or refuses a function PostgreSQL does
not have, or runs it and fails), the same text is read as T-SQL, MySQL, Oracle, SQLite and the
other supported dialects, the likeliest first (`likely_dialects`: ``TOP`` and ``[name]`` say
T-SQL, backticks MySQL, ``ROWNUM`` Oracle…). The first translation that the guard accepts and
that differs from what PostgreSQL made of the text is the hint: it shows the PostgreSQL and
says the same text can be resent with ``"dialect": "<name>"``.

Every parse runs within the guard's parser work budget, texts over MAX_SNIFF_CHARS are not
tried, and no dialect after the likeliest is tried once SNIFF_BUDGET_S of this thread's CPU
time is spent (CPU, not wall time: on a busy machine a thread that waits for a core must still
get its likeliest reading): the error path stays within a few milliseconds whatever the text.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError, TokenError

from sqlgateway.errors import GuardError
from sqlgateway.guard import Verdict
from sqlgateway.guard.dialects import DEFAULT_DIALECT, DIALECTS, to_postgres
from sqlgateway.guard.parse import scan

__all__ = [
    "MAX_SHOWN_SQL_CHARS",
    "MAX_SNIFF_CHARS",
    "SNIFF_BUDGET_S",
    "Translation",
    "likely_dialects",
    "search_hint",
    "sniff",
    "translation_hint",
]

#: Longest text tried in other dialects (a first attempt is a few hundred characters).
MAX_SNIFF_CHARS = 3_000
#: CPU time after which no further dialect is tried, in seconds.
SNIFF_BUDGET_S = 0.010
#: Characters of the translation shown in a hint.
MAX_SHOWN_SQL_CHARS = 600

#: What gives a dialect away, as lower-case words (or these characters) in the text.
_CUES: dict[str, frozenset[str]] = {
    "tsql": frozenset(
        [
            "[",
            "top",
            "getdate",
            "getutcdate",
            "sysdatetime",
            "dateadd",
            "datediff",
            "datepart",
            "datename",
            "isnull",
            "len",
            "iif",
            "convert",
            "nolock",
            "charindex",
            "nvarchar",
            "eomonth",
            "stdev",
            "datefromparts",
            "format",
            "'+",
            "json_value",
            "json_query",
            "newid",
        ]
    ),
    "mysql": frozenset(
        [
            "`",
            "ifnull",
            "date_sub",
            "date_add",
            "curdate",
            "curtime",
            "date_format",
            "timestampdiff",
            "timestampadd",
            "group_concat",
            "regexp",
            "unix_timestamp",
            "str_to_date",
            "limit,",
            "div",
            "json_extract",
            "json_unquote",
            "rand",
        ]
    ),
    "oracle": frozenset(
        [
            "rownum",
            "nvl",
            "nvl2",
            "sysdate",
            "systimestamp",
            "dual",
            "decode",
            "listagg",
            "minus",
            "add_months",
            "months_between",
            "trunc",
            "to_date",
            "median",
            "json_value",
        ]
    ),
    "sqlite": frozenset(["strftime", "julianday", "datetime", "ifnull", "glob", "json_extract"]),
    "snowflake": frozenset(
        [
            "iff",
            "dateadd",
            "datediff",
            "zeroifnull",
            "nvl",
            "listagg",
            "to_varchar",
            "convert_timezone",
            "qualify",
            "median",
            "max_by",
            "min_by",
            "div0",
            "try_to_number",
            "parse_json",
            ":",
        ]
    ),
    "bigquery": frozenset(
        [
            "`",
            "safe_cast",
            "date_sub",
            "timestamp_sub",
            "format_date",
            "countif",
            "date_diff",
            "json_extract_scalar",
            "json_value",
            "json_query",
            "timestamp_trunc",
            "datetime_trunc",
            "timestamp_diff",
            "format_timestamp",
            "parse_date",
            "safe_divide",
            "qualify",
        ]
    ),
    "duckdb": frozenset(
        [
            "epoch_ms",
            "list_aggregate",
            "qualify",
            "median",
            "arg_max",
            "arg_min",
            "max_by",
            "min_by",
            "json_extract_string",
        ]
    ),
}
#: Words, ``LIMIT a,`` and ``ARRAY [``, brackets and backticks, ``'+``, and Snowflake's
#: ``col:key`` (not PostgreSQL's ``::`` cast).
_WORDS = re.compile(
    r"limit\s+[^\s,]+\s*,|array\s*\[|[a-z_][a-z0-9_]*:(?=[a-z_\"])|[a-z_][a-z0-9_]*"
    r"|[\[`]|'\s*\+|\+\s*'"
)


@dataclass(frozen=True, slots=True)
class Translation:
    dialect: str
    sql: str  # the PostgreSQL translation
    verdict: Verdict | None = None  # the guard's on `sql` (approved)


def likely_dialects(text: str, *, cued: bool = False) -> list[str]:
    """The other dialects, those whose habits the text shows most first (ties: DIALECTS
    order, T-SQL first); `cued`: only those it shows a habit of."""
    words = {_cue(word) for word in _WORDS.findall(text[:MAX_SNIFF_CHARS].lower())}
    others = [d for d in DIALECTS if d != DEFAULT_DIALECT]
    score = {d: len(words & _CUES.get(d, frozenset())) for d in others}
    ranked = sorted(others, key=lambda d: (-score[d], others.index(d)))
    return [d for d in ranked if score[d]] if cued else ranked


def _cue(word: str) -> str:
    if word.startswith("limit") and word.endswith(","):
        return "limit,"
    if "+" in word:
        return "'+"
    if word.endswith(":"):
        return ":"
    return word


def sniff(
    text: str,
    approve: Callable[[str], Verdict | None],
    *,
    postgres_sql: str | None = None,
    cued: bool = False,
    budget_s: float = SNIFF_BUDGET_S,
) -> Translation | None:
    """The first other-dialect reading of `text` that `approve` (the guard, with the
    sensitive-column check) accepts, unless it means what `postgres_sql` means (what
    PostgreSQL made of the text, when the guard accepted it: then the dialect changes
    nothing). `cued`: try only dialects whose habits the text shows (for text PostgreSQL
    could read: the failure may have nothing to do with dialects)."""
    if len(text) > MAX_SNIFF_CHARS:
        return None
    deadline = time.thread_time() + budget_s
    # what PostgreSQL made of the text, when the guard accepted it: a reading that means the
    # same shows no other dialect, whatever its spelling
    same = _tree(postgres_sql) if postgres_sql is not None else None
    spelled = _spelling(text)
    for tried, dialect in enumerate(likely_dialects(text, cued=cued)):
        if tried and time.thread_time() > deadline:
            break
        try:
            translated = to_postgres(text, dialect, cache=False)
        except GuardError:
            continue
        if spelled is not None and _spelling(translated) == spelled:
            continue  # the same text: the dialect reads what PostgreSQL read
        verdict = approve(translated)
        if verdict is None or verdict.sql == postgres_sql:
            continue
        if same is not None and _tree(verdict.sql) == same:
            continue
        return Translation(dialect, translated, verdict)
    return None


def _spelling(sql: str) -> list[tuple[object, str]] | None:
    """The PostgreSQL tokens of `sql` (types, texts in lower case), None if it has none."""
    try:
        return [(token.token_type, token.text.lower()) for token in scan(sql)]
    except TokenError:
        return None


def _tree(sql: str) -> exp.Expr | None:
    try:
        return sqlglot.parse_one(sql, read="postgres")
    except (SqlglotError, RecursionError, ValueError):
        return None


def translation_hint(found: Translation) -> str:
    shown = found.sql
    if len(shown) > MAX_SHOWN_SQL_CHARS:
        shown = shown[: MAX_SHOWN_SQL_CHARS - 1] + "…"
    return (
        f"this reads as {found.dialect} SQL: resend the same text with "
        f'"dialect": "{found.dialect}", or write it in PostgreSQL as: {shown}'
    )


#: Substring and full-text searches of other dialects: ``CONTAINS(col, 'x')`` (T-SQL,
#: Snowflake), ``col CONTAINS 'x'``, ``col MATCH 'x'`` (SQLite), ``FREETEXT`` (T-SQL),
#: ``CONTAINS_SUBSTR`` (BigQuery), ``STARTSWITH``/``ENDSWITH`` (Snowflake).
_NAME = r"[A-Za-z_][\w$]*(?:\s*\.\s*[A-Za-z_][\w$]*)?"
_STRING = r"'((?:[^']|'')*)'"
_SEARCH_CALL = re.compile(
    rf"\b(contains|contains_substr|freetext|startswith|endswith)\s*\(\s*({_NAME})\s*,\s*{_STRING}",
    re.IGNORECASE,
)
_SEARCH_INFIX = re.compile(rf"({_NAME})\s+(contains|match)\s+{_STRING}", re.IGNORECASE)
_SEARCH_JOINER = re.compile(r"\s+(and|or)\s+", re.IGNORECASE)


def search_hint(text: str) -> str | None:
    """``description ILIKE '%water%'`` for another dialect's search (``CONTAINS(description,
    'water')``, ``description CONTAINS 'water'``…), written with the attempt's column and
    words."""
    head = text[:MAX_SNIFF_CHARS]
    call = _SEARCH_CALL.search(head)
    found = call or _SEARCH_INFIX.search(head)
    if found is None:
        return None
    column, words = re.sub(r"\s+", "", found.group(1)), found.group(3)
    if call is not None:
        column, function = re.sub(r"\s+", "", call.group(2)), call.group(1).lower()
    else:
        function = found.group(2).lower()
    if function == "startswith":
        fix = f"{column} LIKE '{words}%' (or starts_with({column}, '{words}'))"
    elif function == "endswith":
        fix = f"{column} LIKE '%{words}'"
    else:
        fix = _ilike(column, words)
    if function == "freetext":
        phrase = words.replace('"', "")
        fix += (
            f", or full-text search: to_tsvector('english', {column}) @@ "
            f"plainto_tsquery('english', '{phrase}')"
        )
    shown = f"{function.upper()}()" if call is not None else f"… {function.upper()} '…'"
    hint = f"PostgreSQL has no {shown}: write {fix}"
    return hint if len(hint) <= MAX_SHOWN_SQL_CHARS else None


def _ilike(column: str, words: str) -> str:
    """``col ILIKE '%a%' OR col ILIKE '%b%'`` for a search condition ``'"a*" OR b'``."""
    parts = _SEARCH_JOINER.split(words)
    terms = [p.strip().strip('"*').strip() for p in parts[::2]]
    joiners = [j.upper() for j in parts[1::2]]
    shown = f"{column} ILIKE '%{terms[0]}%'"
    for joiner, term in list(zip(joiners, terms[1:], strict=True))[:3]:
        shown += f" {joiner} {column} ILIKE '%{term}%'"
    return shown + " (any case; LIKE for exact case)"
