"""Discovering the schema with SQL → getSchema; several statements → one, or one per call."""

from __future__ import annotations

import pytest
from demo_catalog import demo_catalog

from sqlgateway.errors import GuardError, RejectedError, UnknownTableError
from sqlgateway.guard import GuardPolicy, Verdict, check_sql
from sqlgateway.hints.discovery import discovery_hint, is_discovery, several_statements_hint

CATALOG = demo_catalog()


def refusal(sql: str) -> GuardError:
    with pytest.raises(GuardError) as refused:
        check_sql(sql, GuardPolicy())
    return refused.value


def approve(sql: str) -> Verdict | None:
    try:
        return check_sql(sql, GuardPolicy())
    except GuardError:
        return None


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM information_schema.columns",
        "SELECT * FROM INFORMATION_SCHEMA.TABLES",
        "SELECT * FROM pg_tables",
        "SELECT * FROM pg_catalog.pg_class",
        "SHOW TABLES",
        "DESCRIBE claims",
        "\\d claims",
        "PRAGMA table_info(claims)",
        "EXEC sp_help 'claims'",
    ],
)
def test_schema_discovery_is_recognised(sql: str) -> None:
    assert is_discovery(refusal(sql))


@pytest.mark.parametrize(
    "message",
    [
        'relation "sqlite_master" does not exist',
        'relation "sys.tables" does not exist',
        'relation "all_tables" does not exist',
    ],
)
def test_other_databases_catalogs_are_discovery_too(message: str) -> None:
    assert is_discovery(UnknownTableError(message, sqlstate="42P01"))


def test_other_refusals_are_not_discovery() -> None:
    assert not is_discovery(refusal("DELETE FROM claims"))
    assert not is_discovery(refusal("SELECT pg_sleep(1)"))
    assert not is_discovery(UnknownTableError('relation "customers" does not exist'))
    assert not is_discovery(RejectedError("x", construct="relation customers"))


def test_the_hint_names_getschema_the_table_asked_about_and_the_tables() -> None:
    hint = discovery_hint(
        "SELECT * FROM information_schema.columns WHERE table_name = 'claims'", CATALOG
    )
    assert "getSchema (GET /schema)" in hint and "GET /schema?table=claims" in hint
    assert "tables: policyholders, adjusters, policies, claims, claim_events, payments" in hint
    assert "table=<name>" in discovery_hint("SHOW TABLES", CATALOG)
    assert "tables:" not in discovery_hint("SHOW TABLES", None)


def test_several_single_values_are_combined_into_one_select() -> None:
    hint = several_statements_hint(
        "SELECT count(*) FROM claims; SELECT sum(amount) AS paid FROM payments;", approve
    )
    assert hint == (
        "send one statement per call, or combine them into one: SELECT (SELECT COUNT(*) FROM "
        "claims) AS claims_count, (SELECT SUM(amount) FROM payments) AS paid"
    )


@pytest.mark.parametrize(
    "text",
    [
        "SELECT * FROM claims LIMIT 1; SELECT * FROM policies LIMIT 1",  # rows, not values
        "SELECT count(*) FROM claims; DELETE FROM claims",  # the guard refuses the combination
        "SELECT 1; " * 20,  # too many
    ],
)
def test_otherwise_the_hint_says_how(text: str) -> None:
    hint = several_statements_hint(text, approve)
    assert hint.startswith("send one statement per call, or combine them into one SELECT")
    assert "UNION ALL" in hint
