"""Schema docs: the format, the bundled demo copy, and errors that point at file and line."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ROOT

from sqlgateway.app import create_app
from sqlgateway.catalog.model import merge
from sqlgateway.catalog.schema_docs import SchemaDocsError, load_schema_docs
from sqlgateway.demo.files import demo_docs_dir
from sqlgateway.settings import Settings


def test_the_demo_docs_exist_once() -> None:
    """schema_docs/claims.yaml is a link to the file the package ships, not a copy."""
    link = ROOT / "schema_docs" / "claims.yaml"
    assert link.is_symlink()
    assert link.resolve() == (demo_docs_dir() / "claims.yaml").resolve()


def test_demo_docs_load_with_their_sensitive_column() -> None:
    docs = load_schema_docs(ROOT / "schema_docs")
    assert docs.database == "claims_demo"
    assert set(docs.tables) == {
        f"public.{name}"
        for name in ("policyholders", "adjusters", "policies", "claims", "claim_events", "payments")
    }
    assert docs.sensitive == {"public.policyholders.email"}
    status = next(c for c in docs.tables["public.claims"].columns if c.name == "status")
    assert status.allowed_values["under_review"].startswith("an adjuster")
    assert len(docs.each("examples")) >= 10
    assert "fictional insurer" in (docs.description or "")


def test_a_docs_only_catalog_keeps_the_documented_tables() -> None:
    catalog = merge(load_schema_docs(demo_docs_dir()), None)
    assert not catalog.live
    claims = catalog.find("CLAIMS")
    assert claims is not None and claims.key == "public.claims"
    assert catalog.find("public.claims") is claims
    assert catalog.sensitive == {"public.policyholders.email"}


def _write(tmp_path: Path, text: str, name: str = "db.yaml") -> Path:
    (tmp_path / name).write_text(text)
    return tmp_path


GOOD = """\
database: shop
description: A small shop.
tables:
  - name: orders
    purpose: One row per order.
    primary_key: order_id
    columns:
      - name: order_id
        description: Primary key.
      - name: state
        allowed_values: [new, paid]
"""


def test_aliases_are_a_list_or_one_name(tmp_path: Path) -> None:
    text = GOOD.replace(
        "    purpose: One row per order.", "    aliases: [purchases, ' sales ', '']"
    ).replace("      - name: state", "      - name: state\n        aliases: status")
    orders = load_schema_docs(_write(tmp_path, text)).tables["public.orders"]
    assert orders.aliases == ["purchases", "sales"]
    assert orders.columns[1].aliases == ["status"]
    assert orders.columns[0].aliases == []


def test_the_demo_docs_give_aliases_to_every_table() -> None:
    docs = load_schema_docs(demo_docs_dir())
    assert all(table.aliases for table in docs.tables.values())
    claims = docs.tables["public.claims"]
    reported_at = next(c for c in claims.columns if c.name == "reported_at")
    assert "created_at" in reported_at.aliases


def test_a_minimal_file_loads_and_lists_become_value_maps(tmp_path: Path) -> None:
    docs = load_schema_docs(_write(tmp_path, GOOD))
    orders = docs.tables["public.orders"]
    assert orders.primary_key == ["order_id"]
    assert orders.columns[1].allowed_values == {"new": "", "paid": ""}


KEYS = """\
      - name: meta
        keys:
          - name: channel
            allowed_values: [web, phone]
          - name: vehicle.make
            type: text
            examples: [Toyota]
