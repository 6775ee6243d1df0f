"""Authentication and rate limits through the app: every accepted key form, the 401/429
answers, and what the audit trail records about who asked."""

from __future__ import annotations

import base64
import logging
import threading
from pathlib import Path

import pytest
from conftest import TEST_API_KEY, TEST_KEY_NAME, ClientFactory, read_events

from sqlgateway.guard import GuardPolicy, Verdict, check_sql
from sqlgateway.logs import JsonFormatter

SELECT = {"sql": "SELECT 1 AS one"}


def test_each_key_form_is_accepted_and_audited_under_the_key_name(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    audit_file = tmp_path / "audit.jsonl"
    client = make_client(api_key_header="X-API-Key", audit_file=audit_file)
    client.headers.pop("Authorization")
    basic = base64.b64encode(f"gpt:{TEST_API_KEY}".encode()).decode()
    for headers in (
        {"Authorization": f"Bearer {TEST_API_KEY}"},
        {"Authorization": f"Basic {basic}"},
        {"X-API-Key": TEST_API_KEY},
    ):
        assert client.post("/query", json=SELECT, headers=headers).status_code == 200
    missing = client.post("/query", json=SELECT)
    wrong = client.post("/query", json=SELECT, headers={"X-API-Key": TEST_API_KEY + "x"})
    assert missing.status_code == wrong.status_code == 401
    assert missing.headers["WWW-Authenticate"] == 'Bearer realm="sqlgateway"'
    assert 'error="invalid_token"' in wrong.headers["WWW-Authenticate"]
    client.__exit__(None, None, None)
    recorded = read_events(audit_file)
    assert [e["actor"] for e in recorded] == [TEST_KEY_NAME] * 3 + ["anonymous"] * 2
    assert [e["reason"] for e in recorded[3:]] == ["no credentials", "unknown API key"]
    assert TEST_API_KEY.encode() not in audit_file.read_bytes()


def test_no_auth_on_loopback_serves_everyone_as_anonymous(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    audit_file = tmp_path / "audit.jsonl"
    client = make_client(auth="none", audit_file=audit_file)
    client.headers.pop("Authorization")
    assert client.post("/query", json=SELECT).status_code == 200
    client.__exit__(None, None, None)
    [event] = read_events(audit_file)
    assert (event["actor"], event["auth_mode"]) == ("anonymous", "none")


def test_over_the_rate_an_actor_gets_429_with_retry_after(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    audit_file = tmp_path / "audit.jsonl"
    client = make_client(rate_limit_per_minute=6, rate_limit_burst=3, audit_file=audit_file)
    statuses = [client.post("/query", json=SELECT).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    limited = client.post("/query", json=SELECT)
    assert limited.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(limited.headers["Retry-After"]) <= 10
    client.__exit__(None, None, None)
    assert [e["outcome"] for e in read_events(audit_file)] == ["ok"] * 3 + ["rate_limited"] * 3


def _sleep_allowed(sql: str, policy: GuardPolicy) -> Verdict:
    """Test-only guard: the real one, except that `SELECT pg_sleep(1.5)` may hold a slot."""
    if sql == "SELECT pg_sleep(1.5)":
        return Verdict(sql=sql, tables=(), functions=(), has_order_by=False, has_limit=False)
    return check_sql(sql, policy)


def test_one_actor_cannot_hold_more_than_its_share_of_queries(
    make_client: ClientFactory,
) -> None:
    client = make_client(
        max_concurrent_queries_per_actor=1, pool_acquire_timeout_ms=300, guard=_sleep_allowed
    )
    slow_sql = "SELECT pg_sleep(1.5)"
    answers: list[int] = []

    def slow() -> None:
        answers.append(client.post("/query", json={"sql": slow_sql}).status_code)

    thread = threading.Thread(target=slow)
    thread.start()
    blocked = []
    seen = []
    while thread.is_alive() and not blocked:
        response = client.post("/query", json=SELECT)
        seen.append(response.status_code)
        if response.status_code == 429:
            blocked.append(response)
    thread.join()
    assert answers == [200]
    assert blocked, f"no second query was held back: {seen}"
    assert "too many queries running" in blocked[0].json()["error"]["message"]
    assert client.post("/query", json=SELECT).status_code == 200  # the slot came back


def test_no_key_or_token_reaches_a_log_line(
    make_client: ClientFactory, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """Every log record of accepted and refused requests, at DEBUG, formatted with its extra
    fields: none holds the key, a wrong key, or a token."""
    client = make_client(api_key_header="X-API-Key", audit_file=tmp_path / "audit.jsonl")
    wrong = "wrong-key-0123456789-0123456789"
    bearer_token = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJtYWxsb3J5In0."
    with caplog.at_level(logging.DEBUG):
        client.post("/query", json=SELECT)
        client.post("/query", json=SELECT, headers={"Authorization": f"Bearer {wrong}"})
        client.post("/query", json=SELECT, headers={"X-API-Key": wrong})
        client.post("/query", json=SELECT, headers={"Authorization": f"Bearer {bearer_token}"})
        client.post("/query", json={"sql": "DROP TABLE claims"})
        client.__exit__(None, None, None)
    formatter = JsonFormatter()
    lines = [formatter.format(record) for record in caplog.records]
    assert any('"request_id"' in line for line in lines)  # the request lines were captured
    for secret in (TEST_API_KEY, wrong, bearer_token):
        assert not [line for line in lines if secret in line]
