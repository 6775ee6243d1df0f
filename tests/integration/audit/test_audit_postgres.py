"""The PostgreSQL audit sink on a real server: exactly one row per event through outages,
shutdowns and crashes; the provisioned writer role can write the trail and read nothing else,
and the gateway's reader cannot even connect to the audit database."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from conftest import TEST_DATABASE, TEST_READER

from sqlgateway.audit import event as columns
from sqlgateway.audit.postgres import APPLICATION_NAME, PostgresSink
from sqlgateway.audit.provision import ensure_audit_database
from sqlgateway.audit.spill import spill_files
from sqlgateway.audit.trail import AuditEventError, AuditTrail, Event
from sqlgateway.demo.database import DemoDatabase, derive_dsn
from sqlgateway.http.record import RequestRecord

AUDIT_DATABASE = "sqlgateway_audit_test"
AUDIT_ROLE = "sqlgateway_audit_test_writer"
SCHEMA = "trail"
TABLE = f"{SCHEMA}.{columns.TABLE}"


@pytest.fixture(scope="module")
def writer_dsn(pg_admin_dsn: str, demo: DemoDatabase) -> str:
    return asyncio.run(
        ensure_audit_database(
            pg_admin_dsn,
            database=AUDIT_DATABASE,
            role=AUDIT_ROLE,
            reader_role=TEST_READER,
            schema=SCHEMA,
        )
    )


@pytest.fixture
def audit_admin_dsn(pg_admin_dsn: str, writer_dsn: str) -> Iterator[str]:
    """Superuser DSN of the audit database; the table starts empty."""
    dsn = derive_dsn(pg_admin_dsn, database=AUDIT_DATABASE)

    async def empty() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            if await conn.fetchval("SELECT to_regclass($1)", TABLE) is not None:
                await conn.execute(f"TRUNCATE {TABLE}")
        finally:
            await conn.close()

    asyncio.run(empty())
    yield dsn


def make_event(number: int) -> Event:
    record = RequestRecord(
        method="POST",
        path="/query",
        actor="tests",
        auth_mode="api_key",
        sql_received=f"SELECT claim_id FROM claims WHERE claim_id = {number}",
        sql_executed=f"SELECT claim_id FROM claims WHERE claim_id = {number} LIMIT 101",
        tables=("public.claims",),
        functions=(),
        outcome="ok",
        status=200,
        rows=1,
        truncated=False,
    )
    record.finish()
    return record.event()


def trail_for(dsn: str, spill_dir: Path, **overrides: Any) -> AuditTrail:
    options: dict[str, Any] = {
        "commit_max_events": 50,
        "commit_window_ms": 5,
        "retry_min_s": 0.05,
        "retry_max_s": 0.2,
    }
    options.update(overrides)
    return AuditTrail(
        PostgresSink(dsn, SCHEMA, connect_timeout_s=2), spill_dir=spill_dir, **options
    )


async def counts(admin_dsn: str) -> tuple[int, int]:
    """(rows, distinct request ids) of the audit table."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        row = await conn.fetchrow(f"SELECT count(*), count(DISTINCT request_id) FROM {TABLE}")
        assert row is not None
        return row[0], row[1]
    finally:
        await conn.close()


async def until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


def test_n_events_make_n_rows_and_a_replayed_batch_adds_none(
    writer_dsn: str, audit_admin_dsn: str, tmp_path: Path
) -> None:
    events = [make_event(number) for number in range(120)]

    async def go() -> None:
        trail = trail_for(writer_dsn, tmp_path)
        await trail.start()
        assert await trail.readiness() == "ok"
        for item in events:
            trail.submit(item)
        await until(lambda: trail.written == 120)
        await trail.close()
        assert await counts(audit_admin_dsn) == (120, 120)

        sink = PostgresSink(writer_dsn, SCHEMA)
        await sink.write(events[:60])  # a replay of events already written
        await sink.close()
        assert await counts(audit_admin_dsn) == (120, 120)

        conn = await asyncpg.connect(audit_admin_dsn)
        try:
            row = await conn.fetchrow(
                f"SELECT * FROM {TABLE} WHERE request_id = $1", events[7]["request_id"]
            )
        finally:
            await conn.close()
        assert row is not None
        assert row["tables"] == ["public.claims"] and row["functions"] == []
        assert row["ts"].isoformat(timespec="microseconds") == events[7]["ts"]
        assert row["normalized_sql"] == "SELECT claim_id FROM claims WHERE claim_id = ? LIMIT ?"
        assert row["fingerprint"] == events[7]["fingerprint"]
        assert (row["status"], row["rows"], row["truncated"]) == (200, 1, False)

    asyncio.run(go())