"""


def test_json_keys_are_documented_by_path_and_become_columns_of_their_own(
    tmp_path: Path,
) -> None:
    docs = load_schema_docs(_write(tmp_path, GOOD + KEYS))
    meta = docs.tables["public.orders"].columns[2]
    assert [(key.name, key.path) for key in meta.keys] == [
        ("channel", ("channel",)),
        ("vehicle.make", ("vehicle", "make")),
    ]
    catalog = merge(docs, None)
    orders = catalog.find("orders")
    assert orders is not None
    column = orders.columns[2]
    channel = column.key(("channel",))
    assert channel is not None and channel.domain is not None
    assert channel.domain.values == ("web", "phone")
    assert column.key(("vehicle", "make")) is not None and column.key(("make",)) is None
    assert catalog.value_owners["phone"] == ("orders.meta->>'channel'",)


def test_the_keys_of_a_sensitive_json_column_are_not_kept(tmp_path: Path) -> None:
    text = GOOD + KEYS.replace(
        "      - name: meta\n", "      - name: meta\n        sensitive: true\n"
    )
    orders = merge(load_schema_docs(_write(tmp_path, text)), None).find("orders")
    assert orders is not None and orders.columns[2].keys == ()


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        (
            GOOD + KEYS.replace("name: vehicle.make", "name: channel"),
            12,
            "column meta: key(s) listed twice: channel",
        ),
        (
            GOOD + KEYS.replace("name: vehicle.make", "name: vehicle..make"),
            16,
            "tables.0.columns.2.keys.1.name: String should match pattern",
        ),
        (
            GOOD + KEYS.replace("type: text", "sensitive: true"),
            17,
            "tables.0.columns.2.keys.1.sensitive: Extra inputs are not permitted",
        ),
        (
            GOOD.replace("        description: Primary key.", "        descripton: x"),
            9,
            "tables.0.columns.0.descripton: Extra inputs are not permitted",
        ),
        (
            GOOD.replace("purpose: One row per order.", "purpose: [1, 2]"),
            5,
            "tables.0.purpose: Input should be a valid string",
        ),
        (
            GOOD.replace("allowed_values: [new, paid]", "sensitive: maybe"),
            11,
            "tables.0.columns.1.sensitive: Input should be a valid boolean",
        ),
        (
            GOOD.replace("      - name: state", "      - name: order_id"),
            4,
            "column(s) listed twice: order_id",
        ),
        (
            GOOD.replace("primary_key: order_id", "primary_key: id"),
            4,
            "primary_key ['id'] is not among its columns",
        ),
        (GOOD.replace("  - name: orders", "  - nme: orders"), 4, "tables.0.name: Field required"),
        (
            GOOD.replace("    purpose: One row per order.", "    aliases: {a: b}"),
            5,
            "tables.0.aliases: Input should be a valid list",
        ),
        (GOOD + "  - name: [unclosed\n", 13, "invalid YAML"),
        ("- just\n- a list\n", 1, "expected a mapping"),
    ],
)
def test_bad_files_name_the_file_the_line_and_the_problem(
    tmp_path: Path, text: str, line: int, what: str
) -> None:
    directory = _write(tmp_path, text)
    with pytest.raises(SchemaDocsError) as info:
        load_schema_docs(directory)
    problems = info.value.problems
    assert any(p.startswith(f"{directory / 'db.yaml'}:{line}: ") and what in p for p in problems), (
        problems
    )


def test_every_problem_of_every_file_is_reported(tmp_path: Path) -> None:
    _write(tmp_path, GOOD.replace("description: Primary key.", "descripton: x"), "a.yaml")
    _write(tmp_path, GOOD.replace("purpose: One row per order.", "purpose: [1]"), "b.yaml")
    with pytest.raises(SchemaDocsError) as info:
        load_schema_docs(tmp_path)
    assert [p.split(":")[0] for p in info.value.problems] == [
        str(tmp_path / "a.yaml"),
        str(tmp_path / "b.yaml"),
    ]


def test_a_table_described_twice_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, GOOD, "a.yaml")
    _write(tmp_path, GOOD, "b.yaml")
    with pytest.raises(SchemaDocsError, match=r"public\.orders is also described in"):
        load_schema_docs(tmp_path)


def test_empty_or_missing_directories_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SchemaDocsError, match=r"no \.yaml files"):
        load_schema_docs(tmp_path)
    with pytest.raises(SchemaDocsError, match="not a directory"):
        load_schema_docs(tmp_path / "missing")


def test_the_app_is_not_created_with_bad_docs(tmp_path: Path) -> None:
    _write(tmp_path, GOOD.replace("description: Primary key.", "descripton: x"))
    settings = Settings(
        api_keys="k:sha256:" + "0" * 64,
        database_url="postgresql://x@127.0.0.1:1/x",
        schema_docs_dir=tmp_path,
    )
    with pytest.raises(SchemaDocsError, match="descripton"):
        create_app(settings)
