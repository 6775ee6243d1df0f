"""The guard's walk notes valid SQL that rarely means what it says (guard/pitfalls.py)."""

from __future__ import annotations

import pytest

from sqlgateway.guard import GuardPolicy, check_sql
from sqlgateway.guard.pitfalls import DIVISION_NOTE, FRAME_NOTE
from sqlgateway.guard.verdict_cache import VerdictCache


def notes(sql: str) -> tuple[str, ...]:
    return check_sql(sql, GuardPolicy()).notes


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT count(*) FILTER (WHERE status = 'denied') / count(*) * 100 FROM claims",
        "SELECT 100 * count(*) / (SELECT count(*) FROM claims) FROM claims WHERE status = 'paid'",
        "SELECT (count(*) - count(closed_at)) / count(*) AS open_share FROM claims",
        "SELECT loss_type, count(DISTINCT policy_id) / count(*) FROM claims GROUP BY 1",
    ],
)
def test_counts_divided_by_counts_are_noted(sql: str) -> None:
    assert notes(sql) == (DIVISION_NOTE,)


@pytest.mark.parametrize(
    ("sql", "name"),
    [
        (
            "SELECT claim_id, last_value(event_type) OVER (PARTITION BY claim_id ORDER BY "
            "event_id) FROM claim_events",
            "last_value",
        ),
        ("SELECT nth_value(event_type, 2) OVER (ORDER BY event_id) FROM claim_events", "nth_value"),
    ],
)
def test_last_and_nth_value_without_a_frame_are_noted(sql: str, name: str) -> None:
    assert notes(sql) == (FRAME_NOTE.format(name=name),)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT count(*) * 100.0 / count(*) FROM claims",
        "SELECT count(*)::numeric / count(*) FROM claims",
        "SELECT sum(amount_claimed) / count(*) FROM claims",  # numeric: no truncation
        "SELECT avg(amount_claimed) / 2 FROM claims",
        "SELECT count(*) / 2.0 FROM claims",
        "SELECT claim_id / 1000 FROM claims",  # integer division on purpose, and not of counts
        "SELECT last_value(x) OVER (ORDER BY y ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED "
        "FOLLOWING) FROM t",
        "SELECT last_value(x) OVER (PARTITION BY a) FROM t",  # no order: the whole partition
        "SELECT first_value(x) OVER (PARTITION BY a ORDER BY b) FROM t",
        "SELECT row_number() OVER (ORDER BY b) FROM t",
    ],
)
def test_what_means_what_it_says_is_not_noted(sql: str) -> None:
    assert notes(sql) == ()


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT a, sum(b) AS total FROM t GROUP BY a ORDER BY total DESC LIMIT 10", (1, "total")),
        ("SELECT a, sum(b) FROM t GROUP BY 1 ORDER BY 2 DESC", (1, "SUM(b)")),
        ("SELECT a, sum(b) FROM t GROUP BY 1 ORDER BY sum(b) DESC, a", (1, "SUM(b)")),
        ("SELECT t.a, b FROM t ORDER BY a DESC", (0, "a")),
        ("SELECT a FROM t ORDER BY a DESC NULLS LAST", None),  # the author chose
        ("SELECT a FROM t ORDER BY a DESC NULLS FIRST", None),
        ("SELECT a FROM t ORDER BY a", None),
        ("SELECT a FROM t ORDER BY a, b DESC", None),  # the first key is ascending
        ("SELECT a FROM t ORDER BY b DESC", None),  # not an output column: unseen
        ("SELECT a FROM t UNION SELECT b FROM u ORDER BY 1 DESC", None),
    ],
)
def test_the_output_column_a_desc_sort_puts_nulls_first(
    sql: str, expected: tuple[int, str] | None
) -> None:
    assert check_sql(sql, GuardPolicy()).nulls_first == expected


def test_a_sort_by_position_is_not_reused_for_another_position() -> None:
    cache = VerdictCache(lambda sql: check_sql(sql, GuardPolicy()), 10)
    assert cache("SELECT a, b FROM t ORDER BY 2 DESC LIMIT 10").nulls_first == (1, "b")
    assert cache("SELECT a, b FROM t ORDER BY 1 DESC LIMIT 10").nulls_first == (0, "a")