def test_an_outage_mid_run_spills_then_replays_without_loss_or_duplicates(
    pg_admin_dsn: str, writer_dsn: str, audit_admin_dsn: str, tmp_path: Path
) -> None:
    async def refuse(server: asyncpg.Connection, refused: bool) -> None:
        allow = "false" if refused else "true"
        await server.execute(f"ALTER DATABASE {AUDIT_DATABASE} ALLOW_CONNECTIONS {allow}")
        if refused:
            await server.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = $1 AND pid <> pg_backend_pid()",
                AUDIT_DATABASE,
            )

    async def go() -> None:
        server = await asyncpg.connect(pg_admin_dsn)
        trail = trail_for(writer_dsn, tmp_path)
        try:
            await trail.start()
            for number in range(50):
                trail.submit(make_event(number))
            await until(lambda: trail.written == 50)

            await refuse(server, True)
            for number in range(50, 100):
                trail.submit(make_event(number))
                await asyncio.sleep(0.002)
            await until(lambda: trail.spilled >= 50)
            assert not trail.sink_up
            assert await trail.readiness() == "spilling"
            assert len(spill_files(tmp_path)) == 1

            await refuse(server, False)
            await until(lambda: trail.sink_up)
            for number in range(100, 150):
                trail.submit(make_event(number))
            await until(lambda: trail.written + trail.replayed == 150)
            await trail.close()
        finally:
            await refuse(server, False)
            await server.close()
        assert await counts(audit_admin_dsn) == (150, 150)
        assert (trail.dropped, trail.rejected) == (0, 0)
        assert trail.replayed == trail.spilled >= 50
        assert spill_files(tmp_path) == []

    asyncio.run(go())


def test_close_writes_everything_still_queued(
    writer_dsn: str, audit_admin_dsn: str, tmp_path: Path
) -> None:
    async def go() -> None:
        trail = trail_for(writer_dsn, tmp_path, commit_window_ms=1_000, commit_max_events=1_000)
        await trail.start()
        for number in range(300):
            trail.submit(make_event(number))
        await trail.close(timeout_s=10)
        assert trail.written == 300
        assert await counts(audit_admin_dsn) == (300, 300)

    asyncio.run(go())


CRASHING_WORKER = textwrap.dedent(
    """
    import asyncio, os, sys
    from pathlib import Path
    from sqlgateway.audit.trail import AuditTrail
    from sqlgateway.http.record import RequestRecord

    class Down:
        async def open(self): raise ConnectionError("down")
        async def write(self, events): raise ConnectionError("down")
        async def ping(self): raise ConnectionError("down")
        async def stored(self, ids, since): return set()
        async def close(self): pass

    async def main():
        count = int(sys.argv[2])
        trail = AuditTrail(Down(), spill_dir=Path(sys.argv[1]), commit_max_events=10,
                           commit_window_ms=5)
        await trail.start()
        for number in range(count):
            record = RequestRecord(method="POST", path="/query", sql_received=f"SELECT {number}",
                                   outcome="ok", status=200)
            trail.submit(record.event())
        while trail.spilled < count:
            await asyncio.sleep(0.01)
        print("spilled", flush=True)
        sys.stdin.readline()
        os._exit(0)  # a crash: no close(), the spill file stays as it is

    asyncio.run(main())
    """
)


