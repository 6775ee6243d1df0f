"""hints_for: the hints of a refused attempt, most specific first, and nothing they shouldn't."""

from __future__ import annotations

import pytest
from demo_catalog import demo_catalog

from sqlgateway.errors import (
    MAX_HINT_CHARS,
    GatewayError,
    GuardError,
    QueryError,
    RejectedError,
    UnknownTableError,
)
from sqlgateway.guard import GuardPolicy, Verdict, check_sql
from sqlgateway.guard.policy import StarColumns
from sqlgateway.hints.explain import Attempt, hints_for

CATALOG = demo_catalog()
POLICY = GuardPolicy(star_columns=CATALOG.star_columns)


def approve(sql: str) -> Verdict | None:
    try:
        return check_sql(sql, POLICY)
    except GuardError:
        return None


def refused(sql: str) -> tuple[GuardError, Attempt]:
    try:
        check_sql(sql, POLICY)
    except GuardError as error:
        return error, Attempt(sql, "postgres", sql)
    raise AssertionError(f"{sql} was accepted")


@pytest.mark.parametrize(
    ("sql", "first"),
    [
        ("SELECT TOP 3 claim_id FROM claims", 'this reads as tsql SQL: resend the same text with "dialect": "tsql"'),
        ("SELECT ISNULL(amount_approved, 0) FROM claims", "this reads as tsql SQL"),
        ("SELECT TIMESTAMPDIFF(DAY, reported_at, closed_at) FROM claims", "this reads as mysql SQL"),
        ("SELECT MONTHS_BETWEEN(closed_at, reported_at) FROM claims", "PostgreSQL has no months_between()"),
        ("SHOW TABLES", "the schema is not readable with SQL here: call getSchema"),
        ("SELECT 1; SELECT 2", "send one statement per call"),
        ("USE claims_demo; SELECT 1", "the gateway serves one database"),
    ],
)  # fmt: skip
def test_refusals_get_their_fix_first(sql: str, first: str) -> None:
    error, attempt = refused(sql)
    found = hints_for(error, attempt, CATALOG, approve)
    assert found and found[0].startswith(first), found


def test_relations_the_gateway_does_not_expose_get_the_names_meant() -> None:
    error = RejectedError("relation customers is not allowed", construct="relation customers")
    [hint] = hints_for(error, Attempt("SELECT * FROM customers", "postgres", ""), CATALOG, approve)
    assert hint.startswith("did you mean policyholders?")
    error = RejectedError("relation dbo.claims is not allowed", construct="relation dbo.claims")
    [hint] = hints_for(error, Attempt("SELECT * FROM dbo.claims", "postgres", ""), CATALOG, approve)
    assert "write claims" in hint


def test_a_translation_is_shown_only_when_the_guard_accepts_it() -> None:
    error, attempt = refused("SELECT TOP 1 pg_read_file('/etc/passwd')")
    assert not any("reads as" in hint for hint in hints_for(error, attempt, CATALOG, approve))
    error, attempt = refused("SELECT TOP 1 email FROM policyholders")
    sensitive = StarColumns("public.policyholders", (), ("email",))

    def strict(sql: str) -> Verdict | None:
        verdict = approve(sql)
        return None if verdict is not None and sensitive.hidden[0] in verdict.sql else verdict

    assert not any("reads as" in hint for hint in hints_for(error, attempt, CATALOG, strict))


def test_a_named_dialect_is_not_second_guessed() -> None:
    error, _ = refused("SELECT TOP 3 claim_id FROM claims")
    attempt = Attempt("SELECT TOP 3 claim_id FROM claims", "mysql", "SELECT TOP 3 …")
    assert hints_for(error, attempt, CATALOG, approve) == []


def test_errors_that_are_not_the_sql_get_no_hint() -> None:
    for error in (
        RejectedError("x", construct="sensitive column"),
        QueryError("canceling statement due to statement timeout", sqlstate="57014"),
    ):
        assert hints_for(error, Attempt("SELECT 1", "postgres", "SELECT 1"), CATALOG, approve) == []


def test_no_hint_names_a_sensitive_column() -> None:
    for name in ("emial", "email_address", "e_mail", "mail"):
        error = QueryError(f'column "{name}" does not exist', sqlstate="42703")
        attempt = Attempt(
            f"SELECT {name} FROM policyholders",
            "postgres",
            f"SELECT {name} FROM policyholders",
            check_sql(f"SELECT {name} FROM policyholders", POLICY),
        )
        said = " ".join(hints_for(error, attempt, CATALOG, approve))
        assert "policyholders.email" not in said and "email," not in said, said


