"""Other dialects' readings of a refused attempt: tried in order, bounded, guard-checked."""

from __future__ import annotations

import time

import pytest

from sqlgateway.errors import GuardError
from sqlgateway.guard import GuardPolicy, Verdict, check_sql
from sqlgateway.hints.dialects import (
    MAX_SHOWN_SQL_CHARS,
    Translation,
    foreign_function_hint,
    likely_dialects,
    sniff,
    translation_hint,
)


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
    ],
)
def test_the_habits_the_text_shows_order_the_dialects(text: str, first: str) -> None:
    assert likely_dialects(text)[0] == first
    assert likely_dialects(text, cued=True)[0] == first


def test_without_a_habit_nothing_is_cued() -> None:
    assert likely_dialects("SELECT status FROM claims WHERE x = ARRAY[1]", cued=True) == []
    assert len(likely_dialects("SELECT 1")) == 7


@pytest.mark.parametrize(
    ("text", "dialect", "sql"),
    [
        ("SELECT TOP 5 claim_id FROM claims", "tsql", "SELECT claim_id FROM claims LIMIT 5"),
        ("SELECT ISNULL(amount_approved, 0) FROM claims", "tsql", "COALESCE(amount_approved, 0)"),
        ("SELECT `status` FROM claims", "mysql", 'SELECT "status" FROM claims'),
        ("SELECT * FROM claims WHERE ROWNUM <= 5", "oracle", "SELECT * FROM claims LIMIT 5"),
    ],
)
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
