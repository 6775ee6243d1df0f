"""check.py: the composed guard, its Verdict, and what may leave it."""

from __future__ import annotations

import contextlib
import doctest
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import sqlgateway.guard
from sqlgateway.errors import GuardError, RejectedError, SQLSyntaxError
from sqlgateway.guard import GuardPolicy, Verdict, check, check_sql, names


def test_public_api() -> None:
    assert sqlgateway.guard.__all__ == ["GuardPolicy", "Verdict", "check_sql"]
    for name in sqlgateway.guard.__all__:
        assert hasattr(sqlgateway.guard, name)


def test_verdict_fields() -> None:
    verdict = check_sql(
        """
        -- paid per product
        SELECT p.product, SUM(pay.amount) AS paid, Count(*)
        FROM Public.Payments pay
        JOIN claims c USING (claim_id)
        JOIN policies p ON p.policy_id = c.policy_id
        WHERE pay.paid_at > now() - interval '30 days'
        GROUP BY p.product
        ORDER BY paid DESC
        LIMIT 10;
        """,
        GuardPolicy(),
    )
    assert verdict == Verdict(
        sql="SELECT p.product, SUM(pay.amount) AS paid, Count(*) FROM Public.Payments AS pay "
        "JOIN claims AS c USING (claim_id) JOIN policies AS p ON p.policy_id = c.policy_id "
        "WHERE pay.paid_at > now() - INTERVAL '30 DAYS' GROUP BY p.product "
        "ORDER BY paid DESC LIMIT 10",
        tables=("claims", "policies", "public.payments"),
        functions=("count", "now", "sum"),
        has_order_by=True,
        has_limit=True,
        nulls_first=(1, "paid"),
    )


def test_verdict_sql_is_generated_not_the_raw_text() -> None:
    verdict = check_sql("select  1 -- comment\n;", GuardPolicy())
    assert verdict.sql == "SELECT 1"


def test_verdict_is_frozen() -> None:
    verdict = check_sql("SELECT 1", GuardPolicy())
    with pytest.raises(AttributeError):
        verdict.sql = "DROP TABLE claims"  # type: ignore[misc]


def test_table_shorthand_becomes_select_star() -> None:
    assert check_sql("TABLE claims", GuardPolicy()).sql == "SELECT * FROM claims"


def test_unexpected_exceptions_are_converted(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*args: Any) -> Any:
        raise KeyError("bug")

    monkeypatch.setattr(check, "walk_tree", explode)
    with pytest.raises(RejectedError) as caught:
        check_sql("SELECT 1", GuardPolicy())
    assert caught.value.construct == "unanalysable query"
    assert "KeyError" in caught.value.message


def test_recursion_anywhere_is_converted(monkeypatch: pytest.MonkeyPatch) -> None:
    def recurse(*args: Any, **options: Any) -> Any:
        raise RecursionError

    monkeypatch.setattr(check, "render", recurse)
    with pytest.raises(RejectedError) as caught:
        check_sql("SELECT 1", GuardPolicy())
    assert caught.value.construct == "deep nesting"


@pytest.mark.parametrize(
    "rendered",
    [
        "SELECT pg_sleep(1)",
        "SELECT 1; DROP TABLE claims",
        "SELECT * FROM payments",
        "SELECT 'unterminated",
    ],
)
def test_rendered_sql_is_checked_again(monkeypatch: pytest.MonkeyPatch, rendered: str) -> None:
    monkeypatch.setattr(check, "render", lambda tree, **options: rendered)
    with pytest.raises(RejectedError) as caught:
        check_sql("SELECT * FROM claims", GuardPolicy())
    assert caught.value.construct == "unstable rendering"


def _counting_parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    parsed: list[str] = []
    real = check.parse_tokens

    def parse_tokens(tokens: Any, sql: str) -> Any:
        parsed.append(sql)
        return real(tokens, sql)

    monkeypatch.setattr(check, "parse_tokens", parse_tokens)
    return parsed


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM claims WHERE claim_id = 7",
        "  SELECT * FROM claims WHERE claim_id = 7 ;\n",
        "SELECT status,\n       count(*)\nFROM claims\nGROUP BY status",
    ],
)
def test_sql_written_as_rendered_is_parsed_once(monkeypatch: pytest.MonkeyPatch, sql: str) -> None:
    parsed = _counting_parses(monkeypatch)
    check_sql(sql, GuardPolicy())
    assert len(parsed) == 1


