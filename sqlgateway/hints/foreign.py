"""Other dialects' functions and pseudo-columns that PostgreSQL does not have, with its
spelling: the hint when the guard refuses one (``PostgreSQL has no isnull(): write
coalesce(x, 0)``) or PostgreSQL does not know the column (``rownum``).

Pure data and two look-ups. A function whose whole call another dialect translates gets the
translation as well (dialects.py); this table names the PostgreSQL way when no dialect reads
the text, or the model should learn the idiom rather than resend with ``"dialect"``.
"""

from __future__ import annotations

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
    "first": "min(x), or the first by an order: (array_agg(x ORDER BY ts))[1]; one row per "
    "group: SELECT DISTINCT ON (key) … ORDER BY key, ts",
    "last": "max(x), or the last by an order: (array_agg(x ORDER BY ts DESC))[1]; one row per "
    "group: SELECT DISTINCT ON (key) … ORDER BY key, ts DESC",
    "timestamp_trunc": "date_trunc('month', ts)",
    "datetime_trunc": "date_trunc('month', ts)",
    "date_diff": "later::date - earlier::date (days), or extract(epoch FROM later - earlier)",
    "timestamp_diff": "extract(epoch FROM later - earlier) / 3600 (hours)",
    "datetime_diff": "extract(epoch FROM later - earlier) / 3600 (hours)",
    "convert_timezone": "ts AT TIME ZONE 'America/New_York'",
    "json_extract": "doc -> 'key' (JSON) or doc ->> 'key' (text); nested: doc -> 'a' ->> 'b'",
    "json_extract_scalar": "doc ->> 'key' (nested: doc -> 'a' ->> 'b')",
    "json_extract_string": "doc ->> 'key' (nested: doc -> 'a' ->> 'b')",
    "json_unquote": "doc ->> 'key' (nested: doc -> 'a' ->> 'b')",
    "to_varchar": "x::text, or to_char(ts, 'YYYY-MM-DD')",
    "parse_date": "to_date('2025-01-31', 'YYYY-MM-DD')",
    "format_timestamp": "to_char(ts, 'YYYY-MM')",
    "format_datetime": "to_char(ts, 'YYYY-MM')",
    "datefromparts": "make_date(2025, 1, 31)",
    "date_from_parts": "make_date(2025, 1, 31)",
    "dayofmonth": "extract(day FROM ts)",
    "dayofyear": "extract(doy FROM ts)",
    "weekofyear": "extract(week FROM ts)",
    "hour": "extract(hour FROM ts)",
    "minute": "extract(minute FROM ts)",
    "div0": "x / NULLIF(y, 0)",
    "nullifzero": "NULLIF(x, 0)",
    "try_to_number": "CAST(x AS numeric)",
    "split": "string_to_array(text, ',')",
    "regexp_contains": "text ~ 'pattern'",
    "replicate": "repeat(text, n)",
    "space": "repeat(' ', n)",
    "array_size": "cardinality(array)",
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
