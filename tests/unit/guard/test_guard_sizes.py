"""sizes: values built from constants far larger than a response are refused before they run."""

from __future__ import annotations

import pytest
from sqlglot import exp

from sqlgateway.errors import RejectedError
from sqlgateway.guard import GuardPolicy, check_sql
from sqlgateway.guard.parse import parse_tokens, screen_tokens, tokenize
from sqlgateway.guard.policy import VALUE_LIMIT_RESPONSES
from sqlgateway.guard.sizes import check_value_sizes
from sqlgateway.guard.verdict_cache import VerdictCache
from sqlgateway.settings import Settings

LIMIT = 1_000


def tree_of(sql: str) -> exp.Expr:
    tokens = tokenize(sql)
    return parse_tokens(screen_tokens(tokens, sql), sql)


def functions_of(tree: exp.Expr) -> list[str]:
    return [n.name.lower() for n in tree.find_all(exp.Anonymous)]


def size_check(sql: str, limit: int = LIMIT) -> bool:
    tree = tree_of(sql)
    return check_value_sizes(tree, functions_of(tree), limit)


@pytest.mark.parametrize(
    ("sql", "at_least", "named"),
    [
        ("SELECT repeat('x', 1001)", 1_001, "repeat"),
        ("SELECT repeat('ab', 501)", 1_002, "repeat"),
        ("SELECT repeat(repeat('x', 40), 40)", 1_600, "repeat"),
        ("SELECT repeat('x', 10 * 101)", 1_010, "repeat"),
        ("SELECT repeat('x', (1.5e3)::int)", 1_500, "repeat"),
        ("SELECT upper(repeat('x', 2000))", 2_000, "repeat"),
        ("SELECT lpad('a', 5000)", 5_000, "lpad"),
        ("SELECT rpad(description, 5000, '.') FROM claims", 5_000, "rpad"),
        ("SELECT array_fill(0, ARRAY[40, 40])", 3_200, "array_fill"),
        ("SELECT array_fill(description, ARRAY[1001]) FROM claims", 1_001, "array_fill"),
        ("SELECT concat(repeat('a', 600), repeat('b', 600))", 1_200, "concat"),
        ("SELECT repeat('a', 600) || repeat('b', 600)", 1_200, "||"),
        ("SELECT format('%2000s', 'x')", 2_000, "format"),
        ("SELECT string_agg('x', '') FROM generate_series(1, 1001)", 1_001, "string_agg"),
        ("SELECT string_agg('x', ',') FROM generate_series(1, 501)", 1_001, "string_agg"),
        ("SELECT string_agg(g::text, '') FROM generate_series(1, 1001) AS g", 1_001, "string_agg"),
        (
            "SELECT string_agg(s.n::text, '' ORDER BY s.n) FROM generate_series(1, 2000) AS s(n)",
            2_000,
            "string_agg",
        ),
        ("SELECT array_agg(1) FROM generate_series(1, 600)", 1_199, "array_agg"),
        (
            "SELECT json_agg(b) FROM generate_series(1, 40) a, generate_series(1, 40) b",
            3_199,
            "json_agg",
        ),
        (
            "SELECT jsonb_agg(v) FROM (VALUES (1), (2)) t(v), generate_series(1, 600)",
            1_199,
            "jsonb_agg",
        ),
        ("SELECT ARRAY(SELECT 1 FROM generate_series(1, 1e4))", 10_000, "array"),
        ("SELECT count(*) FROM claims WHERE claim_number = repeat('9', 5000)", 5_000, "repeat"),
        (
            "SELECT (SELECT string_agg('x', ',') FROM generate_series(0, 2000, 2))",
            2_001,
            "string_agg",
        ),
    ],
)
def test_values_over_the_limit_are_refused_with_a_hint(sql: str, at_least: int, named: str) -> None:
    with pytest.raises(RejectedError) as caught:
        size_check(sql)
    error = caught.value
    assert error.construct == "oversized value"
    assert f"at least {at_least:,} characters" in error.message
    assert error.message.startswith(named)
    assert "length(" in (error.hint or "") and "count(*)" in (error.hint or "")


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT repeat('x', 1000)",
        "SELECT repeat('-', 80), lpad(claim_number, 12, '0') FROM claims",
        "SELECT lpad(description, 100000, '') FROM claims",  # '' fill: it only truncates
        "SELECT repeat(description, 100000) FROM claims",  # sizes of data: not a constant
        "SELECT repeat('x', claim_id::int) FROM claims",
        "SELECT array_fill(0, ARRAY[claim_id::int]) FROM claims",
        "SELECT string_agg('x', ',') FROM generate_series(1, 100000) g WHERE g < 3",
        "SELECT string_agg(DISTINCT 'x', ',') FROM generate_series(1, 100000)",
        "SELECT string_agg('x', ',') FILTER (WHERE false) FROM generate_series(1, 100000)",
        "SELECT g % 2, string_agg('x', ',') FROM generate_series(1, 100000) g GROUP BY 1",
        "SELECT string_agg(c.description, ',') FROM claims c, generate_series(1, 100000)",
        "SELECT string_agg('x', ',') FROM generate_series(1, 100000) a JOIN generate_series(1, 9) b ON a = b",
        "SELECT string_agg('x', '') FROM generate_series(1, 100000, -1)",
        "SELECT count(*) FROM generate_series(1, 100000000)",
        "SELECT generate_series(1, 100000000)",  # rows, not one value: the cost check's business
        "SELECT string_agg(description, ',') FROM claims",
    ],
)
def test_values_within_the_limit_or_of_unknown_size_pass(sql: str) -> None:
    size_check(sql)


def test_the_rule_reads_integers_only_when_something_multiplies() -> None:
    assert size_check("SELECT repeat('x', 5)") is True
    assert size_check("SELECT lpad(claim_number, 12) FROM claims") is True
    assert size_check("SELECT * FROM claims WHERE claim_id = 5") is False
    assert size_check("SELECT upper(description) || 'x' FROM claims LIMIT 5") is False


def test_the_verdict_cache_does_not_reuse_a_verdict_for_other_counts() -> None:
    def guard(sql: str):  # type: ignore[no-untyped-def]
        return check_sql(sql, GuardPolicy())

    cache = VerdictCache(guard, 10)
    assert cache("SELECT repeat('x', 5) AS x").reads_integers is True
    with pytest.raises(RejectedError):
        cache("SELECT repeat('x', 300000000) AS x")
    assert cache.hits == 0


def test_a_long_concatenation_is_estimated_without_recursion() -> None:
    terms = " || ".join(["'ab'"] * 5_000)  # a left-deep tree 5,000 levels deep
    size_check(f"SELECT repeat('x', 2) || {terms}", limit=10_002)
    with pytest.raises(RejectedError) as caught:
        size_check(f"SELECT repeat('x', 2) || {terms}", limit=10_001)
    assert caught.value.message.startswith("|| would build a value of at least 10,002 ")


def test_the_limit_is_ten_responses() -> None:
    assert GuardPolicy().max_value_chars == VALUE_LIMIT_RESPONSES * 95_000
    policy = GuardPolicy.from_settings(Settings(max_response_chars=20_000))
    assert policy.max_value_chars == 200_000
    check_sql("SELECT repeat('x', 200000)", policy)
    with pytest.raises(RejectedError):
        check_sql("SELECT repeat('x', 200001)", policy)
