"""`sqlgateway gpt-instructions`: within the GPT editor's 8,000 characters, and complete."""

from __future__ import annotations

from sqlgateway.catalog.instructions import MAX_INSTRUCTIONS_CHARS, build_instructions
from sqlgateway.catalog.model import Catalog, ColumnInfo, TableInfo, merge
from sqlgateway.catalog.schema_docs import load_schema_docs
from sqlgateway.demo.files import demo_docs_dir
from sqlgateway.settings import Settings

DEMO = merge(load_schema_docs(demo_docs_dir()), None)


def test_demo_instructions_fit_and_say_what_matters() -> None:
    text = build_instructions(DEMO, Settings(statement_timeout_ms=20_000))
    assert len(text) <= MAX_INSTRUCTIONS_CHARS == 8_000
    for expected in (
        "claims_demo",
        "fictional insurer",
        "PostgreSQL",
        "dialect=<name>",
        "tsql",
        "getSchema",
        "runQuery",
        "- claims",
        "columns: claim_id, policy_id",
        "policyholders.email",  # the sensitive column
        "email (sensitive)",
        "cancelled after 20 s",
        "95,000 characters",
        "truncated: true",
        "ORDER BY",
        "rejected",
        "syntax_error",
        "query_error",
        "closest existing names",
        "timeout",
        "unavailable",
        "2026-07-01",  # a convention of the demo data
        "Call getSchema first",  # the loop: schema, PostgreSQL, quotes, hint and notice
        "'single quotes'",
        "Read hint (on errors) and notice (on answers)",
        "Retry once",
        "SELECT * leaves them out",
    ):
        assert expected in text, expected


def test_no_prescribed_triggers_or_shouting() -> None:
    text = build_instructions(DEMO, Settings())
    for word in ("ALWAYS", "NEVER", "MUST", "IMPORTANT", "If the user says"):
        assert word not in text


def test_a_large_catalog_still_fits() -> None:
    columns = tuple(ColumnInfo(name=f"column_{i}", type="text") for i in range(40))
    tables = tuple(
        TableInfo("public", f"table_{i}", "table", "x" * 300, 1000, None, (), columns, (), True)
        for i in range(300)
    )
    big = Catalog("big", "d" * 700, (), tables, (), {}, (), True)
    text = build_instructions(big, Settings())
    assert len(text) <= MAX_INSTRUCTIONS_CHARS
    assert "runQuery" in text and "truncated" in text


def test_the_named_queries_come_first_and_are_preferred() -> None:
    text = build_instructions(DEMO, Settings())
    assert "## Named queries" in text and "Prefer one when it fits" in text
    assert "- getClaimStatus(claim_number): Status of one claim" in text
    assert "getPolicyClaims(policy_number, status, open_only)" in text
    assert "getMyOpenClaims" not in text  # needs OAuth claims: not served with API keys
    assert text.index("## Named queries") < text.index("## Tables")


def test_locked_down_instructions_offer_only_named_queries() -> None:
    text = build_instructions(DEMO, Settings(free_sql=False))
    assert len(text) <= MAX_INSTRUCTIONS_CHARS
    assert "there is no free SQL" in text and "getClaimStatus" in text
    assert "runQuery" not in text and "dialect=<name>" not in text
