"""When no sink can take an event (the audit database is down and the spill directory is on a
full file system), requests get 503 `unavailable` with Retry-After and a hint naming the audit
trail, before any SQL runs, and /readyz says so; nothing is answered without its event. With
SQLGATEWAY_AUDIT_FAIL_OPEN=true they are answered, and each answer without its event is counted
in /metrics and logged."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from conftest import TEST_READER, admin_fetch, audit_fetch
from durability import (
    AUTH,
    fill,
    point_lookup,
    refuse_audit_database,
    table_events,
    tiny_filesystem,
)
from prometheus_client.parser import text_string_to_metric_families
from workers import serve_process

from sqlgateway.demo.database import DemoDatabase


@pytest.fixture
def full_spill_dir() -> Iterator[Path]:
    """A spill directory on a tiny file system, filled to the last byte."""
    try:
        with tiny_filesystem(size_kib=64) as mount_point:
            spill_dir = mount_point / "spill"
            spill_dir.mkdir()
            fill(mount_point)
            yield spill_dir
    except OSError as error:
        pytest.skip(f"a tiny file system is needed for a full spill directory: {error}")


def _settings(audit_dsn: str, spill_dir: Path, schema: str, **more: str) -> dict[str, str | None]:
    return {
        "SQLGATEWAY_AUDIT_SINK": "postgres",
        "SQLGATEWAY_AUDIT_DATABASE_URL": audit_dsn,
        "SQLGATEWAY_AUDIT_SCHEMA": schema,
        "SQLGATEWAY_AUDIT_SPILL_DIR": str(spill_dir),
        **more,
    }


def _reader_activity(demo: DemoDatabase) -> set[tuple[int, object]]:
    """(pid, state_change) of the gateway's connections: any statement changes the second."""
    rows = admin_fetch(
        demo,
        "SELECT pid, state_change FROM pg_stat_activity WHERE usename = $1 "
        "AND datname = current_database()",
        TEST_READER,
    )
    return {(row["pid"], row["state_change"]) for row in rows}


def _unaudited(http: httpx2.Client) -> float:
    for family in text_string_to_metric_families(http.get("/metrics").text):
        if family.name == "sqlgateway_audit_events_unaudited":
            return float(family.samples[0].value)
    raise AssertionError("no unaudited counter on /metrics")


def test_with_no_sink_queries_get_503_before_any_sql_and_nothing_is_answered_unaudited(
    demo: DemoDatabase, pg_admin_dsn: str, audit_dsn: str, full_spill_dir: Path, tmp_path: Path
) -> None:
    schema = "fail_closed"
    audit_fetch(pg_admin_dsn, f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    settings = _settings(audit_dsn, full_spill_dir, schema)
    answered: list[str] = []
    with (
        serve_process(demo, settings, log_path=tmp_path / "serve.log") as (_, url),
        httpx2.Client(base_url=url, headers=AUTH, timeout=10) as http,
    ):

        def query(number: int) -> httpx2.Response:
            response = http.post("/query", json={"sql": point_lookup(number)})
            if response.status_code == 200:
                answered.append(response.headers["X-Request-Id"])
            return response

        assert [query(n).status_code for n in range(5)] == [200] * 5
        try:
            refuse_audit_database(pg_admin_dsn, True)
            first = query(5)  # admitted before the trail knew: its answer is held back
            assert first.status_code == 503
            before = _reader_activity(demo)
            refused = [query(n) for n in range(6, 16)]
            assert _reader_activity(demo) == before  # no statement ran for them
            ready = http.get("/readyz")
        finally:
            refuse_audit_database(pg_admin_dsn, False)
        for response in [first, *refused]:
            assert response.status_code == 503
            error = response.json()["error"]
            assert error["code"] == "unavailable" and "audit trail" in error["hint"]
            assert int(response.headers["Retry-After"]) >= 1
            assert b"claim_id" not in response.content
        assert ready.status_code == 503 and ready.json()["audit"] == "unavailable"
    found = table_events(pg_admin_dsn, schema)
    assert sorted(found) == sorted(answered) and len(answered) == 5


def test_failing_open_queries_are_answered_and_each_unaudited_answer_is_counted(
    demo: DemoDatabase, pg_admin_dsn: str, audit_dsn: str, full_spill_dir: Path, tmp_path: Path
) -> None:
    schema = "fail_open"
    audit_fetch(pg_admin_dsn, f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    log = tmp_path / "serve.log"
    settings = _settings(audit_dsn, full_spill_dir, schema, SQLGATEWAY_AUDIT_FAIL_OPEN="true")
    with (
        serve_process(demo, settings, log_path=log) as (_, url),
        httpx2.Client(base_url=url, headers=AUTH, timeout=10) as http,
    ):
        audited = [http.post("/query", json={"sql": point_lookup(n)}) for n in range(3)]
        assert _unaudited(http) == 0
        try:
            refuse_audit_database(pg_admin_dsn, True)
            unaudited = [http.post("/query", json={"sql": point_lookup(n)}) for n in range(3, 10)]
            assert _unaudited(http) == len(unaudited)
            ready = http.get("/readyz")
        finally:
            refuse_audit_database(pg_admin_dsn, False)
        assert {response.status_code for response in audited + unaudited} == {200}
        assert ready.status_code == 503 and ready.json()["audit"] == "unavailable"
    found = table_events(pg_admin_dsn, schema)
    assert sorted(found) == sorted(r.headers["X-Request-Id"] for r in audited)
    logged = [line for line in log.read_text().splitlines() if "without an audit event" in line]
    assert len(logged) == len(unaudited)
    assert all(any(r.headers["X-Request-Id"] in line for line in logged) for r in unaudited)
