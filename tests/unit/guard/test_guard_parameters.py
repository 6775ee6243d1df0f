"""parameters.py: bind parameters are refused in free SQL and allowed, as values only, in a
named query's SQL (GuardPolicy.bind_parameters)."""

from __future__ import annotations

import pytest

from sqlgateway.errors import RejectedError
from sqlgateway.guard import GuardPolicy, check_sql

TWO = GuardPolicy(bind_parameters=2)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM claims WHERE claim_number = $1",
        "SELECT * FROM claims WHERE claim_id BETWEEN CAST($1 AS bigint) AND CAST($2 AS bigint)",
        "SELECT * FROM claims WHERE (CAST($1 AS text) IS NULL OR status::text = $1) LIMIT $2",
        "SELECT $1 AS echoed",
        "SELECT * FROM claims WHERE claim_id = ANY(ARRAY[$1, $2])",
    ],
)
def test_parameters_stand_as_values(sql: str) -> None:
    assert "$1" in check_sql(sql, TWO).sql


@pytest.mark.parametrize(
    "sql", ["SELECT * FROM claims WHERE claim_number = $1", "SELECT $1", "SELECT $2 + 1"]
)
def test_free_sql_never_has_parameters(sql: str) -> None:
    with pytest.raises(RejectedError) as refused:
        check_sql(sql, GuardPolicy())
    assert refused.value.construct == "query parameter"


@pytest.mark.parametrize(
    ("sql", "says"),
    [
        ("SELECT $3", "$3 is not one of the named query's"),
        ("SELECT $0", "$0 is not one of the named query's"),
        ("SELECT $01", "$01 is not one of the named query's"),
    ],
)
def test_only_the_declared_numbers(sql: str, says: str) -> None:
    with pytest.raises(RejectedError, match=says.replace("$", r"\$")):
        check_sql(sql, TWO)


@pytest.mark.parametrize(
    ("sql", "role"),
    [
        ("SELECT t.$1 FROM claims t", "a column name"),
        ("SELECT claim_id AS $1 FROM claims", "an alias"),
        ("SELECT * FROM claims AS $1", "an alias"),
        ("SELECT * FROM claims ORDER BY $1", "a sort key"),
        ("SELECT * FROM claims ORDER BY (CAST($1 AS text))", "a sort key"),  # named queries cast
        ("SELECT count(*) FROM claims GROUP BY CAST($2 AS text)", "a grouping key"),
        ("SELECT status, count(*) FROM claims GROUP BY $1", "a grouping key"),
        ("SELECT $1.x", "a field name"),
    ],
)
def test_identifiers_cannot_be_parameters(sql: str, role: str) -> None:
    with pytest.raises(RejectedError) as refused:
        check_sql(sql, TWO)
    assert refused.value.construct == "parameter as identifier"
    assert role in refused.value.message
    assert "cannot be parameters" in (refused.value.hint or "")


def test_a_parameter_as_table_is_refused() -> None:
    with pytest.raises(RejectedError, match="relation reference"):
        check_sql("SELECT * FROM $1", TWO)


def test_everything_else_is_still_checked() -> None:
    with pytest.raises(RejectedError, match="DELETE"):
        check_sql("DELETE FROM claims WHERE claim_id = $1", TWO)
    with pytest.raises(RejectedError, match="pg_authid"):
        check_sql("SELECT * FROM pg_authid WHERE rolname = $1", TWO)
