"""No answer without its audit event, even when the process is killed.

`sqlgateway serve` under load is killed with SIGKILL at a random moment, started again (which
replays what its spill files hold) and stopped; then every request id that received an answer
(its status line and headers arrived) has exactly one event, in the JSON Lines file or the
PostgreSQL table, and no event is there twice. Variants kill the gateway while the sink is
down, so that answered events wait in the spill file. One kill per case by default; the slow
suite repeats them.
"""

from __future__ import annotations

import random
import signal
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import audit_fetch
from durability import (
    Answers,
    Load,
    fill,
    jsonl_events,
    refuse_audit_database,
    table_events,
    tiny_filesystem,
)
from workers import serve_process

from sqlgateway.demo.database import DemoDatabase

KILLS = [pytest.param(1, id="one-kill"), pytest.param(5, id="five-kills", marks=pytest.mark.slow)]


def _settings(sink: str, tmp_path: Path, audit_dsn: str, schema: str) -> dict[str, str | None]:
    settings: dict[str, str | None] = {
        "SQLGATEWAY_POOL_MAX_SIZE": "4",
        "SQLGATEWAY_AUDIT_SINK": sink,
        "SQLGATEWAY_AUDIT_FILE": str(tmp_path / "audit" / "audit.jsonl"),
        "SQLGATEWAY_AUDIT_SPILL_DIR": str(tmp_path / "spill"),
    }
    if sink == "postgres":
        settings |= {"SQLGATEWAY_AUDIT_DATABASE_URL": audit_dsn, "SQLGATEWAY_AUDIT_SCHEMA": schema}
    return settings


def _kill_under_load(
    demo: DemoDatabase,
    settings: dict[str, str | None],
    answers: Answers,
    log: Path,
    rng: random.Random,
    during: Callable[[], object] | None = None,
) -> float:
    """Serve, load, (0.2 s in, call `during`), SIGKILL at a random moment; that moment (s)."""
    with serve_process(demo, settings, log_path=log) as (process, url), Load(url, answers):
        moment = rng.uniform(0.3, 1.5)
        if during is not None:
            time.sleep(0.2)
            during()
            moment += 0.2
        time.sleep(moment)
        process.send_signal(signal.SIGKILL)
        process.wait()
    return moment


def _restart_and_stop(demo: DemoDatabase, settings: dict[str, str | None], log: Path) -> None:
    """Start again (spill files of the killed process are replayed), answer a little, stop with
    SIGTERM (the rest is written before the exit)."""
    answers = Answers()
    with serve_process(demo, settings, log_path=log) as (process, url):
        with Load(url, answers, concurrency=2, requests=20) as load:
            load.wait()
        assert answers.statuses == Counter({200: 20})
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0


def _check(answers: Answers, found: Counter[str], unreadable: int, label: str) -> None:
    missing = [request_id for request_id in answers.ids if found[request_id] == 0]
    repeated = {request_id: n for request_id, n in found.items() if n > 1}
    print(
        f"\n{label}: {len(answers.ids)} answers ({dict(answers.statuses)}), "
        f"{answers.unanswered} requests without an answer, {sum(found.values())} events, "
        f"{len(missing)} answered without an event, {len(repeated)} repeated, "
        f"{unreadable} torn line(s)"
    )
    assert answers.ids, "nothing was answered before the kill"
    assert missing == []
    assert repeated == {}


def _events(sink: str, tmp_path: Path, pg_admin_dsn: str, schema: str) -> tuple[Counter[str], int]:
    if sink == "jsonl":
        return jsonl_events(tmp_path / "audit" / "audit.jsonl")
    return table_events(pg_admin_dsn, schema), 0


