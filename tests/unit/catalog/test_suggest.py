"""Did-you-mean hints from the catalog."""

from __future__ import annotations

import pytest
from demo_catalog import demo_catalog

from sqlgateway.catalog.model import ColumnInfo, TableInfo, merge
from sqlgateway.catalog.schema_docs import load_schema_docs
from sqlgateway.catalog.suggest import (
    closest,
    column_hint,
    json_key_hint,
    score,
    split_name,
    table_hint,
    unknown_name_at,
)
from sqlgateway.catalog.words import singular, terms
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
    # the meant table's columns, so that guessed column names are fixed in the same attempt
    customers = table_hint("customers", CATALOG)
    assert customers.startswith(
        "did you mean policyholders? (policyholders has columns policyholder_id, full_name"
    )
    assert "email" not in customers  # sensitive


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


# -- by meaning ------------------------------------------------------------------------------

LIVE = demo_catalog()


def columns_of(name: str) -> list[TableInfo]:
    table = LIVE.find(name)
    assert table is not None
    return [table]


@pytest.mark.parametrize(
    ("name", "table", "meant"),
    [
        ("amount", "claims", ["claims.amount_claimed", "claims.amount_approved"]),
        ("created_at", "claims", ["claims.reported_at"]),  # an alias
        ("claim_date", "claims", ["claims.reported_at"]),  # then claim_id, by spelling
        ("claimDate", "claims", ["claims.reported_at"]),
        ("premium", "policies", ["policies.premium_cents"]),  # a name part
        ("Premiums", "policies", ["policies.premium_cents"]),
        ("stauts", "claims", ["claims.status"]),  # spelling
        ("dob", "policyholders", ["policyholders.date_of_birth"]),
    ],
)
def test_columns_are_matched_by_meaning(name: str, table: str, meant: list[str]) -> None:
    hint = column_hint(name, columns_of(table), LIVE)
    assert hint.startswith(f"did you mean {' or '.join(meant)}"), hint


@pytest.mark.parametrize(
    ("name", "table", "owner", "join"),
    [
        ("product", "claims", "policies.product", "claims c JOIN policies p USING (policy_id)"),
        ("customer_id", "claims", "policyholders.policyholder_id", "JOIN policies"),
        ("policyholder_id", "claims", "policies.policyholder_id", "JOIN policies"),
        ("region", "claims", "adjusters.region", "LEFT JOIN adjusters"),
        ("dob", "claims", "policyholders.date_of_birth", "JOIN policyholders"),
    ],
)
def test_a_column_of_another_table_is_named_with_its_join(
    name: str, table: str, owner: str, join: str
) -> None:
    hint = column_hint(name, columns_of(table), LIVE)
    assert hint.startswith(f"{name} is not a column of {table}; {owner} is: join"), hint
    assert join in hint


def test_json_keys_are_named_with_their_access_path() -> None:
    assert "details->>'channel'" in column_hint("channel", columns_of("claims"), LIVE)
    assert "details->'vehicle'->>'make'" in column_hint("make", columns_of("claims"), LIVE)
    assert json_key_hint("nothing_like_it", columns_of("claims")) is None


def test_a_key_documented_only_under_keys_is_found_at_its_depth() -> None:
    key = ColumnInfo(name="address.zip", type="text")
    meta = ColumnInfo(name="meta", type="jsonb", keys=(key,))
    table = TableInfo("public", "shops", "table", None, 1, None, (), (meta,), (), True)
    hint = json_key_hint("zip", [table])
    assert hint is not None and "meta->'address'->>'zip'" in hint


@pytest.mark.parametrize(
    ("name", "meant"),
    [
        ("customers", "policyholders"),
        ("clients", "policyholders"),
        ("claim_history", "claim_events"),
        ("ClaimHistory", "claim_events"),
        ("payouts", "payments"),
        ("policy", "policies"),
    ],
)
def test_tables_are_matched_by_meaning(name: str, meant: str) -> None:
    assert table_hint(name, LIVE).startswith(f"did you mean {meant}"), table_hint(name, LIVE)


def test_a_foreign_schema_or_database_prefix_names_the_right_schema() -> None:
    assert table_hint("dbo.claims", LIVE).startswith(
        "claims is in schema public of this database, not schema dbo: write claims"
    )
    assert "write claims" in table_hint("claims_demo.public.claims", LIVE)
    assert table_hint("public.claimz", LIVE).startswith("did you mean claims")


def test_words_and_scores() -> None:
    assert terms("ClaimHistories") == ["claim", "history"] and singular("statuses") == "status"
    assert score("customers", "policyholders", ["customers"]) == 1.0
    assert score("x", "claims") == 0.0
    assert score("emial", "email", spelling=False) == 0.0
