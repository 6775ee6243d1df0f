"""The GPT-facing features end to end: GET /schema, sensitive columns, dialects, did-you-mean
hints, truncation notices and GET /privacy, through the HTTP app on the real test database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from conftest import ROOT, TEST_API_KEY, ClientFactory, make_settings
from starlette.testclient import TestClient

from sqlgateway.app import create_app
from sqlgateway.demo.database import DEMO_TABLES, DemoDatabase
from sqlgateway.demo.files import demo_docs_dir
from sqlgateway.http.middleware import PUBLIC_PATHS

#: The demo's tables only (the attack corpus adds trap relations to the shared database).
DEMO_ONLY = ",".join(f"public.{table}" for table in DEMO_TABLES)


@pytest.fixture(scope="module")
def gpt(demo: DemoDatabase) -> Iterator[TestClient]:
    """The app configured like the demo: schema docs with a sensitive column."""
    settings = make_settings(demo, schema_docs_dir=demo_docs_dir(), allowed_tables=DEMO_ONLY)
    with TestClient(
        create_app(settings), headers={"Authorization": f"Bearer {TEST_API_KEY}"}
    ) as client:
        yield client


def error_of(response: Any) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    return error


# --- GET /schema -----------------------------------------------------------------------


def test_schema_overview_is_compact_and_merges_docs_with_the_live_catalog(gpt: TestClient) -> None:
    response = gpt.get("/schema")
    assert response.status_code == 200
    assert len(response.content) < 20_000
    body = response.json()
    assert body["database"] == "claims_demo" and body["dialect"] == "PostgreSQL"
    tables = {table["name"]: table for table in body["tables"]}
    assert list(tables) == list(DEMO_TABLES)  # in the order of the docs
    claims = tables["claims"]
    assert claims["rows"] > 0 and claims["primary_key"] == ["claim_id"]  # live facts
    assert claims["columns"]["policy_id"].startswith("integer; -> policies.policy_id")
    assert "values: submitted|under_review|approved" in claims["columns"]["status"]
    assert claims["columns"]["amount_claimed"].startswith("numeric(12,2); unit: US dollars")
    assert "sensitive" in tables["policyholders"]["columns"]["email"]
    assert len(body["examples"]) >= 10 and body["conventions"]


def test_schema_detail_of_one_table(gpt: TestClient) -> None:
    response = gpt.get("/schema", params={"table": "Claims"})
    assert response.status_code == 200
    detail = response.json()
    table = detail["table"]
    assert table["name"] == "claims" and table["kind"] == "table"
    status = next(c for c in table["columns"] if c["name"] == "status")
    assert status["allowed_values"]["submitted"].startswith("received")
    assert "(claim_id) -> public.claims(claim_id)" in " ".join(table["referenced_by"])
    assert any("claims" in e["sql"] for e in detail["examples"])


def test_schema_never_shows_example_values_of_sensitive_columns(gpt: TestClient) -> None:
    table = gpt.get("/schema", params={"table": "public.policyholders"}).json()["table"]
    email = next(c for c in table["columns"] if c["name"] == "email")
    assert email["sensitive"] is True and "examples" not in email


def test_unknown_table_names_the_closest_ones(gpt: TestClient) -> None:
    response = gpt.get("/schema", params={"table": "claim"})
    assert response.status_code == 404
    error = error_of(response)
    assert error["code"] == "not_found" and "did you mean claims" in error["message"]
    assert "policyholders" in error["hint"]


def test_schema_needs_the_key(gpt: TestClient) -> None:
    response = gpt.get("/schema", headers={"Authorization": ""})
    assert response.status_code == 401


def test_schema_fits_a_small_response_limit(make_client: ClientFactory) -> None:
    client = make_client(
        schema_docs_dir=demo_docs_dir(), allowed_tables=DEMO_ONLY, max_response_chars=3_000
    )
    for params in ({}, {"table": "claims"}, {"table": "policyholders"}):
        response = client.get("/schema", params=params)
        assert response.status_code == 200 and len(response.content) <= 3_000, params
    assert client.get("/schema").json()["tables"][0]["name"] == "policyholders"


def test_schema_without_docs_comes_from_the_catalog(client: TestClient) -> None:
    body = client.get("/schema").json()
    claims = next(t for t in body["tables"] if t["name"] == "claims")
    assert "Insurance claims" in claims["purpose"]  # COMMENT ON TABLE
    assert "database" not in body


# --- sensitive columns -------------------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT email FROM policyholders LIMIT 1",
        "SELECT h FROM policyholders h LIMIT 1",
        "SELECT full_name FROM policyholders WHERE email LIKE 'emily%'",
        "SELECT * FROM policyholders WHERE email LIKE 'emily%'",
        "SELECT *, email FROM policyholders LIMIT 1",
        "SELECT * FROM policyholders ORDER BY email LIMIT 1",
        "SELECT c FROM policyholders h(a, b, c) LIMIT 1",
        "SELECT * FROM policyholders h(a, b, c) LIMIT 1",
        "SELECT * FROM policies NATURAL JOIN policyholders LIMIT 1",
        "SELECT to_jsonb(h.*) FROM policyholders h LIMIT 1",
    ],
)
def test_sensitive_columns_are_refused_over_http(gpt: TestClient, sql: str) -> None:
    response = gpt.post("/query", json={"sql": sql})
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "rejected" and "sensitive" in error["message"]
    assert "@example" not in response.text


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM policyholders ORDER BY policyholder_id LIMIT 3",
        "SELECT h.* FROM policyholders h ORDER BY 1 LIMIT 3",
        "TABLE policyholders",
        "SELECT * FROM (SELECT * FROM policyholders) s ORDER BY 1 LIMIT 3",
        "WITH x AS (SELECT * FROM policyholders) SELECT * FROM x ORDER BY 1 LIMIT 3",
        "SELECT * FROM policies p JOIN policyholders h USING (policyholder_id) LIMIT 3",
    ],
)
def test_star_over_a_sensitive_table_answers_without_the_sensitive_columns(
    gpt: TestClient, sql: str
) -> None:
    response = gpt.post("/query", json={"sql": sql})
    assert response.status_code == 200, response.text
    body = response.json()
    names = [column["name"] for column in body["columns"]]
    assert "email" not in names and "full_name" in names and body["row_count"] > 0
    assert "policyholders.email" in body["notice"] and "@example" not in response.text


def test_star_expansion_keeps_the_table_order_of_columns(gpt: TestClient) -> None:
    body = gpt.post(
        "/query", json={"sql": "SELECT * FROM policyholders WHERE policyholder_id = 1"}
    ).json()
    names = [column["name"] for column in body["columns"]]
    assert names == ["policyholder_id", "full_name", "date_of_birth", "city", "state", "created_at"]


def test_the_rest_of_the_table_stays_readable(gpt: TestClient) -> None:
    response = gpt.post(
        "/query",
        json={"sql": "SELECT policyholder_id, full_name, date_of_birth FROM policyholders"},
    )
    assert response.status_code == 200 and response.json()["row_count"] > 0


def schema_docs_examples() -> list[dict[str, str]]:
    examples: list[dict[str, str]] = yaml.safe_load(
        (ROOT / "schema_docs" / "claims.yaml").read_text()
    )["examples"]
    return examples


@pytest.mark.parametrize("example", schema_docs_examples(), ids=lambda e: e["question"][:40])
def test_every_documented_example_runs_with_the_demo_configuration(
    gpt: TestClient, example: dict[str, str]
) -> None:
    response = gpt.post("/query", json={"sql": example["sql"]})
    assert response.status_code == 200, response.text
    assert response.json()["row_count"] > 0


def test_sensitive_check_needs_no_catalog_without_sensitive_columns(client: TestClient) -> None:
    response = client.post("/query", json={"sql": "SELECT email FROM policyholders LIMIT 1"})
    assert response.status_code == 200


# --- dialects ----------------------------------------------------------------------------


def test_tsql_is_translated_and_the_executed_sql_is_reported(gpt: TestClient) -> None:
    response = gpt.post(
        "/query",
        json={"sql": "SELECT TOP 3 claim_id FROM claims ORDER BY claim_id", "dialect": "tsql"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    # T-SQL sorts NULLs first; the translation keeps that meaning
    assert body["sql"] == "SELECT claim_id FROM claims ORDER BY claim_id NULLS FIRST LIMIT 3"
    assert body["rows"] == [[1], [2], [3]]
    assert list(body)[:2] == ["sql", "columns"]


def test_mysql_backticks(gpt: TestClient) -> None:
    response = gpt.post(
        "/query",
        json={"sql": "SELECT `status`, COUNT(*) FROM claims GROUP BY `status`", "dialect": "mysql"},
    )
    assert response.status_code == 200 and response.json()["row_count"] == 7


def test_postgres_dialect_answers_as_without_one(gpt: TestClient) -> None:
    body = gpt.post("/query", json={"sql": "SELECT 1 AS one", "dialect": "postgres"}).json()
    assert "sql" not in body and body["rows"] == [[1]]


def test_translated_sql_still_goes_through_guard_and_sensitive_check(gpt: TestClient) -> None:
    write = gpt.post("/query", json={"sql": "DELETE FROM claims", "dialect": "mysql"})
    assert write.status_code == 400 and error_of(write)["code"] == "rejected"
    assert "translated to PostgreSQL as: DELETE FROM claims" in error_of(write)["hint"]
    sensitive = gpt.post(
        "/query", json={"sql": "SELECT TOP 1 email FROM policyholders", "dialect": "tsql"}
    )
    assert sensitive.status_code == 400 and "sensitive" in error_of(sensitive)["message"]
    star = gpt.post("/query", json={"sql": "SELECT TOP 1 * FROM policyholders", "dialect": "tsql"})
    assert star.status_code == 200 and "email" in star.json()["notice"]
    assert "@example" not in star.text


def test_dialect_errors_name_the_dialect(gpt: TestClient) -> None:
    syntax = gpt.post("/query", json={"sql": "SELECT TOP 5 FROM WHERE", "dialect": "tsql"})
    assert syntax.status_code == 400 and error_of(syntax)["code"] == "syntax_error"
    assert "tsql" in error_of(syntax)["message"]
    untranslatable = gpt.post("/query", json={"sql": "SHOW TABLES", "dialect": "mysql"})
    assert error_of(untranslatable)["code"] == "rejected"
    assert "mysql" in error_of(untranslatable)["message"]
    unknown = gpt.post("/query", json={"sql": "SELECT 1", "dialect": "cobol"})
    assert unknown.status_code == 422


def test_a_translated_response_keeps_the_budget(make_client: ClientFactory) -> None:
    client = make_client(max_response_chars=5_000)
    response = client.post(
        "/query", json={"sql": "SELECT TOP 1000 * FROM claims ORDER BY claim_id", "dialect": "tsql"}
    )
    assert response.status_code == 200 and len(response.content) <= 5_000
    body = orjson.loads(response.content)
    assert body["truncated"] is True and body["sql"].endswith("LIMIT 1000")


# --- errors the model can act on ---------------------------------------------------------


def test_unknown_column_hint_names_the_closest_columns(gpt: TestClient) -> None:
    response = gpt.post("/query", json={"sql": "SELECT c.stauts FROM claims c"})
    error = error_of(response)
    assert error["code"] == "query_error" and error["sqlstate"] == "42703"
    assert "did you mean c.status?" in error["hint"]
    assert "claims has columns claim_id, policy_id" in error["hint"]


def test_unknown_table_hint_names_the_closest_tables(client: TestClient) -> None:
    response = client.post("/query", json={"sql": "SELECT count(*) FROM claim"})
    error = error_of(response)
    assert error["sqlstate"] == "42P01" and "did you mean claims" in error["hint"]


def test_truncated_notice_tells_the_model_what_to_do(client: TestClient) -> None:
    body = client.post("/query", json={"sql": "SELECT claim_id, description FROM claims"}).json()
    notice = body["notice"]
    assert body["truncated"] is True
    assert f"Returned {body['row_count']} rows; more rows exist" in notice
    for advice in ("Aggregate", "WHERE", "ORDER BY", "LIMIT", "OFFSET", "no ORDER BY"):
        assert advice in notice


# --- GET /privacy -----------------------------------------------------------------------


def test_privacy_default_is_a_neutral_notice(gpt: TestClient) -> None:
    response = gpt.get("/privacy")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "read-only SQL gateway" in response.text


@pytest.mark.skipif("/privacy" not in PUBLIC_PATHS, reason="needs /privacy in PUBLIC_PATHS")
def test_privacy_needs_no_key(gpt: TestClient) -> None:
    assert gpt.get("/privacy", headers={"Authorization": ""}).status_code == 200


def test_privacy_policy_from_a_file(make_client: ClientFactory, tmp_path: Path) -> None:
    policy = tmp_path / "privacy.html"
    policy.write_text("<h1>Our policy</h1>")
    response = make_client(privacy_policy_file=policy).get("/privacy")
    assert response.text == "<h1>Our policy</h1>"
    assert response.headers["content-type"].startswith("text/html")
    text = make_client(privacy_policy_text="We keep nothing.").get("/privacy")
    assert text.text == "We keep nothing."
