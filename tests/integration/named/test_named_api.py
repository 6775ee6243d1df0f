"""POST /queries/{name} end to end on the real demo database: the demo's named queries answer
what the same SQL answers, answers have /query's shape and limits, every request is audited
with its operation and parameters, and nothing but the declared values ever reaches the
database, as bind parameters."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    TEST_API_KEY,
    TEST_KEY_NAME,
    ClientFactory,
    admin_fetch,
    make_settings,
    read_events,
)
from named_queries import query_doc, typed_docs_dir, write_queries
from starlette.testclient import TestClient

from sqlgateway.app import create_app
from sqlgateway.demo.database import DemoDatabase


@pytest.fixture(scope="module")
def audit_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("named-audit") / "audit.jsonl"


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return typed_docs_dir(tmp_path_factory.mktemp("named-docs"))


@pytest.fixture(scope="module")
def client(demo: DemoDatabase, docs: Path, audit_file: Path) -> Iterator[TestClient]:
    settings = make_settings(demo, schema_docs_dir=docs, audit_file=audit_file)
    app = create_app(settings)
    with TestClient(app, headers={"Authorization": f"Bearer {TEST_API_KEY}"}) as test_client:
        yield test_client


def call(client: TestClient, name: str, body: Any = None, **options: Any) -> Any:
    return client.post(f"/queries/{name}", json=body, **options)


def rows(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    body = response.json()
    names = [c["name"] for c in body["columns"]]
    return [dict(zip(names, row, strict=True)) for row in body["rows"]]


def _claim(demo: DemoDatabase, where: str) -> dict[str, Any]:
    found = admin_fetch(demo, f"SELECT * FROM claims WHERE {where} ORDER BY claim_id LIMIT 1")
    return dict(found[0])


def test_get_claim_status(client: TestClient, demo: DemoDatabase) -> None:
    claim = _claim(demo, "adjuster_id IS NOT NULL AND status = 'paid'")
    (row,) = rows(call(client, "getClaimStatus", {"claim_number": claim["claim_number"]}))
    assert row["claim_number"] == claim["claim_number"]
    assert row["status"] == "paid"
    assert str(row["amount_claimed"]) == str(claim["amount_claimed"]).rstrip("0").rstrip(".")
    latest = admin_fetch(
        demo,
        "SELECT event_type, note FROM claim_events WHERE claim_id = $1 "
        "ORDER BY event_id DESC LIMIT 1",
        claim["claim_id"],
    )[0]
    assert (row["latest_step"], row["latest_note"]) == (latest["event_type"], latest["note"])
    adjuster = admin_fetch(
        demo, "SELECT full_name FROM adjusters WHERE adjuster_id = $1", claim["adjuster_id"]
    )[0]
    assert row["adjuster"] == adjuster["full_name"]
    assert rows(call(client, "getClaimStatus", {"claim_number": "CLM-9999999"})) == []


def test_get_claim_history(client: TestClient, demo: DemoDatabase) -> None:
    claim = _claim(demo, "status = 'closed'")
    got = rows(call(client, "getClaimHistory", {"claim_number": claim["claim_number"]}))
    expected = admin_fetch(
        demo,
        "SELECT event_type, note FROM claim_events WHERE claim_id = $1 ORDER BY event_id",
        claim["claim_id"],
    )
    assert [(r["event_type"], r["note"]) for r in got] == [tuple(e) for e in expected]
    assert got[0]["event_type"] == "submitted"


def test_get_policy_claims_with_its_filters(client: TestClient, demo: DemoDatabase) -> None:
    policy = admin_fetch(
        demo,
        "SELECT p.policy_number, array_agg(c.claim_number ORDER BY c.reported_at DESC) AS all, "
        "array_agg(c.claim_number ORDER BY c.reported_at DESC) FILTER "
        "(WHERE c.status IN ('submitted', 'under_review', 'approved', 'reopened')) AS open "
        "FROM policies p JOIN claims c USING (policy_id) GROUP BY 1 "
        "HAVING count(*) >= 3 AND count(*) FILTER (WHERE c.status = 'paid') >= 1 "
        "ORDER BY 1 LIMIT 1",
    )[0]
    number = policy["policy_number"]
    every = rows(call(client, "getPolicyClaims", {"policy_number": number}))
    assert [r["claim_number"] for r in every] == list(policy["all"])
    paid = rows(call(client, "getPolicyClaims", {"policy_number": number, "status": "paid"}))
    assert paid and {r["status"] for r in paid} == {"paid"}
    open_only = rows(call(client, "getPolicyClaims", {"policy_number": number, "open_only": True}))
    assert [r["claim_number"] for r in open_only] == list(policy["open"] or [])


def test_get_adjuster_workload(client: TestClient, demo: DemoDatabase) -> None:
    got = rows(call(client, "getAdjusterWorkload", {"adjuster_id": 1}))
    expected = admin_fetch(
        demo,
        "SELECT status::text AS s, count(*) AS claims FROM claims WHERE adjuster_id = 1 "
        "AND status IN ('under_review', 'approved', 'reopened') GROUP BY status ORDER BY status",
    )
    assert [(r["status"], r["claims"]) for r in got] == [tuple(e) for e in expected]
    assert all(r["adjuster"] and r["region"] for r in got)
    later = rows(call(client, "getAdjusterWorkload", {"adjuster_id": 1, "as_of": "2027-07-01"}))
    assert [r["avg_days_open"] for r in later] == [
        pytest.approx(r["avg_days_open"] + 365, abs=0.11) for r in got
    ]


def test_the_answer_has_the_shape_and_limits_of_query(client: TestClient) -> None:
    named = call(client, "claimsByStatus", {"status": "paid"})
    free = client.post(
        "/query",
        json={"sql": "SELECT claim_id, status FROM claims WHERE status = 'paid' ORDER BY "
              "claim_id", "max_rows": 3},
    )  # fmt: skip
    assert named.status_code == free.status_code == 200
    a, b = named.json(), free.json()
    assert a.keys() == b.keys()
    assert a["columns"] == b["columns"] and a["rows"] == b["rows"]
    assert a["truncated"] is b["truncated"] is True and a["row_count"] == 3
    assert a["notice"] == b["notice"]


def test_each_request_is_audited_with_its_operation_and_parameters(
    client: TestClient, audit_file: Path
) -> None:
    ok = call(client, "claimById", {"claim_id": 42})
    refused = call(client, "claimById", {"claim_id": "42 OR 1=1"})
    masked = call(client, "whoAmI", {"secret": "hunter2-password"})
    missing = call(client, "noSuchQuery", {})
    ids = [r.headers["X-Request-Id"] for r in (ok, refused, masked, missing)]
    events = {e["request_id"]: e for e in _events_of(audit_file, ids)}
    first, second, third, fourth = (events[i] for i in ids)
    assert first["operation"] == "claimById" and first["outcome"] == "ok"
    assert first["parameters"] == {"claim_id": 42}
    assert first["sql_executed"] == (
        "SELECT claim_id, claim_number FROM claims WHERE claim_id = CAST($1 AS BIGINT)"
    )
    assert first["tables"] == ["claims"] and first["rows"] == 1
    assert second["outcome"] == "invalid_request" and second["status"] == 400
    assert second["parameters"] == {"claim_id": "42 OR 1=1"}
    assert "claim_id must be an integer" in second["reason"]
    assert "42 OR 1=1" not in refused.text  # the value is never echoed
    assert third["parameters"] == {"who": TEST_KEY_NAME, "secret": "[masked]"}
    assert "hunter2" not in audit_file.read_text()
    assert rows(masked) == [{"who": TEST_KEY_NAME, "secret_chars": 16}]
    assert fourth["outcome"] == "not_found" and fourth["operation"] is None


def _events_of(audit_file: Path, ids: list[str]) -> list[dict[str, Any]]:
    """The audit events of `ids` (each is durable before its answer is sent; refusals
    before any work are handed over without waiting, so they may take a moment)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = read_events(audit_file) if audit_file.exists() else []
        events = [e for e in found if e["request_id"] in ids]
        if len(events) == len(ids):
            return events
        time.sleep(0.05)
    raise AssertionError("the audit events were not written")


