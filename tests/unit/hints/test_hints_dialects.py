"""Other dialects' readings of a refused attempt: tried in order, bounded, guard-checked."""

from __future__ import annotations

import time

import pytest

from sqlgateway.errors import GuardError
from sqlgateway.guard import GuardPolicy, Verdict, check_sql
from sqlgateway.hints.dialects import (
    MAX_SHOWN_SQL_CHARS,
    Translation,
    likely_dialects,
    sniff,
    translation_hint,
)
from sqlgateway.hints.foreign import FOREIGN_FUNCTIONS, foreign_function_hint


def approve(sql: str) -> Verdict | None:
    try:
        return check_sql(sql, GuardPolicy())
    except GuardError:
        return None


@pytest.mark.parametrize(
    ("text", "first"),
    [
        ("SELECT TOP 5 * FROM claims", "tsql"),
        ("SELECT [status] FROM claims", "tsql"),
        ("SELECT `status` FROM claims", "mysql"),
        ("SELECT * FROM claims WHERE ROWNUM <= 5", "oracle"),
        ("SELECT strftime('%Y', reported_at) FROM claims", "sqlite"),
        ("SELECT * FROM claims LIMIT 10, 5", "mysql"),
        ("SELECT 'a' + b FROM claims", "tsql"),
        # functions of one dialect (or of a few) read by many: the label is the habit's own
        ("SELECT JSON_EXTRACT_SCALAR(details, '$.channel') FROM claims", "bigquery"),
        ("SELECT TIMESTAMP_TRUNC(reported_at, MONTH) FROM claims", "bigquery"),
        ("SELECT CONVERT_TIMEZONE('UTC', reported_at) FROM claims", "snowflake"),
        ("SELECT details:vehicle.make::string FROM claims", "snowflake"),
        ("SELECT a FROM claims QUALIFY ROW_NUMBER() OVER (ORDER BY b) = 1", "bigquery"),
        ("SELECT MEDIAN(amount_claimed) FROM claims", "snowflake"),
        ("SELECT ARG_MAX(claim_id, amount_claimed) FROM claims", "duckdb"),
        ("SELECT TRUNC(reported_at, 'MM') FROM claims", "oracle"),
        ("SELECT TO_DATE(reported_at, 'YYYY-MM-DD') FROM claims", "oracle"),
        ("SELECT JSON_UNQUOTE(JSON_EXTRACT(details, '$.a')) FROM claims", "mysql"),
        ("SELECT RAND() FROM claims", "mysql"),
    ],
)
def test_the_habits_the_text_shows_order_the_dialects(text: str, first: str) -> None:
    assert likely_dialects(text)[0] == first
    assert likely_dialects(text, cued=True)[0] == first


def test_without_a_habit_nothing_is_cued() -> None:
    assert likely_dialects("SELECT status FROM claims WHERE x = ARRAY[1]", cued=True) == []
    assert likely_dialects("SELECT x::int, y::text FROM claims", cued=True) == []  # not details:a
    assert len(likely_dialects("SELECT 1")) == 7


@pytest.mark.parametrize(
    ("text", "dialect", "sql"),
    [
        ("SELECT TOP 5 claim_id FROM claims", "tsql", "SELECT claim_id FROM claims LIMIT 5"),
        ("SELECT ISNULL(amount_approved, 0) FROM claims", "tsql", "COALESCE(amount_approved, 0)"),
        ("SELECT `status` FROM claims", "mysql", 'SELECT "status" FROM claims'),
        ("SELECT * FROM claims WHERE ROWNUM <= 5", "oracle", "SELECT * FROM claims LIMIT 5"),
        ("SELECT JSON_EXTRACT_SCALAR(details, '$.channel') FROM claims", "bigquery",
         "SELECT details ->> 'channel' FROM claims"),
        ("SELECT count(*) FROM claims WHERE JSON_EXTRACT(details, '$.injuries') = true", "mysql",
         "CAST(details ->> 'injuries' AS BOOLEAN) = TRUE"),
        ("SELECT details:vehicle.make::string FROM claims", "snowflake",
         "SELECT details -> 'vehicle' ->> 'make' FROM claims"),
        ("SELECT CONVERT_TIMEZONE('UTC', 'America/New_York', reported_at) FROM claims",
         "snowflake", "AT TIME ZONE 'America/New_York'"),
        ("SELECT MEDIAN(amount_claimed) FROM claims", "snowflake", "PERCENTILE_CONT(0.5)"),
        ("SELECT MAX_BY(claim_id, amount_claimed) FROM claims", "snowflake",
         "(ARRAY_AGG(claim_id ORDER BY amount_claimed DESC NULLS LAST))[1]"),
    ],
)  # fmt: skip
def test_the_first_reading_the_guard_accepts(text: str, dialect: str, sql: str) -> None:
    found = sniff(text, approve)
    assert found is not None and found.dialect == dialect and sql in found.sql


