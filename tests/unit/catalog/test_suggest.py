"""Did-you-mean hints from the catalog."""

from __future__ import annotations

from sqlgateway.catalog.model import merge
from sqlgateway.catalog.schema_docs import load_schema_docs
from sqlgateway.catalog.suggest import closest, column_hint, split_name, table_hint, unknown_name_at
from sqlgateway.demo.files import demo_docs_dir

CATALOG = merge(load_schema_docs(demo_docs_dir()), None)


def test_closest_names() -> None:
    assert closest("claim_statuss", ["status", "claim_id", "claim_number"]) == ["status"]
    assert closest("claim", ["claims", "claim_events", "payments"])[0] == "claims"
    assert closest("CLAIMS", ["claims"]) == ["claims"]
    assert closest("zzz", ["claims"]) == []


def test_the_unknown_name_is_read_at_the_error_position() -> None:
    sql = 'SELECT c.stat FROM claims c JOIN "Claimz" z ON true'
    assert unknown_name_at(sql, 8, "") == "c.stat"
    assert unknown_name_at(sql, sql.index('"Claimz"') + 1, "") == '"Claimz"'
    assert unknown_name_at(sql, None, 'relation "claimz" does not exist') == "claimz"
    assert unknown_name_at(sql, None, "no quotes") is None
    assert split_name('public."Claimz"') == ["public", "Claimz"]


def test_table_hint_names_the_closest_tables() -> None:
    hint = table_hint("claim", CATALOG)
    assert hint.startswith("did you mean claims")
    assert "tables: policyholders, adjusters" in hint


def test_column_hint_names_qualified_columns_and_lists_the_table() -> None:
    claims = CATALOG.find("claims")
    assert claims is not None
    hint = column_hint("c.stauts", [claims], CATALOG)
    assert hint.startswith("did you mean claims.status?")
    assert "claims has columns claim_id, policy_id" in hint


def test_sensitive_columns_are_never_suggested() -> None:
    holders = CATALOG.find("policyholders")
    assert holders is not None
    hint = column_hint("emial", [holders], CATALOG)
    assert "email" not in hint
