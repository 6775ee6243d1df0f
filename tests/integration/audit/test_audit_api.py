"""The audit trail through the API: every request leaves exactly one event, whatever its
outcome; nothing is lost across a sink outage or a shutdown; the executed SQL carries the
request id to pg_stat_activity; /metrics and /readyz report it."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from conftest import (
    TEST_API_KEY,
    TEST_AUDIT_DATABASE,
    TEST_KEY_NAME,
    ClientFactory,
    audit_fetch,
    fetch_sql,
    make_settings,
    read_events,
)
from live import live_server, load
from prometheus_client.parser import text_string_to_metric_families

from sqlgateway.demo.database import DemoDatabase, derive_dsn
from sqlgateway.guard import GuardPolicy, Verdict

AUDIT_DATABASE = TEST_AUDIT_DATABASE


#: (request, expected outcome): one of each outcome a client can cause.
CASES: list[tuple[dict[str, Any], str]] = [
    ({"json": {"sql": "SELECT claim_id, status FROM claims WHERE claim_id = 7"}}, "ok"),
    ({"json": {"sql": "SELECT * FROM claims"}}, "truncated"),
    ({"json": {"sql": "DELETE FROM claims"}}, "rejected"),
    ({"json": {"sql": "SELECT (1"}}, "syntax_error"),
    ({"json": {"sql": "SELECT nonexistent FROM claims"}}, "query_error"),
    ({"json": {"sql": "SELECT 1", "extra": 1}}, "invalid_request"),
    ({"content": b"{not json"}, "invalid_request"),
    ({"content": b"x" * 2_000}, "payload_too_large"),
    ({"json": {"sql": "SELECT 1"}, "headers": {"Authorization": "Bearer wrong"}}, "unauthorized"),
    ({"json": {"sql": "SELECT 1"}, "headers": {"Authorization": ""}}, "unauthorized"),
]


def test_every_request_leaves_exactly_one_event(make_client: ClientFactory, tmp_path: Path) -> None:
    audit_file = tmp_path / "audit.jsonl"
    client = make_client(audit_file=audit_file, max_request_chars=1_000)
    seen: dict[str, str] = {}
    for options, outcome in CASES * 3:
        response = client.post("/query", **options)
        seen[response.headers["X-Request-Id"]] = outcome
    schema = client.get("/schema?table=claims")
    seen[schema.headers["X-Request-Id"]] = "ok"
    missing = client.get("/nowhere")
    seen[missing.headers["X-Request-Id"]] = "not_found"
    client.__exit__(None, None, None)  # shutdown: the trail flushes

    events = read_events(audit_file)
    assert len(events) == len(seen) == len(CASES) * 3 + 2
    assert {event["request_id"]: event["outcome"] for event in events} == seen
    assert TEST_API_KEY.encode() not in audit_file.read_bytes()


def test_an_event_holds_what_a_dba_asks(make_client: ClientFactory, tmp_path: Path) -> None:
    audit_file = tmp_path / "audit.jsonl"
    client = make_client(audit_file=audit_file)
    sql = "select claim_id, status  from claims where claim_id in (3, 4)"
    response = client.post("/query", json={"sql": sql}, headers={"User-Agent": "gpt-test/1"})
    refused = client.post("/query", json={"sql": "SELECT pg_read_file('/etc/passwd')"})
    client.__exit__(None, None, None)

    ok, rejected = read_events(audit_file)
    assert ok["request_id"] == response.headers["X-Request-Id"]
    assert ok["actor"] == TEST_KEY_NAME and ok["auth_mode"] == "api_key"
    assert ok["sql_received"] == sql and ok["sql_executed"].startswith("SELECT claim_id")
    assert ok["tables"] == ["claims"] and ok["dialect"] == "postgres"
    assert ok["outcome"] == "ok" and ok["status"] == 200 and ok["rows"] == 2
    assert ok["truncated"] is False and ok["response_chars"] == len(response.content)
    assert ok["user_agent"] == "gpt-test/1" and ok["client_addr"]
    assert ok["total_ms"] >= ok["db_ms"] > 0 and ok["guard_ms"] > 0
    assert ok["ts"].endswith("+00:00") and len(ok["ts"].split(".")[1]) == 6 + 6
    assert len(ok["fingerprint"]) == 16 and "?" in ok["normalized_sql"]
    assert refused.status_code == 400 and rejected["request_id"] == refused.headers["X-Request-Id"]
    assert rejected["outcome"] == "rejected" and rejected["status"] == 400
    assert "pg_read_file" in rejected["reason"] and rejected["rows"] is None


def test_the_fingerprint_ignores_literals_case_and_spacing(
    make_client: ClientFactory, tmp_path: Path
) -> None:
    audit_file = tmp_path / "audit.jsonl"
    client = make_client(audit_file=audit_file)
    for sql in (
        "SELECT status FROM claims WHERE claim_id = 5",
        "select status\n  from claims where claim_id=991",
        "SELECT status FROM claims WHERE claim_id = 5 AND status = 'paid'",
    ):
        client.post("/query", json={"sql": sql})
    client.__exit__(None, None, None)
    first, second, third = (event["fingerprint"] for event in read_events(audit_file))
    assert first == second != third


def test_postgres_sink_keeps_every_event_across_an_outage(
    make_client: ClientFactory, pg_admin_dsn: str, audit_dsn: str, tmp_path: Path
) -> None:
    # its own table, empty: a server kept between sessions (url backend) holds earlier rows
    audit_fetch(pg_admin_dsn, "DROP SCHEMA IF EXISTS api_test CASCADE")
    client = make_client(
        audit_sink="postgres",
        audit_database_url=audit_dsn,
        audit_schema="api_test",
        audit_spill_dir=tmp_path / "spill",
    )
    ids = []

    def burst(n: int) -> None:
        for i in range(n):
            response = client.post("/query", json={"sql": f"SELECT {i} AS n"})
            assert response.status_code == 200
            ids.append(response.headers["X-Request-Id"])

    burst(20)
    assert client.get("/readyz").status_code == 200
    fetch_sql(pg_admin_dsn, f"ALTER DATABASE {AUDIT_DATABASE} ALLOW_CONNECTIONS false")
    try:
        fetch_sql(
            pg_admin_dsn,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{AUDIT_DATABASE}'",
        )
        burst(20)  # queries keep working while the audit sink is down
        time.sleep(0.3)
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["audit"] != "ok"
    finally:
        fetch_sql(pg_admin_dsn, f"ALTER DATABASE {AUDIT_DATABASE} ALLOW_CONNECTIONS true")
    burst(20)
    client.__exit__(None, None, None)

    admin_audit = derive_dsn(pg_admin_dsn, database=AUDIT_DATABASE)
    rows = fetch_sql(
        admin_audit, "SELECT request_id FROM api_test.audit_events WHERE path = '/query'"
    )
    stored = [row["request_id"] for row in rows]
    assert sorted(stored) == sorted(ids) and len(stored) == 60


def test_the_reader_role_cannot_touch_the_audit_table(audit_dsn: str, demo: DemoDatabase) -> None:
    reader_to_audit = derive_dsn(demo.reader_dsn, database=AUDIT_DATABASE)
    with pytest.raises(asyncpg.PostgresError):
        fetch_sql(reader_to_audit, "SELECT 1")


def test_every_answer_is_in_the_audit_file_before_the_server_stops(
    demo: DemoDatabase, tmp_path: Path
) -> None:
    audit_file = tmp_path / "audit.jsonl"
    settings = make_settings(demo, audit_file=audit_file, audit_commit_window_ms=20)
    with live_server(settings) as url:
        result = asyncio.run(load(url, 300, 16, lambda i: f"SELECT {i} AS n"))
        assert result.statuses[200] == 300
        events = read_events(audit_file)  # the server is still running
    assert len(events) == 300 and len({e["request_id"] for e in events}) == 300


def _allow_sleep(sql: str, policy: GuardPolicy) -> Verdict:
    """Test-only guard: lets `pg_sleep` through so the query stays visible for a moment."""
    assert sql == "SELECT pg_sleep(1.5)"
    return Verdict(sql=sql, tables=(), functions=("pg_sleep",), has_order_by=False, has_limit=False)


def test_the_executed_sql_names_the_request_in_pg_stat_activity(
    make_client: ClientFactory, demo: DemoDatabase
) -> None:
    client = make_client(guard=_allow_sleep)
    answer: dict[str, Any] = {}

    def slow() -> None:
        answer["response"] = client.post("/query", json={"sql": "SELECT pg_sleep(1.5)"})

    thread = threading.Thread(target=slow)
    thread.start()
    seen: list[Any] = []
    deadline = time.monotonic() + 5
    while not seen and time.monotonic() < deadline:
        seen = fetch_sql(
            demo.admin_dsn,
            "SELECT application_name, query FROM pg_stat_activity "
            "WHERE application_name LIKE 'sqlgateway/%' AND query LIKE '%pg_sleep%' "
            # the cost check's EXPLAIN of the same text runs first, for a moment: not that one
            "AND query NOT LIKE 'EXPLAIN%'",
        )
        time.sleep(0.05)
    thread.join()
    request_id = answer["response"].headers["X-Request-Id"]
    assert seen, "the query never showed in pg_stat_activity"
    assert seen[0]["application_name"] == f"sqlgateway/{request_id}"
    assert seen[0]["query"].startswith(
        f"/* sqlgateway request_id={request_id} actor={TEST_KEY_NAME} */ SELECT"
    )


def test_metrics_count_requests_by_outcome(make_client: ClientFactory) -> None:
    client = make_client()
    for _ in range(3):
        client.post("/query", json={"sql": "SELECT 1"})
    client.post("/query", json={"sql": "DROP TABLE claims"})
    response = client.get("/metrics", headers={"Authorization": ""})
    assert response.status_code == 200
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }
    ok = (("outcome", "ok"), ("path", "/query"), ("protocol", "http"))
    assert samples[("sqlgateway_requests_total", ok)] == 3
    rejected = (("outcome", "rejected"), ("path", "/query"), ("protocol", "http"))
    assert samples[("sqlgateway_requests_total", rejected)] == 1
    assert client.get("/readyz", headers={"Authorization": ""}).json()["status"] == "ready"


def test_a_query_error_keeps_its_position_despite_the_leading_comment(
    make_client: ClientFactory,
) -> None:
    client = make_client()
    response = client.post("/query", json={"sql": "SELECT claim_id, nosuch FROM claims"})
    error = response.json()["error"]
    assert error["position"] == len("SELECT claim_id, ") + 1
    assert "sqlgateway request_id" not in error["message"]


def test_request_ids_are_unique_headers(make_client: ClientFactory) -> None:
    client = make_client()
    ids = {client.get("/healthz").headers["X-Request-Id"] for _ in range(20)}
    assert len(ids) == 20
