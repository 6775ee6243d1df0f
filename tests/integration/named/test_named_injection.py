"""Injection attempts in every parameter type of a named query, on the real database: each is
refused with 400 (or 413 for a body over the limit) before any database work, or, for a
string that is a valid value, bound as that value and matched against nothing. The
database is compared with its state before: nothing changed. The SQL that ran is always the
SQL compiled at start, the values travelling beside it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import TEST_API_KEY, make_settings, read_events
from dbstate import snapshot
from named_queries import typed_docs_dir
from starlette.testclient import TestClient

from sqlgateway.app import create_app
from sqlgateway.demo.database import DemoDatabase

STRING_ATTACKS: list[Any] = [
    "' OR '1'='1",
    "CLM-0000001' OR '1'='1",
    "CLM-0000001'; DELETE FROM claims; --",
    "1; DELETE FROM claims",
    "'; DROP TABLE claims; --",
    "CLM-0000001'--",
    "CLM-0000001' /*",
    "*/ OR 1=1 /*",
    "$1",
    "$$; DELETE FROM claims; $$",
    "\\'; DELETE FROM claims; --",
    "CLM-0000001\x00' OR 1=1",
    "x" * 1_000,  # the longest a string may be: bound, matches nothing
    "x" * 1_001,
    ["CLM-0000001"],
    {"claim_number": "CLM-0000001"},
    1,
    True,
]
#: Non-string types: nothing that is not the declared JSON type gets through.
TYPED_ATTACKS: dict[tuple[str, str], list[Any]] = {
    ("claimById", "claim_id"): [
        "1; DELETE FROM claims",
        "1 OR 1=1",
        "' OR '1'='1",
        "1",
        1.5,
        [1],
        {"claim_id": 1},
        True,
        2**64,
        "1" * 5_000,
    ],
    ("claimsOver", "amount"): ["0 OR 1=1", "0; DELETE FROM claims", [0], "1e309", False, -1],
    ("injuryClaims", "injured"): ["true", "true OR 1=1", 1, ["true"], "' OR '1'='1", None],
    ("claimsReportedOn", "day"): [
        "2025-01-01' OR '1'='1",
        "2025-01-01; DELETE FROM claims",
        "2025-01-01 -- ",
        "now()",
        "today",
        20250101,
        ["2025-01-01"],
    ],
    ("claimsReportedSince", "since"): [
        "2025-01-01T00:00:00Z' OR 1=1 --",
        "2025-01-01T00:00:00Z; DELETE FROM claims",
        "infinity",
        "epoch",
        "now",
        "2025-01-01",
    ],
    ("claimsByStatus", "status"): [
        "paid' OR '1'='1",
        "paid; DELETE FROM claims",
        "PAID",
        "paid ",
        ["paid"],
    ],
}
RAW_BODIES = [
    b'{"claim_id": 1e999}',
    b'{"claim_id": NaN}',
    b'{"claim_id": 1, "claim_id": "1; DELETE FROM claims"}',
    b"claim_id=1",
    b'{"claim_id": 1}; DELETE FROM claims',
]


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return typed_docs_dir(tmp_path_factory.mktemp("injection-docs"))


def _client(demo: DemoDatabase, docs: Path, audit_file: Path) -> TestClient:
    app = create_app(make_settings(demo, schema_docs_dir=docs, audit_file=audit_file))
    return TestClient(app, headers={"Authorization": f"Bearer {TEST_API_KEY}"})


def _refused_or_empty(response: Any) -> None:
    if response.status_code == 200:
        assert response.json()["rows"] == [], response.text
        return
    assert response.status_code in (400, 413), response.text
    assert response.json()["error"]["code"] in ("invalid_request", "payload_too_large")


def test_injection_in_every_parameter_type_changes_nothing(
    demo: DemoDatabase, docs: Path, tmp_path: Path
) -> None:
    audit_file = tmp_path / "audit.jsonl"
    before = snapshot(demo.admin_dsn)
    answered_200 = 0
    with _client(demo, docs, audit_file) as client:
        for attack in STRING_ATTACKS:
            response = client.post("/queries/claimByNumber", json={"claim_number": attack})
            _refused_or_empty(response)
            answered_200 += response.status_code == 200
        for (name, parameter), attacks in TYPED_ATTACKS.items():
            for attack in attacks:
                response = client.post(f"/queries/{name}", json={parameter: attack})
                assert response.status_code == 400, (name, attack, response.text)
                error = response.json()["error"]
                assert error["code"] == "invalid_request" and parameter in error["message"]
        for body in RAW_BODIES:
            _refused_or_empty(client.post("/queries/claimById", content=body))
        huge = {"claim_number": "' OR 1=1 --" * 20_000}
        assert client.post("/queries/claimByNumber", json=huge).status_code == 413
    assert snapshot(demo.admin_dsn) == before
    # the attacks that were valid strings were bound as strings, and matched no claim
    assert answered_200 == sum(
        isinstance(a, str) and len(a) <= 1_000 and "\x00" not in a for a in STRING_ATTACKS
    )
    events = read_events(audit_file)  # written at shutdown at the latest
    executed = {e["sql_executed"] for e in events if e["sql_executed"]}
    assert executed == {
        "SELECT claim_id, claim_number, status FROM claims WHERE claim_number = CAST($1 AS TEXT)"
    }  # the only SQL that ran; every other attempt stopped before the database
    assert sum(e["status"] == 200 for e in events) == answered_200


def test_a_duplicate_key_cannot_smuggle_a_second_value(
    demo: DemoDatabase, docs: Path, tmp_path: Path
) -> None:
    """JSON parsers keep the last of duplicate keys; it is validated like any other value."""
    with _client(demo, docs, tmp_path / "audit.jsonl") as client:
        response = client.post(
            "/queries/claimById", content=b'{"claim_id": 1, "claim_id": "1 OR 1=1"}'
        )
    assert response.status_code == 400
    assert "claim_id must be an integer" in response.json()["error"]["message"]
