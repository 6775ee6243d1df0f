"""A torn final line (a process killed in the middle of a write) in the JSON Lines file or in
a spill file: the gateway starts, replays the spill file, reports the torn line and serves;
every whole event is kept once, and new events are not glued to the torn line."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx2
import pytest
from conftest import audit_fetch
from durability import AUTH, jsonl_events, point_lookup, table_events
from workers import serve_process

from sqlgateway.audit.jsonl import encode_event
from sqlgateway.demo.database import DemoDatabase
from sqlgateway.http.record import RequestRecord

#: A process that spills events, starts writing one more and is killed half-way through.
KILLED_MID_WRITE = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from sqlgateway.audit.spill import SpillFile, encode_lines
    from sqlgateway.http.record import RequestRecord

    def event(n):
        record = RequestRecord(method="POST", path="/query", sql_received=f"SELECT {n}",
                               outcome="ok", status=200, request_id=f"spilled{n:04d}")
        record.finish()
        return record.event()

    spill = SpillFile.create(Path(sys.argv[1]))
    spill.append(encode_lines(event(n) for n in range(5)))
    spill.sync()
    spill.append(encode_lines([event(5)])[:40])  # the write a kill cut short
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def _event(request_id: str) -> bytes:
    record = RequestRecord(method="POST", path="/query", outcome="ok", request_id=request_id)
    record.finish()
    return encode_event(record.event())


@pytest.mark.parametrize("sink", ["jsonl", "postgres"])
def test_torn_last_lines_are_reported_and_skipped_and_the_gateway_starts(
    demo: DemoDatabase, pg_admin_dsn: str, audit_dsn: str, tmp_path: Path, sink: str
) -> None:
    spill_dir, audit_file, log = tmp_path / "spill", tmp_path / "audit.jsonl", tmp_path / "log"
    killed = subprocess.run([sys.executable, "-c", KILLED_MID_WRITE, str(spill_dir)], check=False)
    assert killed.returncode == -signal.SIGKILL
    torn_jsonl = _event("written0002")[:33]
    audit_file.write_bytes(
        _event("written0000") + b"\n" + _event("written0001") + b"\n" + torn_jsonl
    )
    schema = "torn_lines"
    audit_fetch(pg_admin_dsn, f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    settings: dict[str, str | None] = {
        "SQLGATEWAY_AUDIT_SINK": sink,
        "SQLGATEWAY_AUDIT_FILE": str(audit_file),
        "SQLGATEWAY_AUDIT_SPILL_DIR": str(spill_dir),
        "SQLGATEWAY_AUDIT_DATABASE_URL": audit_dsn,
        "SQLGATEWAY_AUDIT_SCHEMA": schema,
    }
    with (
        serve_process(demo, settings, log_path=log) as (process, url),
        httpx2.Client(base_url=url, headers=AUTH, timeout=10) as http,
    ):
        answers = [http.post("/query", json={"sql": point_lookup(n)}) for n in range(3)]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    assert {response.status_code for response in answers} == {200}
    new = {response.headers["X-Request-Id"] for response in answers}
    spilled = {f"spilled{n:04d}" for n in range(5)}

    if sink == "jsonl":
        found, unreadable = jsonl_events(audit_file)
        assert set(found) == {"written0000", "written0001"} | spilled | new
        assert set(found.values()) == {1} and unreadable == 1  # the torn line, on its own
        assert torn_jsonl + b"\n" in audit_file.read_bytes()
    else:
        assert table_events(pg_admin_dsn, schema) == dict.fromkeys(spilled | new, 1)
    [rejected] = spill_dir.glob("rejected-*.jsonl")
    assert rejected.read_bytes().startswith(b'{"ts":') and len(rejected.read_bytes()) == 41
    assert not list(spill_dir.glob("spill-*.jsonl"))
    reported = log.read_text()
    assert "torn last line (40 bytes)" in reported
    if sink == "jsonl":
        assert "ends in a torn line (33 bytes" in reported