def test_a_reading_that_means_what_postgresql_read_is_no_hint() -> None:
    text = "SELECT count(*) FROM claims WHERE status = 'x' AND claim_id = 1"
    postgres = check_sql(text, GuardPolicy()).sql
    assert sniff(text, approve, postgres_sql=postgres) is None
    json = "SELECT count(*) FROM claims WHERE details->>'injuries' = 'true'"
    postgres = check_sql(json, GuardPolicy()).sql
    assert sniff(json, approve, postgres_sql=postgres, cued=True) is None  # no habit shown


@pytest.mark.parametrize(
    ("text", "sql"),
    [
        ("SELECT TRUNC(reported_at, 'MM') AS m, count(*) FROM claims GROUP BY 1",
         "DATE_TRUNC('month', reported_at)"),
        ("SELECT TO_DATE(reported_at, 'YYYY-MM-DD') FROM claims", "CAST(reported_at AS DATE)"),
    ],
)  # fmt: skip
def test_oracle_dates_postgresql_ran_and_failed_on_read_as_oracle(text: str, sql: str) -> None:
    """PostgreSQL reads both, the guard accepts them, and they fail when run (trunc and
    to_date of a timestamp do not exist): the cued reading is Oracle's."""
    postgres = check_sql(text, GuardPolicy()).sql
    found = sniff(text, approve, postgres_sql=postgres, cued=True)
    assert found is not None and found.dialect == "oracle" and sql in found.sql


def test_a_reading_the_guard_refuses_is_no_hint() -> None:
    assert sniff("SELECT TOP 1 pg_read_file('x') FROM claims", approve) is None
    assert sniff("DELETE TOP (5) FROM claims", approve) is None


def test_long_and_deep_texts_cost_little() -> None:
    started = time.process_time()
    assert sniff("SELECT " + "1 + " * 30_000 + "1", approve) is None  # over the length limit
    deep = "SELECT TOP 1 " + "(" * 99 + "1" + ")" * 99 + " FROM claims"
    sniff(deep, approve, budget_s=0.015)
    assert time.process_time() - started < 5  # generous: the figure is measured in bench/


def test_the_likeliest_dialect_is_tried_whatever_the_budget() -> None:
    # the budget is CPU time: a thread that waited for a core still gets its likeliest reading
    for text, dialect in (
        ("SELECT TOP 5 claim_id FROM claims", "tsql"),
        ("SELECT `a` FROM t", "mysql"),
    ):
        found = sniff(text, approve, budget_s=0)
        assert found is not None and found.dialect == dialect


def test_hints_are_bounded_and_name_the_dialect() -> None:
    hint = translation_hint(Translation("tsql", "SELECT " + "x, " * 1000 + "y"))
    assert hint.startswith('this reads as tsql SQL: resend the same text with "dialect": "tsql"')
    assert len(hint) < MAX_SHOWN_SQL_CHARS + 200
    assert foreign_function_hint("ISNULL") == "PostgreSQL has no isnull(): write coalesce(x, 0)"
    assert foreign_function_hint("coalesce") is None


@pytest.mark.parametrize(
    ("name", "spelling"),
    [
        ("FIRST", "min(x)"),
        ("first", "DISTINCT ON"),
        ("LAST", "(array_agg(x ORDER BY ts DESC))[1]"),
        ("TIMESTAMP_TRUNC", "date_trunc('month', ts)"),
        ("JSON_EXTRACT_SCALAR", "doc ->> 'key'"),
        ("DATEFROMPARTS", "make_date("),
        ("CONVERT_TIMEZONE", "AT TIME ZONE"),
    ],
)
def test_foreign_functions_name_the_postgresql_way(name: str, spelling: str) -> None:
    hint = foreign_function_hint(name)
    assert hint is not None and spelling in hint


def test_every_foreign_function_is_one_the_guard_refuses() -> None:
    """An entry for a function the guard lets through would never be shown (the hint is for
    a refusal): PostgreSQL functions (trunc, any_value, json_value…) have no place here.
    date_add is PostgreSQL 16's too (with an interval); MySQL's habit fails when run."""
    for name in FOREIGN_FUNCTIONS.keys() - {"date_add"}:
        with pytest.raises(GuardError):
            check_sql(f"SELECT {name}(x) FROM claims", GuardPolicy())
