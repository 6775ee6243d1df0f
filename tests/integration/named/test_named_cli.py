"""`sqlgateway queries list|check` and `serve` with named queries, against the real database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from named_queries import query_doc, typed_docs_dir, write_queries

from sqlgateway.cli import main
from sqlgateway.demo.database import DEMO_TABLES, DemoDatabase
from sqlgateway.demo.files import demo_docs_dir

DEMO_ONLY = ",".join(f"public.{table}" for table in DEMO_TABLES)


@pytest.fixture(autouse=True)
def demo_tables_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The attack corpus adds trap relations to the shared test database: leave them out."""
    monkeypatch.setenv("SQLGATEWAY_ALLOWED_TABLES", DEMO_ONLY)


def test_check_passes_on_the_demo_queries(
    demo: DemoDatabase, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["queries", "check", "--dir", str(demo_docs_dir()), "--database-url", demo.reader_dsn]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    for name in ("getClaimStatus", "getClaimHistory", "getPolicyClaims", "getMyOpenClaims",
                 "getAdjusterWorkload"):  # fmt: skip
        assert f"{name}: ok" in out
    assert "named queries ok: 5 checked" in out
    assert "no example for status: EXPLAIN used NULL" in out


def test_check_finds_what_only_the_database_knows(
    demo: DemoDatabase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    typed_docs_dir(tmp_path)
    write_queries(
        tmp_path,
        query_doc(
            "missingColumn",
            "SELECT fraud_score FROM claims WHERE claim_id = :id",
            id={"type": "integer", "example": 1},
        ),
        query_doc(
            "enumWithoutCast",
            "SELECT claim_id FROM claims WHERE status = :status",
            status={"type": "enum", "allowed_values": ["paid"], "example": "paid"},
        ),
        query_doc(
            "readsEmail",
            "SELECT email FROM policyholders WHERE policyholder_id = :id",
            id={"type": "integer", "example": 1},
        ),
        query_doc(
            "tooExpensive",
            "SELECT count(*) FROM claim_events a, claim_events b, claim_events c "
            "WHERE a.event_id > :n",
            n={"type": "integer", "example": 0},
        ),
        name="bad.yaml",
    )
    code = main(["queries", "check", "--dir", str(tmp_path), "--database-url", demo.reader_dsn])
    out = capsys.readouterr().out
    assert code == 1
    assert "missingColumn: PROBLEM" in out and 'column "fraud_score" does not exist' in out
    assert "enumWithoutCast: PROBLEM" in out and "operator does not exist" in out
    assert "readsEmail: PROBLEM" in out and "policyholders.email" in out
    assert "tooExpensive: PROBLEM" in out and "estimated" in out
    assert "getClaimStatus: ok" in out and "claimById: ok" in out
    assert "4 of" in out


def test_check_without_a_database(capsys: pytest.CaptureFixture[str]) -> None:
    """(Without a URL it checks the embedded demo: tests/integration/test_target.py.)"""
    unreachable = "postgresql://nobody@127.0.0.1:1/none"
    assert main(["queries", "check", "--database-url", unreachable]) == 1
    err = capsys.readouterr().err
    assert "cannot connect to nobody@127.0.0.1:1/none to check the named queries" in err
    assert "connection refused" in err


def test_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["queries", "list", "--dir", str(demo_docs_dir())]) == 0
    out = capsys.readouterr().out
    assert "getClaimStatus  POST /queries/getClaimStatus  (served, max_rows 1)" in out
    assert "NOT SERVED: its parameter policyholder_id is the OAuth claim 'sub'" in out
    assert 'as_of: a date YYYY-MM-DD, optional (default "2026-07-01")' in out
    assert "the action spec has 6 operations (at most 30)" in out
    assert main(["queries", "list", "--dir", str(demo_docs_dir()), "--format", "json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert [e["name"] for e in entries][:2] == ["getClaimStatus", "getClaimHistory"]
    assert entries[0]["sql"].endswith("WHERE c.claim_number = CAST($1 AS TEXT)")


def test_a_bad_query_stops_every_command_and_serve(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_queries(tmp_path, query_doc("sneaky", "SELECT * FROM claims ORDER BY :column",
                                      column={"type": "string"}))  # fmt: skip
    bad = str(tmp_path)
    assert main(["queries", "list", "--dir", bad]) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / 'db.yaml'}:" in err
    assert "query sneaky: the guard refuses it: parameter :column stands for a sort key" in err
    monkeypatch.setenv("SQLGATEWAY_SCHEMA_DOCS_DIR", bad)
    assert main(["openapi"]) == 1
    monkeypatch.setenv("SQLGATEWAY_API_KEYS", f"k:sha256:{'1' * 64}")
    # serve stops before it listens or connects: the database is never reached
    assert main(["serve", "--database-url", "postgresql://x@127.0.0.1:1/x"]) == 1
    assert "query sneaky: the guard refuses it" in capsys.readouterr().err
