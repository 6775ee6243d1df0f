"""statements.py alone: first keyword, root of the tree, ordering of the outermost query."""

from __future__ import annotations

import pytest
from sqlglot import exp

from sqlgateway.errors import RejectedError
from sqlgateway.guard.parse import parse_tokens, screen_tokens, tokenize
from sqlgateway.guard.statements import (
    READ_ONLY_HINT,
    check_root,
    check_statement_start,
    ordering,
    statement_name,
)


def tree_of(sql: str) -> exp.Expr:
    return parse_tokens(screen_tokens(tokenize(sql), sql), sql)


@pytest.mark.parametrize(
    ("sql", "construct"),
    [
        ("INSERT INTO t VALUES (1)", "INSERT"),
        ("update t set x = 1", "UPDATE"),
        ("  DELETE FROM t", "DELETE"),
        ("/* note */ DELETE FROM t", "DELETE"),
        ("CREATE TABLE t (x int)", "CREATE TABLE"),
        ("CREATE OR REPLACE TEMP VIEW v AS SELECT 1", "CREATE VIEW"),
        ("CREATE MATERIALIZED VIEW v AS SELECT 1", "CREATE MATERIALIZED VIEW"),
        ("REFRESH MATERIALIZED VIEW v", "REFRESH MATERIALIZED VIEW"),
        ("DROP ROLE r", "DROP ROLE"),
        ("ALTER SYSTEM SET x = 1", "ALTER SYSTEM"),
        ("EXPLAIN ANALYZE SELECT 1", "EXPLAIN"),
        ("LISTEN ch", "LISTEN"),
        ("CHECKPOINT", "CHECKPOINT"),
        ("SAVEPOINT a", "SAVEPOINT"),
        ("DO $$ BEGIN END $$", "DO"),
        ("CALL p()", "CALL"),
        ("SET ROLE postgres", "SET"),
        ("START TRANSACTION", "START TRANSACTION"),
        ("\\copy t to 'f'", "psql meta-command"),
    ],
)
def test_statement_start_names_the_statement(sql: str, construct: str) -> None:
    with pytest.raises(RejectedError) as caught:
        check_statement_start(tokenize(sql))
    assert caught.value.construct == construct
    assert caught.value.message == f"{construct} is not allowed"
    assert caught.value.hint == READ_ONLY_HINT


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1",
        "select 1",
        "WITH x AS (SELECT 1) SELECT * FROM x",
        "VALUES (1)",
        "TABLE t",
        "(SELECT 1)",
        "((VALUES (1)))",
        ";",
        "",
    ],
)
def test_statement_start_lets_queries_through(sql: str) -> None:
    check_statement_start(tokenize(sql))


def test_statement_name_of_odd_start() -> None:
    assert statement_name(tokenize("!x")) == "statement starting with !"


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1",
        "SELECT 1 UNION SELECT 2",
        "SELECT 1 INTERSECT SELECT 1 EXCEPT SELECT 2",
        "VALUES (1), (2)",
        "(SELECT 1)",
        "((SELECT 1) UNION (SELECT 2))",
        "(VALUES (1))",
        "WITH x AS (SELECT 1) SELECT * FROM x",
        "TABLE claims",
    ],
)
def test_query_roots_are_accepted(sql: str) -> None:
    check_root(tree_of(sql))


@pytest.mark.parametrize(
    ("sql", "construct"),
    [
        ("WITH x AS (SELECT 1) DELETE FROM t", "DELETE"),
        ("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x", "INSERT"),
        ("WITH x AS (SELECT 1) UPDATE t SET a = 1", "UPDATE"),
    ],
)
def test_non_query_roots_are_refused(sql: str, construct: str) -> None:
    with pytest.raises(RejectedError) as caught:
        check_root(tree_of(sql))
    assert caught.value.construct == construct


@pytest.mark.parametrize(
    ("sql", "has_order_by", "has_limit"),
    [
        ("SELECT * FROM claims", False, False),
        ("SELECT * FROM claims ORDER BY 1", True, False),
        ("SELECT * FROM claims LIMIT 5", False, True),
        ("SELECT * FROM claims ORDER BY 1 LIMIT 5 OFFSET 2", True, True),
        ("SELECT * FROM claims FETCH FIRST 3 ROWS ONLY", False, True),
        ("SELECT * FROM claims OFFSET 10", False, False),
        ("SELECT * FROM claims LIMIT ALL", False, False),
        ("SELECT * FROM claims LIMIT NULL", False, False),
        ("SELECT * FROM (SELECT * FROM claims ORDER BY 1 LIMIT 3) s", False, False),
        ("SELECT * FROM claims WHERE claim_id IN (SELECT 1 LIMIT 1)", False, False),
        ("WITH c AS (SELECT * FROM claims ORDER BY 1) SELECT * FROM c", False, False),
        ("SELECT 1 UNION SELECT 2 ORDER BY 1 LIMIT 1", True, True),
        ("(SELECT 1 ORDER BY 1) UNION (SELECT 2 LIMIT 1)", False, False),
        ("(SELECT claim_id FROM claims ORDER BY 1 LIMIT 2)", True, True),
        ("(SELECT claim_id FROM claims) ORDER BY 1 LIMIT 2", True, True),
        ("VALUES (2), (1) ORDER BY 1 LIMIT 1", True, True),
        ("SELECT row_number() OVER (ORDER BY claim_id) FROM claims", False, False),
    ],
)
def test_ordering_of_the_outermost_query(sql: str, has_order_by: bool, has_limit: bool) -> None:
    assert ordering(tree_of(sql)) == (has_order_by, has_limit)