def test_the_whole_hint_is_bounded() -> None:
    error = GatewayError("x", hint="y" * 5_000)
    error.add_hint("first", first=True)
    assert error.hint is not None and error.hint.startswith("first; y")
    shown = error.body()["error"]["hint"]
    assert len(shown) == MAX_HINT_CHARS and shown.endswith("…")


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT claim_number FROM claims WHERE CONTAINS(description, 'water')",
         "description ILIKE '%water%'"),
        ("SELECT claim_number FROM claims WHERE description CONTAINS 'water'",
         "description ILIKE '%water%'"),
        ("SELECT count(*) FROM claim_events WHERE CONTAINS(note, 'adjuster')",
         "note ILIKE '%adjuster%'"),
        ("SELECT count(*) FROM claim_events WHERE note contains 'adjuster'",
         "note ILIKE '%adjuster%'"),
        ("SELECT c.claim_number FROM claims c WHERE c.description CONTAINS 'burst pipe'",
         "c.description ILIKE '%burst pipe%'"),
        ("SELECT claim_number FROM claims WHERE CONTAINS(description, '\"water*\"')",
         "description ILIKE '%water%'"),
        ("SELECT claim_number FROM claims WHERE CONTAINS(description, 'water OR pipe')",
         "description ILIKE '%water%' OR description ILIKE '%pipe%'"),
        ("SELECT claim_number FROM claims WHERE FREETEXT(description, 'burst pipe')",
         "plainto_tsquery('english', 'burst pipe')"),
        ("SELECT claim_number FROM claims WHERE description MATCH 'hail'",
         "description ILIKE '%hail%'"),
        ("SELECT claim_number FROM claims WHERE CONTAINS_SUBSTR(description, 'hail')",
         "description ILIKE '%hail%'"),
        ("SELECT full_name FROM policyholders WHERE ENDSWITH(full_name, 'son')",
         "full_name LIKE '%son'"),
        ("SELECT count(*) FROM policyholders WHERE NOT CONTAINS(city, 'Lake')",
         "city ILIKE '%Lake%'"),
        ("SELECT claim_number FROM claims WHERE CHARINDEX('pipe', description) > 0",
         "POSITION('pipe' IN description)"),
        ("SELECT claim_number FROM claims WHERE INSTR(description, 'pipe') > 0",
         "POSITION('pipe' IN description)"),
        ("SELECT claim_number FROM claims WHERE LOCATE('pipe', description) > 0",
         "strpos("),
    ],
)  # fmt: skip
def test_other_databases_string_searches_get_the_postgresql_spelling(
    sql: str, expected: str
) -> None:
    error, attempt = refused(sql)
    found = hints_for(error, attempt, CATALOG, approve)
    assert expected in " | ".join(found), found


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT count(*) FROM claims WHERE status <> ALL('paid','closed')",
         "status <> ALL (ARRAY['paid', 'closed']), or status NOT IN ('paid', 'closed')"),
        ("SELECT count(*) FROM claims WHERE status = SOME('paid', 'closed')",
         "status = ANY (ARRAY['paid', 'closed'])"),
    ],
)  # fmt: skip
def test_a_list_given_to_all_or_some_gets_the_array(sql: str, expected: str) -> None:
    error, attempt = refused(sql)
    found = hints_for(error, attempt, CATALOG, approve)
    assert found and expected in found[0], found


@pytest.mark.parametrize(
    "relation",
    ["sqlite_master", "sqlite_schema", "sys.tables", "sys.columns", "all_tables",
     "user_tab_columns", "mysql.user", "dba_tables", "user_tables", "sys.objects",
     "performance_schema.tables", "tabs"],
)  # fmt: skip
def test_a_missing_catalog_of_another_database_names_the_tables_once(relation: str) -> None:
    sql = f"SELECT * FROM {relation}"
    error = UnknownTableError(f'relation "{relation}" does not exist', sqlstate="42P01")
    found = hints_for(error, Attempt(sql, "postgres", sql, None), CATALOG, approve)
    said = " | ".join(found)
    assert said.startswith("the schema is not readable with SQL here: call getSchema"), said
    assert said.count("tables:") == 1 and said.count("claim_events") == 1, said
    assert "did you mean" not in said, said


def test_a_translation_that_reads_the_clock_carries_the_conventions_about_it() -> None:
    error, attempt = refused(
        "SELECT count(*) FROM claims WHERE reported_at >= DATEADD(day, -30, GETDATE())"
    )
    said = hints_for(error, attempt, CATALOG, approve)
    assert said[0].startswith('this reads as tsql SQL: resend the same text with "dialect": "tsql"')
    assert said[1].startswith("CURRENT_TIMESTAMP reads the server's clock; conventions: Snapshot")
    error, attempt = refused("SELECT TOP 5 claim_number FROM claims")  # no clock: no convention
    assert not any("clock" in hint for hint in hints_for(error, attempt, CATALOG, approve))
