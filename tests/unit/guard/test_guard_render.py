"""render.py alone: what SQL is written back for a validated tree."""

from __future__ import annotations

import pytest
from sqlglot import exp

from sqlgateway.errors import RejectedError
from sqlgateway.guard import GuardPolicy, check_sql
from sqlgateway.guard.parse import parse_tokens, screen_tokens, tokenize
from sqlgateway.guard.render import render


def tree_of(sql: str) -> exp.Expr:
    return parse_tokens(screen_tokens(tokenize(sql), sql), sql)


def test_comments_are_dropped() -> None:
    sql = "/* a */ SELECT 1 -- b */ ; DROP TABLE claims\n, 2"
    assert render(tree_of(sql)) == "SELECT 1, 2"


def test_quoted_names_keep_their_case() -> None:
    sql = 'SELECT "MyFunc"("Col") FROM "Sales"."Orders"'
    assert render(tree_of(sql)) == sql


def test_strings_with_backslashes_become_escape_strings() -> None:
    sql = r"SELECT '\d+' AS a, $$x\y$$ AS b, N'z\w' AS c, 'plain' AS d, E'\\' AS e"
    assert render(tree_of(sql)) == (
        r"SELECT e'\\d+' AS a, e'x\\y' AS b, e'z\\w' AS c, 'plain' AS d, e'\\' AS e"
    )


def test_backslash_scan_can_be_skipped_when_the_source_has_none() -> None:
    assert render(tree_of("SELECT 'plain'"), backslashes=False) == "SELECT 'plain'"


def test_rendered_sql_does_not_depend_on_standard_conforming_strings() -> None:
    # With standard_conforming_strings off, 'x\'' would be the string x' followed by code.
    verdict = check_sql(r"SELECT 'x\'' || pg_sleep(1) || '''", GuardPolicy())
    assert verdict.functions == ()
    assert verdict.sql == r"SELECT e'x\\'' || pg_sleep(1) || '''"


def test_json_keys_with_backslashes_are_refused() -> None:
    with pytest.raises(RejectedError) as caught:
        check_sql(r"SELECT details ->> 'a\b' FROM claims", GuardPolicy())
    assert caught.value.construct == "JSON key with a backslash"
    check_sql(r"SELECT jsonb_extract_path(details, 'a\b') FROM claims", GuardPolicy())


def test_vertical_tab_in_escape_string_is_refused() -> None:
    with pytest.raises(RejectedError) as caught:
        check_sql(r"SELECT E'\x0b'", GuardPolicy())
    assert caught.value.construct == "E-string with a vertical tab"


def test_unsupported_output_is_refused() -> None:
    tree = exp.select(exp.Anonymous(this="f")).from_("t")
    tree.set("hint", exp.Hint(expressions=[exp.Var(this="x")]))
    with pytest.raises(RejectedError) as caught:
        render(tree)
    assert caught.value.construct == "unsupported construct"