@pytest.mark.parametrize(
    "sql",
    [
        "select * from claims where claim_id = 7",  # keywords come back upper-case
        "SELECT claim_id::text FROM claims",  # casts come back as CAST(…)
        "SELECT * FROM claims /* the claims */ WHERE claim_id = 7",  # comments are dropped
        "-- why\nSELECT * FROM claims",
        "SELECT * FROM claims c",  # aliases come back with AS
    ],
)
def test_sql_rendered_differently_is_checked_again(
    monkeypatch: pytest.MonkeyPatch, sql: str
) -> None:
    parsed = _counting_parses(monkeypatch)
    rendered = check_sql(sql, GuardPolicy()).sql
    assert parsed == [sql, rendered]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("SELECT a.b FROM t", "SELECT a . b FROM t"),  # glued tokens are read differently
        ("SELECT 'x' 'y'", "SELECT 'x''y'"),
        ("SELECT a FROM t", "SELECT A FROM t"),
        ("SELECT 1 /* c */", "SELECT 1"),
    ],
)
def test_spellings_differ_in_what_the_parser_reads(first: str, second: str) -> None:
    statements = [check._Statement.of(check.tokenize(sql), sql) for sql in (first, second)]
    if statements[0] is not None and statements[1] is not None:
        assert statements[0].spelling() != statements[1].spelling()
    else:
        assert "/*" in first + second


def test_shortcut_gives_the_verdict_of_the_full_recheck(
    monkeypatch: pytest.MonkeyPatch,
    accepted_corpus: list[dict[str, Any]],
    refused_corpus: list[dict[str, Any]],
) -> None:
    def outcome(sql: str) -> Verdict | str:
        try:
            return check_sql(sql, GuardPolicy())
        except GuardError as error:
            return f"{type(error).__name__}: {error.message}"

    sqls = [entry["sql"] for entry in accepted_corpus + refused_corpus]
    fast = [outcome(sql) for sql in sqls]
    monkeypatch.setattr(check._Statement, "of", classmethod(lambda cls, tokens, sql: None))
    assert [outcome(sql) for sql in sqls] == fast
    assert sum(isinstance(result, Verdict) for result in fast) == len(accepted_corpus)


def test_only_guard_errors_leave(refused_corpus: list[dict[str, Any]]) -> None:
    for entry in refused_corpus:
        with pytest.raises(GuardError):
            check_sql(entry["sql"], GuardPolicy())
    with pytest.raises(SQLSyntaxError):
        check_sql("SELECT FROM WHERE", GuardPolicy())


def test_thread_safe(accepted_corpus: list[dict[str, Any]]) -> None:
    sqls = [entry["sql"] for entry in accepted_corpus] * 4
    expected = [check_sql(sql, GuardPolicy()) for sql in sqls]
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(lambda sql: check_sql(sql, GuardPolicy()), sqls)) == expected


def test_same_input_same_verdict() -> None:
    sql = "SELECT status, count(*) FROM claims GROUP BY status"
    assert check_sql(sql, GuardPolicy()) == check_sql(sql, GuardPolicy())


@pytest.mark.parametrize("module", [check, names])
def test_docstring_examples(module: Any) -> None:
    failures, tests = doctest.testmod(module)
    assert tests > 0
    assert failures == 0


PATHOLOGICAL = {
    "nested ARRAY": "SELECT " + "ARRAY[" * 40 + "1" + "]" * 40,
    "nested failing LATERAL": "SELECT " + "(SELECT * FROM t, LATERAL " * 60 + "1" + ") s" * 60,
    "padded nested ARRAY": "SELECT " + "1," * 3000 + "ARRAY[" * 40 + "1" + "]" * 40,
    "long CTE chain": "WITH c0 AS (SELECT 1), "
    + ", ".join(f"c{i} AS (SELECT * FROM c{i - 1})" for i in range(1, 2000))
    + " SELECT * FROM c1999",
    "many strings with backslashes": "SELECT " + ", ".join([r"'\d+'"] * 5000),
    "many dollar signs": "SELECT " + "$" * 50_000 + "'",
    "long OR chain": "SELECT 1 WHERE " + " OR ".join(["x = 1"] * 3000),
    "deep unary chain": "SELECT " + "- " * 20_000 + "1",
}


@pytest.mark.parametrize("sql", PATHOLOGICAL.values(), ids=PATHOLOGICAL.keys())
def test_pathological_input_is_decided_quickly(sql: str) -> None:
    start = time.perf_counter()
    with contextlib.suppress(GuardError):
        check_sql(sql, GuardPolicy())
    assert time.perf_counter() - start < 3.0
