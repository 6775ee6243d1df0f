"""parse.py alone: tokenizing, the token screen, parsing into exactly one tree."""

from __future__ import annotations

import pytest
from sqlglot import exp

from sqlgateway.errors import GuardError, RejectedError, SQLSyntaxError
from sqlgateway.guard.parse import MAX_NESTING, parse_tokens, screen_tokens, tokenize


def tree_of(sql: str) -> exp.Expr:
    return parse_tokens(screen_tokens(tokenize(sql), sql), sql)


def test_tokenize_reports_unterminated_strings() -> None:
    with pytest.raises(SQLSyntaxError) as caught:
        tokenize("SELECT 'x")
    assert caught.value.position == 8


@pytest.mark.parametrize("sql", ["SELECT 1;", "SELECT 1 ;  -- done", "SELECT 1; /* end */"])
def test_one_trailing_semicolon_is_fine(sql: str) -> None:
    assert [token.text for token in screen_tokens(tokenize(sql), sql)] == ["SELECT", "1"]


@pytest.mark.parametrize(
    "sql",
    ["SELECT 1; SELECT 2", "SELECT 1;;", ";SELECT 1", "SELECT 1; ;", "SELECT 1;\n;"],
)
def test_more_semicolons_are_multiple_statements(sql: str) -> None:
    with pytest.raises(RejectedError) as caught:
        screen_tokens(tokenize(sql), sql)
    assert caught.value.construct == "multiple statements"


@pytest.mark.parametrize("sql", ["", " ", ";", "-- nothing", "/* nothing */ ;"])
def test_empty_input_is_refused(sql: str) -> None:
    with pytest.raises(RejectedError) as caught:
        screen_tokens(tokenize(sql), sql)
    assert caught.value.construct == "empty statement"


@pytest.mark.parametrize(
    "sql",
    [
        'SELECT U&"pg\\005fsleep"(1)',
        'SELECT u&"x"',
        "SELECT U&'\\0041'",
        "SELECT U&'!0041' UESCAPE '!'",
        'SELECT * FROM U&"t"',
    ],
)
def test_unicode_escapes_are_refused(sql: str) -> None:
    with pytest.raises(RejectedError) as caught:
        screen_tokens(tokenize(sql), sql)
    assert caught.value.construct == "U& Unicode escape"


def test_spaced_ampersand_is_a_bitwise_and() -> None:
    sql = 'SELECT u & "x" FROM t'
    screen_tokens(tokenize(sql), sql)


def test_nesting_is_bounded() -> None:
    inside = "SELECT " + "(" * MAX_NESTING + "1" + ")" * MAX_NESTING
    screen_tokens(tokenize(inside), inside)
    too_deep = "SELECT " + "(" * (MAX_NESTING + 1) + "1" + ")" * (MAX_NESTING + 1)
    with pytest.raises(RejectedError) as caught:
        screen_tokens(tokenize(too_deep), too_deep)
    assert caught.value.construct == "deep nesting"


def test_brackets_count_towards_nesting() -> None:
    sql = "SELECT x" + "[" * (MAX_NESTING + 1) + "1" + "]" * (MAX_NESTING + 1)
    with pytest.raises(RejectedError):
        screen_tokens(tokenize(sql), sql)


@pytest.mark.parametrize(
    ("call", "rendered"),
    [
        ("to_hex(255)", "to_hex(255)"),
        ("to_number('1,0', '9G9')", "to_number('1,0', '9G9')"),
        ("strpos('ab', 'b')", "strpos('ab', 'b')"),
        ("now()", "now()"),
        ("date_trunc('month', x)", "date_trunc('month', x)"),
        ("count(DISTINCT x)", "count(DISTINCT x)"),
        ("array_agg(x ORDER BY y DESC)", "array_agg(x ORDER BY y DESC)"),
        ('"MyFunc"(x)', '"MyFunc"(x)'),
        ("Log10(x)", "Log10(x)"),
    ],
)
def test_ordinary_calls_stay_verbatim(call: str, rendered: str) -> None:
    from sqlgateway.guard.render import render

    tree = tree_of(f"SELECT {call}")
    assert isinstance(tree.expressions[0], exp.Anonymous)
    assert render(tree) == f"SELECT {rendered}"


def test_special_syntax_functions_stay_typed() -> None:
    tree = tree_of("SELECT extract(year FROM x), trim(both 'x' FROM y), position('a' IN z)")
    assert [type(node) for node in tree.expressions] == [exp.Extract, exp.Trim, exp.StrPosition]


def test_parse_errors_become_syntax_errors() -> None:
    with pytest.raises(SQLSyntaxError) as caught:
        tree_of("SELECT * FROM claims WHERE")
    assert caught.value.line == 1
    assert "near" in caught.value.message


@pytest.mark.parametrize(
    "sql",
    ["SELECT " + "NOT " * 5000 + "true", "SELECT " + "- " * 20000 + "1"],
)
def test_recursion_is_refused_not_crashed(sql: str) -> None:
    with pytest.raises(RejectedError) as caught:
        tree_of(sql)
    assert caught.value.construct == "deep nesting"


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT " + "ARRAY[" * 30 + "1" + "]" * 30,
        "SELECT " + "(SELECT * FROM t, LATERAL " * 40 + "1" + ") s" * 40,
    ],
)
def test_exponential_backtracking_is_cut_off(sql: str) -> None:
    with pytest.raises(RejectedError) as caught:
        tree_of(sql)
    assert caught.value.construct == "parser work limit"


def test_moderately_nested_arrays_still_parse() -> None:
    tree_of("SELECT ARRAY[ARRAY[ARRAY[1, 2], ARRAY[3, 4]], ARRAY[ARRAY[5, 6], ARRAY[7, 8]]]")


def test_exactly_one_tree() -> None:
    assert isinstance(tree_of("SELECT 1"), exp.Select)
    with pytest.raises(GuardError):
        tree_of("SELECT 1 garbage garbage")
