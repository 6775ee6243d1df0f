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
        ]
    ),
    "sqlite": frozenset(["strftime", "julianday", "datetime", "ifnull", "glob"]),
    "snowflake": frozenset(
        ["iff", "dateadd", "datediff", "zeroifnull", "nvl", "listagg", "to_varchar"]
    ),
    "bigquery": frozenset(
        ["`", "safe_cast", "date_sub", "timestamp_sub", "format_date", "countif", "date_diff"]
    ),
    "duckdb": frozenset(["epoch_ms", "list_aggregate"]),
}
_WORDS = re.compile(r"limit\s+[^\s,]+\s*,|array\s*\[|[a-z_][a-z0-9_]*|[\[`]|'\s*\+|\+\s*'")


@dataclass(frozen=True, slots=True)
class Translation:
    dialect: str
    sql: str  # the PostgreSQL translation (which the guard approved)


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
        return Translation(dialect, translated)
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


#: Functions of other dialects a translation keeps as they are (sqlglot cannot say what they
#: are in PostgreSQL, or the dialect was not recognised), with their PostgreSQL spelling.
FOREIGN_FUNCTIONS: dict[str, str] = {
    "timestampdiff": "extract(epoch FROM later - earlier) / 86400 (days), or later::date - "
    "earlier::date",
    "datediff": "later::date - earlier::date (days), or extract(epoch FROM later - earlier) / 3600 "
    "(hours)",
    "dateadd": "ts + interval '30 days' (or - interval '1 month')",
    "timestampadd": "ts + interval '1 day'",
    "date_add": "ts + interval '30 days'",
    "date_sub": "ts - interval '30 days'",
    "adddate": "ts + interval '30 days'",
    "subdate": "ts - interval '30 days'",
    "getdate": "now() (or current_date)",
    "getutcdate": "now()",
    "sysdate": "now()",
    "sysdatetime": "now()",
    "isnull": "coalesce(x, 0)",
    "ifnull": "coalesce(x, 0)",
    "nvl": "coalesce(x, 0)",
    "zeroifnull": "coalesce(x, 0)",
    "nvl2": "CASE WHEN x IS NOT NULL THEN a ELSE b END",
    "iif": "CASE WHEN condition THEN a ELSE b END",
    "iff": "CASE WHEN condition THEN a ELSE b END",
    "decode": "CASE x WHEN a THEN b ELSE c END",
    "len": "length(x)",
    "year": "extract(year FROM ts)",
    "month": "extract(month FROM ts)",
    "day": "extract(day FROM ts)",
    "quarter": "extract(quarter FROM ts)",
    "weekday": "extract(dow FROM ts)",
    "dayofweek": "extract(dow FROM ts)",
    "datepart": "extract(year FROM ts) (or month, day, hour…)",
    "datename": "to_char(ts, 'Month') (or 'Day')",
    "strftime": "to_char(ts, 'YYYY-MM')",
    "date_format": "to_char(ts, 'YYYY-MM')",
    "format_date": "to_char(ts, 'YYYY-MM')",
    "curdate": "current_date",
    "curtime": "current_time(0)",
    "today": "current_date",
    "group_concat": "string_agg(x, ', ')",
    "listagg": "string_agg(x, ', ')",
    "charindex": "strpos(text, 'part')",
    "instr": "strpos(text, 'part')",
    "locate": "strpos(text, 'part')",
    "substring_index": "split_part(text, 'delimiter', n)",
    "ucase": "upper(x)",
    "lcase": "lower(x)",
    "rand": "random()",
    "julianday": "extract(epoch FROM ts) / 86400",
    "unix_timestamp": "extract(epoch FROM ts)",
    "from_unixtime": "to_timestamp(seconds)",
    "str_to_date": "to_date('2025-01-31', 'YYYY-MM-DD')",
    "last_day": "(date_trunc('month', d) + interval '1 month - 1 day')::date",
    "eomonth": "(date_trunc('month', d) + interval '1 month - 1 day')::date",
    "add_months": "d + interval '3 months'",
    "months_between": "extract(year FROM age(b, a)) * 12 + extract(month FROM age(b, a))",
    "median": "percentile_cont(0.5) WITHIN GROUP (ORDER BY x)",
    "stdev": "stddev(x)",
    "countif": "count(*) FILTER (WHERE condition)",
    "safe_divide": "x / NULLIF(y, 0)",
    "try_cast": "CAST(x AS type)",
    "safe_cast": "CAST(x AS type)",
    "top": "ORDER BY … LIMIT n at the end of the query",
    "convert": "CAST(x AS type), or to_char(ts, 'YYYY-MM-DD') for text",
    "datetime": "now(), or timestamp '2025-01-31 12:00:00'",
    "newid": "random() (to shuffle: ORDER BY random())",
}


#: Pseudo-columns of other dialects, which PostgreSQL reads as unknown columns.
FOREIGN_COLUMNS: dict[str, str] = {
    "rownum": "ORDER BY … LIMIT n at the end of the query instead of ROWNUM <= n",
    "sysdate": "now() (or current_date)",
    "systimestamp": "now()",
    "getdate": "now()",
    "rowid": "the table's primary key",
}


def foreign_column_hint(name: str) -> str | None:
    """``PostgreSQL has no rownum: write …`` for another dialect's pseudo-column."""
    spelling = FOREIGN_COLUMNS.get(name.lower())
    return None if spelling is None else f"PostgreSQL has no {name.lower()}: write {spelling}"


def foreign_function_hint(name: str) -> str | None:
    """``PostgreSQL has no isnull(): write coalesce(x, 0)`` for a known foreign function."""
    spelling = FOREIGN_FUNCTIONS.get(name.lower())
    if spelling is None:
        return None
    return f"PostgreSQL has no {name.lower()}(): write {spelling}"


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