def test_a_crashed_workers_spill_file_is_replayed_by_the_next_start_not_while_it_lives(
    writer_dsn: str, audit_admin_dsn: str, tmp_path: Path
) -> None:
    async def while_alive() -> None:
        trail = trail_for(writer_dsn, tmp_path)
        await trail.start()
        await until(lambda: trail.sink_up)  # looked at the file, found it locked
        await trail.close()
        assert trail.replayed == 0
        assert await counts(audit_admin_dsn) == (0, 0)

    with subprocess.Popen(
        [sys.executable, "-c", CRASHING_WORKER, str(tmp_path), "40"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    ) as worker:
        try:
            assert worker.stdout is not None and worker.stdin is not None
            assert worker.stdout.readline().strip() == "spilled"
            asyncio.run(while_alive())
            worker.stdin.write("exit\n")
            worker.stdin.flush()
            assert worker.wait(timeout=10) == 0
        finally:
            worker.kill()
    assert len(spill_files(tmp_path)) == 1

    async def after_crash() -> None:
        trail = trail_for(writer_dsn, tmp_path)
        await trail.start()
        await until(lambda: trail.replayed == 40)
        await trail.close()
        assert await counts(audit_admin_dsn) == (40, 40)

    asyncio.run(after_crash())
    assert spill_files(tmp_path) == []


def test_events_the_table_refuses_raise_audit_event_error_and_nul_is_replaced(
    writer_dsn: str, audit_admin_dsn: str
) -> None:
    async def go() -> None:
        sink = PostgresSink(writer_dsn, SCHEMA)
        try:
            broken = make_event(1)
            del broken["outcome"]  # NOT NULL
            with pytest.raises(AuditEventError):
                await sink.write([make_event(2), broken])
            odd = make_event(3)
            odd["sql_received"] = "SELECT '\x00'"
            await sink.write([odd])
        finally:
            await sink.close()
        assert await counts(audit_admin_dsn) == (1, 1)  # the batch with `broken`: none of it
        conn = await asyncpg.connect(audit_admin_dsn)
        try:
            stored = await conn.fetchval(f"SELECT sql_received FROM {TABLE}")
        finally:
            await conn.close()
        assert stored == "SELECT '\ufffd'"

    asyncio.run(go())


def test_a_table_dropped_under_a_running_trail_is_made_again_and_nothing_lost(
    writer_dsn: str, audit_admin_dsn: str, tmp_path: Path
) -> None:
    async def go() -> None:
        trail = trail_for(writer_dsn, tmp_path)
        await trail.start()
        for number in range(20):
            trail.submit(make_event(number))
        await until(lambda: trail.written == 20)
        conn = await asyncpg.connect(audit_admin_dsn)
        try:
            await conn.execute(f"DROP TABLE {TABLE}")
        finally:
            await conn.close()
        for number in range(20, 40):
            trail.submit(make_event(number))
        await until(lambda: trail.written + trail.replayed == 40)
        await trail.close()
        assert await counts(audit_admin_dsn) == (20, 20)  # the dropped rows are gone, of course
        assert trail.dropped == 0

    asyncio.run(go())


def test_migration_is_idempotent_and_records_the_layout_version(
    writer_dsn: str, audit_admin_dsn: str
) -> None:
    async def go() -> None:
        for _ in range(2):
            sink = PostgresSink(writer_dsn, SCHEMA)
            await sink.open()
            await sink.close()
        conn = await asyncpg.connect(audit_admin_dsn)
        try:
            versions = await conn.fetch(f"SELECT version FROM {SCHEMA}.schema_version")
            owner = await conn.fetchval(
                "SELECT tableowner FROM pg_tables WHERE schemaname = $1 AND tablename = $2",
                SCHEMA,
                columns.TABLE,
            )
        finally:
            await conn.close()
        assert [row["version"] for row in versions] == [columns.SCHEMA_VERSION]
        assert owner == AUDIT_ROLE

    asyncio.run(go())


def test_a_version_1_table_gains_the_new_columns_and_keeps_its_rows(
    writer_dsn: str, audit_admin_dsn: str
) -> None:
    """A table written by a gateway of layout version 1 (no protocol, operation, parameters)
    is migrated in place: its rows stay, new events carry the new fields."""

    async def go() -> None:
        conn = await asyncpg.connect(writer_dsn)
        try:
            for name in columns.ADDED_COLUMNS:
                await conn.execute(f"ALTER TABLE {TABLE} DROP COLUMN IF EXISTS {name}")
            await conn.execute(f"UPDATE {SCHEMA}.schema_version SET version = 1")
            await conn.execute(
                f"INSERT INTO {TABLE} (ts, request_id, actor, auth_mode, method, path, tables,"
                " functions, outcome) VALUES (now(), 'old-1', 'tests', 'api_key', 'POST',"
                " '/query', '{}', '{}', 'ok')"
            )
        finally:
            await conn.close()
        sink = PostgresSink(writer_dsn, SCHEMA)
        await sink.open()
        event = make_event(7) | {"protocol": "mcp", "operation": "run_query"}
        event["parameters"] = {"claim_number": "CLM-0000007"}
        await sink.write([event])
        await sink.close()
        conn = await asyncpg.connect(audit_admin_dsn)
        try:
            rows = await conn.fetch(
                f"SELECT request_id, protocol, operation, parameters::text FROM {TABLE} ORDER BY id"
            )
            version = await conn.fetchval(f"SELECT max(version) FROM {SCHEMA}.schema_version")
        finally:
            await conn.close()
        assert version == columns.SCHEMA_VERSION == 2
        assert [tuple(row) for row in rows] == [
            ("old-1", None, None, None),
            (event["request_id"], "mcp", "run_query", '{"claim_number": "CLM-0000007"}'),
        ]

    asyncio.run(go())


def test_provisioning_separates_the_reader_and_the_writer(
    pg_admin_dsn: str, demo: DemoDatabase, writer_dsn: str
) -> None:
    async def go() -> None:
        # idempotent: a second call gives the same working DSN
        again = await ensure_audit_database(
            pg_admin_dsn,
            database=AUDIT_DATABASE,
            role=AUDIT_ROLE,
            reader_role=TEST_READER,
            schema=SCHEMA,
        )
        assert again == writer_dsn

        # the gateway's reader cannot even connect to the audit database
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await asyncpg.connect(derive_dsn(demo.reader_dsn, database=AUDIT_DATABASE))

        # the writer cannot read the served data
        try:
            conn = await asyncpg.connect(derive_dsn(writer_dsn, database=TEST_DATABASE))
        except asyncpg.InsufficientPrivilegeError:
            pass
        else:
            try:
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await conn.fetch("SELECT * FROM claims LIMIT 1")
            finally:
                await conn.close()

        # nor the stored password, and it is no superuser
        conn = await asyncpg.connect(writer_dsn)
        try:
            assert not await conn.fetchval(
                "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
            )
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.fetch("SELECT * FROM sqlgateway_meta.auditor")
        finally:
            await conn.close()

    asyncio.run(go())


def test_a_writer_that_can_read_other_tables_is_reported(
    writer_dsn: str, audit_admin_dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Provisioned as the demo does, the writer reads nothing outside its schema; given a
    grant on another table, opening the sink says so in the log."""

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(audit_admin_dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    async def open_and_close() -> None:
        sink = PostgresSink(writer_dsn, SCHEMA, connect_timeout_s=2)
        await sink.open()
        await sink.close()

    with caplog.at_level(logging.WARNING, logger="sqlgateway.audit"):
        asyncio.run(open_and_close())
    assert "can read tables outside" not in caplog.text
    asyncio.run(admin("CREATE TABLE IF NOT EXISTS public.served_data (secret text)"))
    try:
        asyncio.run(admin(f"GRANT SELECT ON public.served_data TO {AUDIT_ROLE}"))
        with caplog.at_level(logging.WARNING, logger="sqlgateway.audit"):
            asyncio.run(open_and_close())
        assert "can read tables outside schema trail (public.served_data)" in caplog.text
    finally:
        asyncio.run(admin("DROP TABLE public.served_data"))


def test_a_batch_costs_one_statement_and_no_reset_round_trip(
    writer_dsn: str, audit_admin_dsn: str, pg_admin_dsn: str
) -> None:
    """Every answer waits for its batch: asyncpg's reset query on each release of the pooled
    connection would double the round trips. The writer's session ends on its INSERT."""

    async def go() -> None:
        sink = PostgresSink(writer_dsn, SCHEMA)
        admin = await asyncpg.connect(pg_admin_dsn)
        try:
            for number in range(3):
                await sink.write([make_event(number)])
            last = await admin.fetch(
                "SELECT query FROM pg_stat_activity WHERE application_name = $1",
                APPLICATION_NAME,
            )
        finally:
            await admin.close()
            await sink.close()
        assert [row["query"].split(" ", 1)[0] for row in last] == ["INSERT"]

    asyncio.run(go())
