"""Locked-down mode (SQLGATEWAY_FREE_SQL=false): named queries and getSchema only."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ClientFactory, make_settings
from dbstate import snapshot
from openapi_spec_validator import validate

from sqlgateway.app import create_app
from sqlgateway.demo.database import DemoDatabase
from sqlgateway.demo.files import demo_docs_dir
from sqlgateway.named.compile import NamedQueryError
from sqlgateway.spec.lint import lint_spec


def test_query_is_refused_and_left_out_of_the_spec(
    make_client: ClientFactory, demo: DemoDatabase, tmp_path: Path
) -> None:
    client = make_client(
        free_sql=False, schema_docs_dir=demo_docs_dir(), audit_file=tmp_path / "audit.jsonl"
    )
    before = snapshot(demo.admin_dsn)
    for body in ({"sql": "SELECT 1"}, {"sql": "DELETE FROM claims"}, "not json", {}):
        response = client.post(
            "/query", **({"content": body} if isinstance(body, str) else {"json": body})
        )
        assert response.status_code == 403, response.text
        error = response.json()["error"]
        assert error["code"] == "forbidden"
        assert "SQLGATEWAY_FREE_SQL=false" in error["message"]
        assert (
            "getClaimStatus, getClaimHistory, getPolicyClaims, getAdjusterWorkload"
            in (error["hint"])
        )
    assert snapshot(demo.admin_dsn) == before

    spec = client.get("/openapi.json").json()
    validate(spec)
    assert lint_spec(spec) == []
    assert "/query" not in spec["paths"]
    operations = {op["operationId"] for item in spec["paths"].values() for op in item.values()}
    assert operations == {
        "getSchema",
        "getClaimStatus",
        "getClaimHistory",
        "getPolicyClaims",
        "getAdjusterWorkload",
    }
    assert client.get("/schema").status_code == 200
    answer = client.post("/queries/getClaimStatus", json={"claim_number": "CLM-0000001"})
    assert answer.status_code == 200 and answer.json()["row_count"] == 1


def test_locked_down_without_named_queries_does_not_start(demo: DemoDatabase) -> None:
    with pytest.raises(NamedQueryError, match="SQLGATEWAY_FREE_SQL=false serves named queries"):
        create_app(make_settings(demo, free_sql=False))