def test_metrics_count_each_named_query(client: TestClient) -> None:
    call(client, "claimById", {"claim_id": 7})
    call(client, "unknownQuery", {})
    text = client.get("/metrics").text
    assert 'path="/queries/claimById"' in text
    assert 'path="/queries/unknownQuery"' not in text  # unknown names are "other"


def test_a_query_of_its_own_timeout(make_client: ClientFactory, docs: Path) -> None:
    client = make_client(schema_docs_dir=docs, max_plan_cost=0, max_plan_rows=0)
    response = call(client, "slowCount", {"n": 0})
    assert response.status_code == 504
    assert "slowCount's timeout_ms=200 ms" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("request_options", "status", "says"),
    [
        ({"content": b"{not json"}, 400, "not valid JSON"),
        ({"content": b"[]"}, 400, "must be a JSON object"),
        ({"json": {"claim_id": 1}, "params": {"claim_id": "2"}}, 400, "never in the query string"),
        ({"content": b""}, 400, "claim_id is required"),
        ({"content": b'{"claim_id": 1e999}'}, 400, "not valid JSON"),
    ],
)
def test_bad_requests_are_400_before_any_database_work(
    client: TestClient, request_options: dict[str, Any], status: int, says: str
) -> None:
    response = client.post("/queries/claimById", **request_options)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request" and says in error["message"]


def test_a_query_without_caller_parameters_takes_an_empty_body(client: TestClient) -> None:
    assert rows(client.post("/queries/whoAmI"))[0]["who"] == TEST_KEY_NAME
    assert rows(client.post("/queries/whoAmI", content=b"{}"))[0]["who"] == TEST_KEY_NAME


def test_unknown_names_and_unserved_queries(client: TestClient) -> None:
    missing = call(client, "getClaimStatuss", {})
    assert missing.status_code == 404
    assert "did you mean getClaimStatus" in missing.json()["error"]["message"]
    unserved = call(client, "getMyOpenClaims", {})
    assert unserved.status_code == 403
    assert "OAuth claim 'sub'" in unserved.json()["error"]["message"]
    assert client.get("/queries/getClaimStatus").status_code == 405


def test_the_spec_lists_the_served_named_queries(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    named = sorted(p.removeprefix("/queries/") for p in spec["paths"] if p.startswith("/queries/"))
    assert "getClaimStatus" in named and "claimById" in named
    assert "getMyOpenClaims" not in named and "myClaims" not in named


def test_a_named_query_cannot_read_a_sensitive_column(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    docs = typed_docs_dir(tmp_path)
    write_queries(
        docs,
        query_doc(
            "holderEmail",
            "SELECT full_name, email FROM policyholders WHERE policyholder_id = :id",
            id={"type": "integer"},
        ),
        name="sensitive.yaml",
    )
    client = make_client(schema_docs_dir=docs)
    for _ in range(2):  # checked once per catalog, refused every time
        response = call(client, "holderEmail", {"id": 1})
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "rejected" and error["construct"] == "sensitive column"
