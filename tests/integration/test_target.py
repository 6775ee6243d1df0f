"""target.py: with no database URL, every command that reads a database works on the
embedded demo, as `serve` does (run as the installed command, in a process of its own)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sqlgateway.catalog.instructions import MAX_INSTRUCTIONS_CHARS


def _sqlgateway(*argv: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SQLGATEWAY_")}
    environment["SQLGATEWAY_EMBEDDED_DATA_DIR"] = os.environ["SQLGATEWAY_EMBEDDED_DATA_DIR"]
    return subprocess.run(
        [sys.executable, "-m", "sqlgateway", *argv],
        capture_output=True,
        text=True,
        timeout=300,
        env=environment,
        check=False,
    )


@pytest.fixture(autouse=True)
def _demo(embedded_demo: Path) -> None:
    """Every test here runs on the embedded demo."""


def test_schema_docs_check_checks_the_demo() -> None:
    result = _sqlgateway("schema-docs", "check")
    assert result.returncode == 0, result.stderr
    assert "schema docs ok: 6 tables match the database" in result.stdout
    assert "demo database reused" in result.stderr  # progress on standard error


def test_check_role_checks_the_demo_reader() -> None:
    result = _sqlgateway("check-role")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "role sqlgateway_reader on database claims_demo:" in result.stdout
    assert "ok: read-only, least privilege" in result.stdout


def test_gpt_instructions_describe_the_demo_with_its_row_counts() -> None:
    result = _sqlgateway("gpt-instructions")
    assert result.returncode == 0, result.stderr
    assert "claims_demo" in result.stdout
    assert len(result.stdout) <= MAX_INSTRUCTIONS_CHARS + 1
    assert re.search(r"^- claims, ~[\d,]+ rows: ", result.stdout, re.MULTILINE)


def test_schema_docs_generate_drafts_the_demo() -> None:
    result = _sqlgateway("schema-docs", "generate", "--max-values", "5")
    assert result.returncode == 0, result.stderr
    tables = {t["name"] for t in yaml.safe_load(result.stdout)["tables"]}
    assert {"claims", "payments", "policies"} <= tables


def test_queries_check_checks_the_demo() -> None:
    result = _sqlgateway("queries", "check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "named queries ok" in result.stdout
