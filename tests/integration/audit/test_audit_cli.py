"""`sqlgateway audit …` against a JSON Lines trail (with a rotated sibling and torn lines) and
against the PostgreSQL table: the same events, so every sub-command must print the same."""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest
from conftest import execute_sql

from sqlgateway.audit.cli import add_audit_parser
from sqlgateway.audit.event import NAMES, TABLE, schema_statements
from sqlgateway.db.sql import quote_ident
from sqlgateway.demo.database import derive_dsn

DATABASE = "sqlgateway_audit_cli_test"
SCHEMA = "audit_cli"
NOW = datetime.now(UTC).replace(microsecond=123456)


def _event(n: int, ago: timedelta, **fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = dict.fromkeys(NAMES)
    event.update(
        ts=(NOW - ago).isoformat(timespec="microseconds"),
        request_id=f"r{n}",
        actor="alice",
        auth_mode="api_key",
        method="POST",
        path="/query",
        tables=[],
        functions=[],
        outcome="ok",
        status=200,
    )
    event.update(fields)
    return event


def _query(sql: str, fingerprint: str, normalized: str, **fields: Any) -> dict[str, Any]:
    return {
        "sql_received": sql,
        "sql_executed": sql,
        "dialect": "postgres",
        "fingerprint": fingerprint,
        "normalized_sql": normalized,
        **fields,
    }


COUNT = "SELECT count(*) FROM claims"
EVENTS = [
    _event(
        1,
        timedelta(hours=74),
        **_query(
            COUNT,
            "fa",
            COUNT,
            tables=["claims"],
            rows=1,
            total_ms=12.5,
            db_ms=10.25,
            functions=["count"],
            truncated=False,
        ),
    ),
    _event(
        2,
        timedelta(hours=73),
        actor="bob",
        **_query(
            "SELECT * FROM public.policies LIMIT 5",
            "fb",
            "SELECT * FROM public.policies LIMIT ?",
            tables=["public.policies"],
            rows=5,
            total_ms=40.0,
        ),
    ),
    _event(
        3,
        timedelta(hours=49),
        actor="mallory",
        outcome="rejected",
        status=400,
        reason="relation pg_shadow is not allowed",
        **_query("SELECT * FROM pg_shadow", "fc", "SELECT * FROM pg_shadow", total_ms=1.5),
    ),
    _event(
        4,
        timedelta(minutes=50),
        **_query(
            "select count(*) from claims",
            "fa",
            COUNT,
            tables=["claims"],
            rows=1,
            total_ms=20.0,
            client_addr="10.0.0.7",
        ),
    ),
    _event(
        5,
        timedelta(minutes=40),
        actor="mallory",
        outcome="syntax_error",
        status=400,
        reason="syntax error at line 1",
        **_query("SELEC 1", "fd", "selec 1", total_ms=0.75),
    ),
    _event(
        6,
        timedelta(minutes=30),
        actor="anonymous",
        auth_mode="none",
        outcome="unauthorized",
        status=401,
        reason="missing API key",
        total_ms=0.25,
    ),
    _event(
        7,
        timedelta(minutes=20),
        outcome="timeout",
        status=504,
        sqlstate="57014",
        **_query(
            "SELECT pg_sleep(10) FROM claims",
            "fe",
            "SELECT pg_sleep(?) FROM claims",
            tables=["claims"],
            total_ms=5000.0,
        ),
    ),
    _event(
        8,
        timedelta(minutes=10),
        actor="mallory",
        outcome="rejected",
        status=400,
        reason="DELETE is not allowed",
        **_query("DELETE FROM claims", "ff", "DELETE FROM claims", total_ms=2.0),
    ),
    _event(
        9,
        timedelta(minutes=5),
        actor="bob",
        outcome="truncated",
        **_query(
            "SELECT *\n  FROM claims",
            "fg",
            "SELECT * FROM claims",
            tables=["claims"],
            rows=1000,
            truncated=True,
            total_ms=1500.0,
            response_chars=99000,
        ),
    ),
    _event(
        10,
        timedelta(minutes=1),
        path="/mcp",
        protocol="mcp",
        operation="run_query",
        **_query(
            "SELECT count(*) FROM CLAIMS", "fa", COUNT, tables=["claims"], rows=1, total_ms=30.0
        ),
    ),
]


#: the SQL of events 7 and 9 as the table shows it, split on spaces
SQL7 = ["SELECT", "pg_sleep(?)", "FROM", "claims"]
SQL9 = ["SELECT", "*", "FROM", "claims"]


def _ids(events: list[dict[str, Any]]) -> list[str]:
    return [e["request_id"] for e in events]


def _line(event: dict[str, Any]) -> bytes:
    return orjson.dumps(event) + b"\n"


def _write_jsonl(directory: Path) -> Path:
    """Events 1-6 in a rotated sibling that ends with a torn line, 7-10 in the live file
    with a line still being written."""
    directory.mkdir(parents=True, exist_ok=True)
    live = directory / "audit.jsonl"
    rotated = directory / "audit.jsonl.20200101T000000.000000Z"
    rotated.write_bytes(b"".join(_line(e) for e in EVENTS[:6]) + b'{"ts": "2020-01-01T00:0')
    live.write_bytes(b"".join(_line(e) for e in EVENTS[6:]) + b'{"ts": "20')
    return live


async def _insert(dsn: str, schema: str, events: list[dict[str, Any]]) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        columns = ", ".join(quote_ident(name) for name in NAMES)
        values = ", ".join(f"${i}" for i in range(1, len(NAMES) + 1))
        sql = f"INSERT INTO {quote_ident(schema)}.{TABLE} ({columns}) VALUES ({values})"
        await conn.executemany(
            sql,
            [
                [datetime.fromisoformat(e["ts"]) if n == "ts" else e[n] for n in NAMES]
                for e in events
            ],
        )
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def audit_dsn(pg_admin_dsn: str) -> Iterator[str]:
    """A database whose `audit_cli.audit_events` holds EVENTS."""
    drop = f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"
    execute_sql(pg_admin_dsn, drop, f"CREATE DATABASE {DATABASE}")
    dsn = derive_dsn(pg_admin_dsn, database=DATABASE)
    execute_sql(dsn, *schema_statements(SCHEMA))
    asyncio.run(_insert(dsn, SCHEMA, EVENTS))
    yield dsn
    execute_sql(pg_admin_dsn, drop)


@pytest.fixture(scope="module")
def audit_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_jsonl(tmp_path_factory.mktemp("audit"))


@pytest.fixture(params=["jsonl", "postgres"])
def source(request: pytest.FixtureRequest) -> list[str]:
    """The flags that name the trail, for each of the two sinks."""
    if request.param == "jsonl":
        return ["--file", str(request.getfixturevalue("audit_file"))]
    return ["--database-url", request.getfixturevalue("audit_dsn"), "--schema", SCHEMA]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sqlgateway")
    add_audit_parser(parser.add_subparsers(dest="command", required=True))
    return parser


def audit(*argv: str) -> int:
    args = _parser().parse_args(["audit", *argv])
    code: int = args.func(args)
    return code


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code = audit(*argv)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


def jsonl(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in run(capsys, *argv, "--format", "jsonl").splitlines()]


def test_export_gives_every_event_as_written(
    source: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert jsonl(capsys, "export", *source) == EVENTS
    rows = list(csv.DictReader(io.StringIO(run(capsys, "export", *source, "--format", "csv"))))
    assert [r["request_id"] for r in rows] == _ids(EVENTS)
    assert rows[0] == {
        **{name: "" for name in NAMES},
        "ts": EVENTS[0]["ts"],
        "request_id": "r1",
        "actor": "alice",
        "auth_mode": "api_key",
        "method": "POST",
        "path": "/query",
        "sql_received": COUNT,
        "sql_executed": COUNT,
        "dialect": "postgres",
        "fingerprint": "fa",
        "normalized_sql": COUNT,
        "tables": "claims",
        "functions": "count",
        "outcome": "ok",
        "status": "200",
        "rows": "1",
        "truncated": "false",
        "db_ms": "10.25",
        "total_ms": "12.5",
    }
    assert rows[8]["sql_received"] == "SELECT *\n  FROM claims"
    assert jsonl(capsys, "export", *source, "--limit", "2", "--since", "2h") == EVENTS[3:5]


def test_export_to_a_file(source: list[str], tmp_path: Path) -> None:
    out = tmp_path / "events.csv"
    assert audit("export", *source, "--format", "csv", "--output", str(out)) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [r["request_id"] for r in rows] == _ids(EVENTS)


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ([], _ids(EVENTS)),
        (["--limit", "2"], ["r9", "r10"]),  # the latest --limit, oldest first
        (["--actor", "alice"], ["r1", "r4", "r7", "r10"]),
        (["--actor", "alice", "--since", "2h"], ["r4", "r7", "r10"]),
        (["--since", "2d"], ["r4", "r5", "r6", "r7", "r8", "r9", "r10"]),
        (["--until", "1d"], ["r1", "r2", "r3"]),
        (["--since", "3d", "--until", "45m"], ["r3", "r4"]),
        (["--outcome", "rejected,syntax_error"], ["r3", "r5", "r8"]),
        (["--outcome", "rejected", "--outcome", "timeout"], ["r3", "r7", "r8"]),
        (["--table", "claims"], ["r1", "r4", "r7", "r9", "r10"]),
        (["--table", "public.claims", "--actor", "bob"], ["r9"]),
        (["--table", "policies"], ["r2"]),
        (["--text", "PG_"], ["r3", "r7"]),
        (["--text", "%"], []),  # a literal percent sign, not a wildcard
        (["--actor", "nobody"], []),
        (["--protocol", "mcp"], ["r10"]),  # events without a protocol are http
        (["--protocol", "http", "--actor", "alice"], ["r1", "r4", "r7"]),
    ],
)
def test_search(
    source: list[str], flags: list[str], expected: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert _ids(jsonl(capsys, "search", *source, *flags)) == expected


def test_search_as_a_table(source: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    lines = run(capsys, "search", *source, "--actor", "bob").splitlines()
    assert lines[0].split() == ["ts", "actor", "outcome", "total_ms", "rows", "sql"]
    short = datetime.fromisoformat(EVENTS[8]["ts"]).strftime("%Y-%m-%d %H:%M:%S")
    assert lines[2].split() == [*short.split(), "bob", "truncated", "1500.0", "1000", *SQL9]
    assert len(lines) == 3
    none = run(capsys, "search", *source, "--actor", "nobody").splitlines()
    assert none[1:] == ["(no matching events)"]


def test_search_as_json(source: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    events = json.loads(
        run(capsys, "search", *source, "--outcome", "unauthorized", "--format", "json")
    )
    assert events == [EVENTS[5]]


def test_tail(source: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert _ids(jsonl(capsys, "tail", *source, "-n", "3")) == ["r8", "r9", "r10"]
    assert _ids(jsonl(capsys, "tail", *source, "--lines", "2", "--actor", "mallory")) == [
        "r5",
        "r8",
    ]
    assert len(jsonl(capsys, "tail", *source)) == 10  # default 20
    lines = run(capsys, "tail", *source, "-n", "1").splitlines()
    assert lines[1].split()[2:] == [
        "alice",
        "ok",
        "30.0",
        "1",
        "SELECT",
        "count(*)",
        "FROM",
        "CLAIMS",
    ]


@pytest.mark.parametrize(
    ("by", "expected"),
    [
        ("count", ["fa", "fb", "fc", "fd", "fe", "ff", "fg"]),
        ("total", ["fe", "fg", "fa", "fb", "ff", "fc", "fd"]),
        ("avg", ["fe", "fg", "fb", "fa", "ff", "fc", "fd"]),
        ("p95", ["fe", "fg", "fb", "fa", "ff", "fc", "fd"]),
        ("rows", ["fg", "fb", "fa", "fc", "fd", "fe", "ff"]),
    ],
)
def test_top(
    source: list[str], by: str, expected: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    stats = json.loads(run(capsys, "top", *source, "--by", by, "--format", "json"))
    assert [s["fingerprint"] for s in stats] == expected


def test_top_statistics(source: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    stats = json.loads(run(capsys, "top", *source, "--limit", "2", "--format", "json"))
    assert stats[0] == {
        "fingerprint": "fa",
        "count": 3,
        "total_ms": 62.5,
        "avg_ms": 20.833,
        "p95_ms": 29.0,  # percentile_cont(0.95) of 12.5, 20, 30
        "rows": 3,
        "normalized_sql": COUNT,
    }
    assert len(stats) == 2
    rows = list(
        csv.DictReader(io.StringIO(run(capsys, "top", *source, "--format", "csv", "--since", "2h")))
    )
    assert rows[0] == {
        "fingerprint": "fa",
        "count": "2",
        "total_ms": "50.0",
        "avg_ms": "25.0",
        "p95_ms": "29.5",
        "rows": "2",
        "normalized_sql": COUNT,
    }
    table = run(capsys, "top", *source, "--by", "total", "--limit", "1").splitlines()
    assert table[1].split() == ["fe", "1", "5000.0", "5000.0", "5000.0", "0", *SQL7]


def test_rejected(source: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    probes = json.loads(run(capsys, "rejected", *source, "--format", "json"))
    assert probes == [
        {
            "actor": "mallory",
            "events": 3,
            "outcomes": {"rejected": 2, "syntax_error": 1},
            "reasons": [
                {"reason": "DELETE is not allowed", "count": 1},
                {"reason": "relation pg_shadow is not allowed", "count": 1},
                {"reason": "syntax error at line 1", "count": 1},
            ],
            "first_seen": EVENTS[2]["ts"],
            "last_seen": EVENTS[7]["ts"],
        },
        {
            "actor": "anonymous",
            "events": 1,
            "outcomes": {"unauthorized": 1},
            "reasons": [{"reason": "missing API key", "count": 1}],
            "first_seen": EVENTS[5]["ts"],
            "last_seen": EVENTS[5]["ts"],
        },
    ]
    recent = json.loads(run(capsys, "rejected", *source, "--since", "2d", "--format", "json"))
    assert [(p["actor"], p["events"]) for p in recent] == [("mallory", 2), ("anonymous", 1)]
    timeouts = json.loads(
        run(capsys, "rejected", *source, "--outcome", "timeout", "--format", "json")
    )
    assert [(p["actor"], p["outcomes"]) for p in timeouts] == [("alice", {"timeout": 1})]
    table = run(capsys, "rejected", *source, "--limit", "1").splitlines()
    assert len(table) == 2
    assert table[1].startswith("mallory       3  rejected 2, syntax_error 1  ")


def test_slow(source: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert _ids(jsonl(capsys, "slow", *source)) == ["r7", "r9"]  # over 1000 ms
    assert _ids(jsonl(capsys, "slow", *source, "--over-ms", "10", "--limit", "4")) == [
        "r7",
        "r9",
        "r2",
        "r10",
    ]
    assert _ids(jsonl(capsys, "slow", *source, "--over-ms", "10", "--actor", "alice")) == [
        "r7",
        "r10",
        "r4",
        "r1",
    ]
    rows = list(csv.DictReader(io.StringIO(run(capsys, "slow", *source, "--format", "csv"))))
    assert [(r["request_id"], r["total_ms"]) for r in rows] == [("r7", "5000.0"), ("r9", "1500.0")]


def test_the_json_lines_trail_reports_torn_lines(
    audit_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert audit("export", "--file", str(audit_file)) == 0
    # the rotated file's torn end is reported; the live file's unfinished line is not (yet)
    assert "skipped 1 unreadable line(s)" in capsys.readouterr().err


def test_settings_name_the_trail(
    audit_file: Path,
    audit_dsn: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SQLGATEWAY_AUDIT_SINK", "auto")
    monkeypatch.setenv("SQLGATEWAY_AUDIT_FILE", str(audit_file))
    monkeypatch.delenv("SQLGATEWAY_AUDIT_DATABASE_URL", raising=False)
    assert _ids(jsonl(capsys, "tail", "-n", "1")) == ["r10"]
    monkeypatch.setenv("SQLGATEWAY_AUDIT_DATABASE_URL", audit_dsn)
    monkeypatch.setenv("SQLGATEWAY_AUDIT_SCHEMA", SCHEMA)
    assert _ids(jsonl(capsys, "tail", "-n", "1", "--actor", "bob")) == ["r9"]
    monkeypatch.setenv("SQLGATEWAY_AUDIT_SINK", "none")
    assert audit("tail") == 2
    assert "give --file or --database-url" in capsys.readouterr().err


def test_what_cannot_be_read_exits_1(
    audit_dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert audit("tail", "--file", str(tmp_path / "audit.jsonl")) == 1
    assert f"no audit file at {tmp_path / 'audit.jsonl'}" in capsys.readouterr().err
    assert audit("tail", "--database-url", audit_dsn, "--schema", "elsewhere") == 1
    assert "no table elsewhere.audit_events" in capsys.readouterr().err
    closed = "postgresql://nobody@127.0.0.1:9/nothing"
    assert audit("tail", "--database-url", closed, "--schema", SCHEMA) == 1
    assert "cannot connect to the audit database" in capsys.readouterr().err


def test_bad_times_exit_2(source: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert audit("search", *source, "--since", "yesterday") == 2
    assert "--since: 'yesterday' is neither a duration" in capsys.readouterr().err


def _follow_in_thread(*argv: str) -> tuple[threading.Thread, list[int]]:
    codes: list[int] = []
    thread = threading.Thread(target=lambda: codes.append(audit(*argv)), daemon=True)
    thread.start()
    return thread, codes


def test_tail_follows_the_file_across_rotation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    live = tmp_path / "audit.jsonl"
    live.write_bytes(_line(EVENTS[0]) + _line(EVENTS[1]))
    thread, codes = _follow_in_thread(
        "tail",
        "--file",
        str(live),
        "-f",
        "--max-events",
        "5",
        "--interval-ms",
        "20",
        "--format",
        "jsonl",
    )
    time.sleep(0.3)
    assert thread.is_alive()  # printed the two events, waiting for more
    with live.open("ab") as fh:
        fh.write(_line(EVENTS[2]) + _line(EVENTS[3])[:20])  # the 4th still being written
        fh.flush()
        time.sleep(0.1)
        fh.write(_line(EVENTS[3])[20:])
    time.sleep(0.1)
    live.rename(tmp_path / "audit.jsonl.20991231T000000.000000Z")
    live.write_bytes(_line(EVENTS[4]))
    thread.join(timeout=10)
    assert codes == [0]
    lines = capsys.readouterr().out.splitlines()
    assert _ids([json.loads(line) for line in lines]) == ["r1", "r2", "r3", "r4", "r5"]


def test_tail_follows_the_table(audit_dsn: str, capsys: pytest.CaptureFixture[str]) -> None:
    follow, dsn = "audit_follow", audit_dsn
    execute_sql(dsn, f"DROP SCHEMA IF EXISTS {follow} CASCADE", *schema_statements(follow))
    asyncio.run(_insert(dsn, follow, EVENTS[:1]))
    thread, codes = _follow_in_thread(
        "tail",
        "--database-url",
        dsn,
        "--schema",
        follow,
        "-f",
        "--max-events",
        "3",
        "--interval-ms",
        "20",
        "--format",
        "jsonl",
        "--actor",
        "bob",
    )
    time.sleep(0.3)
    assert thread.is_alive()
    asyncio.run(_insert(dsn, follow, EVENTS[1:3]))  # bob, then mallory (filtered out)
    asyncio.run(_insert(dsn, follow, [{**EVENTS[8], "request_id": "x"}, EVENTS[8]]))
    thread.join(timeout=10)
    assert codes == [0]
    lines = capsys.readouterr().out.splitlines()
    assert _ids([json.loads(line) for line in lines]) == ["r2", "x", "r9"]
    execute_sql(dsn, f"DROP SCHEMA {follow} CASCADE")
