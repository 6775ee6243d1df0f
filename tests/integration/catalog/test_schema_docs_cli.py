"""`sqlgateway schema-docs check|generate` and `gpt-instructions` against the real database."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from sqlgateway.catalog.instructions import MAX_INSTRUCTIONS_CHARS
from sqlgateway.catalog.schema_docs import load_schema_docs
from sqlgateway.cli import main
from sqlgateway.demo.database import DEMO_TABLES, DemoDatabase
from sqlgateway.demo.files import demo_docs_dir

DEMO_ONLY = ",".join(f"public.{table}" for table in DEMO_TABLES)


@pytest.fixture(autouse=True)
def demo_tables_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The attack corpus adds trap relations to the shared test database: leave them out."""
    monkeypatch.setenv("SQLGATEWAY_ALLOWED_TABLES", DEMO_ONLY)


def test_check_passes_on_the_demo(demo: DemoDatabase, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["schema-docs", "check", "--dir", str(demo_docs_dir()), "--database-url", demo.reader_dsn]
    )
    assert code == 0, capsys.readouterr().out
    assert "6 tables match" in capsys.readouterr().out


def test_check_reports_drift(
    demo: DemoDatabase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(demo_docs_dir() / "claims.yaml", tmp_path / "claims.yaml")
    docs = yaml.safe_load((tmp_path / "claims.yaml").read_text())
    docs["tables"] = [t for t in docs["tables"] if t["name"] != "payments"]
    claims = next(t for t in docs["tables"] if t["name"] == "claims")
    claims["columns"] = [c for c in claims["columns"] if c["name"] != "details"]
    claims["columns"].append({"name": "fraud_score", "description": "not there"})
    docs["tables"].append({"name": "brokers", "columns": [{"name": "broker_id"}]})
    (tmp_path / "claims.yaml").write_text(yaml.safe_dump(docs))
    code = main(["schema-docs", "check", "--dir", str(tmp_path), "--database-url", demo.reader_dsn])
    out = capsys.readouterr().out
    assert code == 1
    assert "public.brokers: documented, but the database has no such table" in out
    assert "public.claims.fraud_score: documented, but the table has no such column" in out
    assert "public.claims.details: in the database, but not documented" in out
    assert "public.payments: in the database, but not documented" in out
    assert "4 difference(s)" in out


def test_generate_drafts_valid_docs_from_the_database(
    demo: DemoDatabase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "draft.yaml"
    code = main(
        ["schema-docs", "generate", "--database-url", demo.reader_dsn, "--output", str(out)]
    )
    assert code == 0
    docs = load_schema_docs(tmp_path)  # the draft is a valid docs file
    tables = docs.tables
    assert set(tables) == {f"public.{t}" for t in DEMO_TABLES}
    claims = {c.name: c for c in tables["public.claims"].columns}
    assert list(claims["status"].allowed_values)[:2] == ["submitted", "under_review"]  # enum
    policies = {c.name: c for c in tables["public.policies"].columns}
    assert set(policies["product"].allowed_values) == {"auto", "home", "renters", "life", "travel"}
    assert policies["policy_number"].allowed_values == {}  # unique values are not listed
    assert claims["amount_claimed"].description == (
        "Amount the policyholder asked for, in US dollars."
    )
    assert tables["public.claims"].primary_key == ["claim_id"]
    assert "claims.policy_id -> policies.policy_id" in docs.each("relationships")
    keys = {key.name: key for key in claims["details"].keys}  # the JSON column's keys
    assert set(keys["channel"].allowed_values) == {"web", "mobile_app", "phone", "agent"}
    assert keys["channel"].type == "text" and keys["trip_days"].type == "numeric"
    assert keys["injuries"].type == "boolean" and keys["vehicle"].type == "object"
    assert "Toyota" in keys["vehicle.make"].allowed_values
    assert keys["destination"].allowed_values  # ten cities: listed
    assert "@example" not in out.read_text()  # no personal data copied into the draft
    assert "# Drafted by" in out.read_text()


def test_instructions_with_the_live_catalog(
    demo: DemoDatabase, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["gpt-instructions", "--dir", str(demo_docs_dir()), "--database-url", demo.reader_dsn]
    )
    text = capsys.readouterr().out
    assert code == 0 and len(text) <= MAX_INSTRUCTIONS_CHARS + 1
    assert re.search(r"^- claims, ~[\d,]+ rows: ", text, re.MULTILINE)
