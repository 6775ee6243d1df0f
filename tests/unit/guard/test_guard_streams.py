"""streams_rows: which accepted statements can skip the resource guard's EXPLAIN."""

from __future__ import annotations

import pytest

from sqlgateway.guard import GuardPolicy, check_sql


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM claims WHERE claim_id = 123456",
        "SELECT claim_id, status FROM public.claims WHERE status = 'paid' AND claim_id > 5 LIMIT 5",
        "SELECT * FROM claims c WHERE c.claim_id BETWEEN 1 AND 10 OR NOT c.claim_id = 3",
    ],
)
def test_single_table_scans_stream(sql: str) -> None:
    assert check_sql(sql, GuardPolicy()).streams_rows is True


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT count(*) FROM claims",  # aggregate: reads everything first
        "SELECT max(claim_id) FROM claims",
        "SELECT status FROM claims GROUP BY status",
        "SELECT DISTINCT status FROM claims",
        "SELECT * FROM claims ORDER BY description",
        "SELECT a.claim_id FROM claims a, claims b",  # join
        "SELECT a.claim_id FROM claims a JOIN payments p USING (claim_id)",
        "SELECT * FROM claims WHERE claim_id IN (SELECT claim_id FROM payments)",
        "WITH c AS (SELECT * FROM claims) SELECT * FROM c",
        "SELECT * FROM claims UNION ALL SELECT * FROM claims",
        "SELECT * FROM generate_series(1, 1000000000000)",  # a function, not a table
        "SELECT claim_id, row_number() OVER () FROM claims",
        "SELECT upper(description) FROM claims",  # any call: aggregates look alike to the guard
        "SELECT 1",
        "VALUES (1)",
    ],
)
def test_everything_else_goes_through_explain(sql: str) -> None:
    assert check_sql(sql, GuardPolicy()).streams_rows is False


def test_a_named_query_s_cast_bind_parameter_is_a_constant() -> None:
    """A named query's values arrive as CAST($n AS type): no call that works per row."""
    policy = GuardPolicy(bind_parameters=2)
    lookup = (
        "SELECT * FROM claims WHERE claim_id = CAST($1 AS BIGINT) OR loss_type = CAST($2 AS TEXT)"
    )
    assert check_sql(lookup, policy).streams_rows is True
    for sql in (
        "SELECT * FROM claims WHERE claim_id = CAST(claim_id AS BIGINT) + CAST($1 AS BIGINT)",
        "SELECT count(*) FROM claims WHERE claim_id > CAST($1 AS BIGINT)",
        "SELECT * FROM claims WHERE description = upper(CAST($1 AS TEXT))",
    ):
        assert check_sql(sql, policy).streams_rows is False, sql
