"""syntax.py alone, and the syntax errors check_sql reports."""

from __future__ import annotations

import pytest

from sqlgateway.errors import SQLSyntaxError
from sqlgateway.errors import caret_excerpt as excerpt
from sqlgateway.guard import GuardPolicy, check_sql
from sqlgateway.guard.syntax import locate, syntax_error, unterminated_at


@pytest.mark.parametrize(
    ("sql", "offset", "line", "column"),
    [
        ("SELECT 1", 0, 1, 1),
        ("SELECT 1", 7, 1, 8),
        ("SELECT\n  1", 9, 2, 3),
        ("a\r\nb", 3, 2, 1),
        ("x\n\ny", 3, 3, 1),
        ("abc", 99, 1, 4),
    ],
)
def test_locate(sql: str, offset: int, line: int, column: int) -> None:
    assert locate(sql, offset) == (line, column)


def test_excerpt_puts_the_caret_under_the_offset() -> None:
    text = excerpt("SELECT *\nFROM t WHERE x = = 1\nLIMIT 1", 9 + 15)
    shown, caret = text.split("\n")
    assert shown == "  FROM t WHERE x = = 1"
    assert caret == "  " + " " * 15 + "^"
    assert shown[caret.index("^")] == "="


def test_excerpt_clips_long_lines_and_keeps_the_caret_aligned() -> None:
    sql = "SELECT " + ", ".join(f"column_{i}" for i in range(60)) + " FROM"
    offset = sql.index("column_42")
    shown, caret = excerpt(sql, offset).split("\n")
    assert len(shown) <= 2 + 72
    assert shown[caret.index("^") :].startswith("column_42")


def test_excerpt_replaces_tabs_one_for_one() -> None:
    shown, caret = excerpt("\tSELECT\tx", 8).split("\n")
    assert "\t" not in shown
    assert shown[caret.index("^")] == "x"


def test_syntax_error_fields() -> None:
    error = syntax_error(
        "SELECT\n  1 +", 11, "Required keyword missing for <class 'sqlglot.x.Add'>."
    )
    assert (error.line, error.column, error.position) == (2, 5, 12)
    assert error.message.startswith(
        "syntax error at line 2, column 5: Required keyword missing for Add"
    )
    assert error.message.endswith("  1 +\n      ^")
    assert error.hint


def test_syntax_error_without_position() -> None:
    error = syntax_error("x", None, "the SQL could not be parsed")
    assert (error.line, error.column, error.position) == (None, None, None)
    assert error.message == "syntax error: the SQL could not be parsed"


@pytest.mark.parametrize(
    ("sql", "found"),
    [
        ("SELECT 1", None),
        ("SELECT 'abc", (7, "unterminated quoted string")),
        ("SELECT 'it''s", (7, "unterminated quoted string")),
        ("SELECT 'a\\' AS x", None),
        ("SELECT E'a\\'", (8, "unterminated quoted string")),
        ("SELECT E'a\\''", None),
        ('SELECT "abc', (7, "unterminated quoted identifier")),
        ('SELECT "a""b" FROM "t', (19, "unterminated quoted identifier")),
        ("SELECT $$abc", (7, "unterminated dollar-quoted string")),
        ("SELECT $q$ $$ $q", (7, "unterminated dollar-quoted string")),
        ("SELECT $1, x$y$", None),
        ("SELECT 1 /* a /* b */", (9, "unterminated /* comment")),
        ("SELECT 1 /* a /* b */ */", None),
        ("SELECT 1 -- 'not a string", None),
        ("SELECT '--' || \"/*\"", None),
    ],
)
def test_unterminated_at(sql: str, found: tuple[int, str] | None) -> None:
    assert unterminated_at(sql) == found


@pytest.mark.parametrize(
    ("sql", "line", "column", "near"),
    [
        ("SELECT * FROM claims\nWHERE x = = 1", 2, 11, "="),
        ("SELECT * FRM claims", 1, 14, "claims"),
        ("SELECT 1 + FROM claims", 1, 12, "FROM"),
        ("SELECT (1", 1, 9, "1"),
        ("SELECT 1 FROM claims c c", 1, 24, "c"),
        ("SELECT 'a\nbc' 'x\ny' z z", 3, 6, "z"),
        ("SELECT 1 FROM t\r\nWHERE x = = 1", 2, 11, "="),
        ("SELECT éé, 'ü' x x", 1, 18, "x"),
        ("SELECT " + "x, " * 100 + "FROM", 1, 308, "FROM"),
    ],
)
def test_check_sql_reports_parse_errors_with_a_caret(
    sql: str, line: int, column: int, near: str
) -> None:
    with pytest.raises(SQLSyntaxError) as caught:
        check_sql(sql, GuardPolicy())
    error = caught.value
    assert (error.line, error.column) == (line, column)
    assert error.position is not None
    assert sql[error.position - 1 :].startswith(near)
    assert f"line {line}, column {column}" in error.message
    shown, caret = error.message.split("\n")[-2:]
    assert caret.strip() == "^"
    assert shown[caret.index("^") :].startswith(near)


@pytest.mark.parametrize(
    ("sql", "column", "what"),
    [
        ("SELECT 'abc FROM claims", 8, "unterminated quoted string"),
        ('SELECT "abc FROM claims', 8, "unterminated quoted identifier"),
        ("SELECT $$abc FROM claims", 8, "unterminated dollar-quoted string"),
        ("SELECT 1 /* never closed", 10, "unterminated /* comment"),
    ],
)
def test_check_sql_reports_token_errors_where_the_construct_opens(
    sql: str, column: int, what: str
) -> None:
    with pytest.raises(SQLSyntaxError) as caught:
        check_sql(sql, GuardPolicy())
    error = caught.value
    assert (error.line, error.column, error.position) == (1, column, column)
    assert what in error.message
    assert error.message.endswith("\n  " + " " * (column - 1) + "^")


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT DISTINCT ON claim_id, event_type FROM claim_events",  # sqlglot: ON (claim_id)
        "SELECT DISTINCT ON claim_id claim_id, event_type FROM claim_events",
    ],
)
def test_distinct_on_without_parentheses_is_the_syntax_error_it_is(sql: str) -> None:
    with pytest.raises(SQLSyntaxError) as refused:
        check_sql(sql, GuardPolicy())
    assert "SELECT DISTINCT ON (claim_id) claim_id, event_type" in (refused.value.hint or "")
    assert check_sql("SELECT DISTINCT ON (a) a, b FROM t ORDER BY a", GuardPolicy())