@pytest.mark.parametrize("kills", KILLS)
@pytest.mark.parametrize("sink", ["jsonl", "postgres"])
def test_every_answer_has_exactly_one_event_after_sigkill_under_load(
    demo: DemoDatabase,
    pg_admin_dsn: str,
    audit_dsn: str,
    tmp_path: Path,
    sink: str,
    kills: int,
) -> None:
    schema = f"crash_{sink}_{kills}"
    audit_fetch(pg_admin_dsn, f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    settings = _settings(sink, tmp_path, audit_dsn, schema)
    rng = random.Random()
    answers = Answers()
    log = tmp_path / "serve.log"
    moments = [_kill_under_load(demo, settings, answers, log, rng) for _ in range(kills)]
    _restart_and_stop(demo, settings, log)
    found, unreadable = _events(sink, tmp_path, pg_admin_dsn, schema)
    _check(answers, found, unreadable, f"{sink}, SIGKILL at {[round(m, 2) for m in moments]} s")


@pytest.mark.parametrize("kills", KILLS)
def test_events_spilled_while_the_audit_database_was_down_survive_a_kill(
    demo: DemoDatabase, pg_admin_dsn: str, audit_dsn: str, tmp_path: Path, kills: int
) -> None:
    """The audit database refuses connections during the load: answered events are in the
    spill file only when the gateway is killed; the next start replays them."""
    schema = f"crash_outage_{kills}"
    audit_fetch(pg_admin_dsn, f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    settings = _settings("postgres", tmp_path, audit_dsn, schema)
    rng = random.Random()
    answers = Answers()
    log = tmp_path / "serve.log"
    try:
        for _ in range(kills):
            _kill_under_load(
                demo,
                settings,
                answers,
                log,
                rng,
                during=lambda: refuse_audit_database(pg_admin_dsn, True),
            )
            refuse_audit_database(pg_admin_dsn, False)
    finally:
        refuse_audit_database(pg_admin_dsn, False)
    assert list((tmp_path / "spill").glob("spill-*.jsonl")), "nothing was spilled"
    _restart_and_stop(demo, settings, log)
    assert not list((tmp_path / "spill").glob("spill-*.jsonl"))  # replayed and removed
    found, _ = _events("postgres", tmp_path, pg_admin_dsn, schema)
    _check(answers, found, 0, f"postgres down, then SIGKILL, {kills} time(s)")


@pytest.mark.parametrize("kills", KILLS)
def test_events_spilled_while_the_audit_file_system_was_full_survive_a_kill(
    demo: DemoDatabase, tmp_path: Path, kills: int
) -> None:
    """The JSON Lines file's file system fills up during the load: answered events are in the
    spill file only when the gateway is killed; the next start replays them into the file,
    each once."""
    try:
        tiny = tiny_filesystem(size_kib=32 * 1024)  # room for every event once not filled
        audit_dir = tiny.__enter__()
    except OSError as error:
        pytest.skip(f"a tiny file system is needed to fill the audit file's disk: {error}")
    try:
        settings = _settings("jsonl", tmp_path, "", "")
        settings["SQLGATEWAY_AUDIT_FILE"] = str(audit_dir / "audit.jsonl")
        rng = random.Random()
        answers = Answers()
        log = tmp_path / "serve.log"
        for _ in range(kills):
            _kill_under_load(demo, settings, answers, log, rng, during=lambda: fill(audit_dir))
            (audit_dir / "filler").unlink()
        assert list((tmp_path / "spill").glob("spill-*.jsonl")), "nothing was spilled"
        _restart_and_stop(demo, settings, log)
        assert not list((tmp_path / "spill").glob("spill-*.jsonl"))  # replayed and removed
        found, unreadable = jsonl_events(audit_dir / "audit.jsonl")
        _check(answers, found, unreadable, f"jsonl on a full disk, then SIGKILL, {kills} time(s)")
    finally:
        tiny.__exit__(None, None, None)


@pytest.mark.parametrize("sink", ["jsonl", "postgres"])
def test_a_second_signal_during_shutdown_loses_no_answered_event(
    demo: DemoDatabase, pg_admin_dsn: str, audit_dsn: str, tmp_path: Path, sink: str
) -> None:
    """SIGINT under load, and SIGINT again at once: uvicorn then exits without waiting for
    requests in flight or running the lifespan's shutdown; what was answered is stored."""
    schema = f"second_signal_{sink}"
    audit_fetch(pg_admin_dsn, f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    settings = _settings(sink, tmp_path, audit_dsn, schema)
    answers = Answers()
    log = tmp_path / "serve.log"
    with serve_process(demo, settings, log_path=log) as (process, url), Load(url, answers):
        time.sleep(0.8)
        process.send_signal(signal.SIGINT)
        time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    _restart_and_stop(demo, settings, log)
    found, unreadable = _events(sink, tmp_path, pg_admin_dsn, schema)
    _check(answers, found, unreadable, f"{sink}, SIGINT twice under load")
