"""The attack corpus end to end: tests/corpus/*.yaml through the HTTP app on a real database.

1. Every refused statement is refused by the guard, and nothing changed: the database (checked
   after each family), other sessions, and the session state of every pooled connection.
2. Every accepted statement answers 200.
3. Defence in depth, measured: the refused corpus again with the parser guard switched off,
   each entry classified by the layer that stopped it. `pytest -s` prints the table;
   ``SQLGATEWAY_WRITE_DEFENCE_DOC=1`` also writes it into docs/defence-in-depth.md.

The traps (tests/traps.py) are installed first, and their own cases run as one
more family, ``trap``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from attack_harness import (
    ATTACKS,
    REFUSAL_CODES,
    REFUSED,
    TRAP_FAMILY,
    AdminSession,
    Defence,
    ProbingGuard,
    changed_keys,
    measure_defence,
    post,
    probe_pool,
    render_details,
    render_single_layers,
    render_table,
)
from conftest import ROOT, ClientFactory, load_corpus, make_settings
from dbstate import snapshot
from starlette.testclient import TestClient
from traps import Traps, install_traps

from sqlgateway.demo.database import DemoDatabase
from sqlgateway.errors import GuardError
from sqlgateway.guard import GuardPolicy, check_sql

DOC = ROOT / "docs" / "defence-in-depth.md"
POOL_SIZE = 3

#: Families whose persistent changes with the guard off are known (the guard is the only
#: layer); each one xfails with its reason. Keep empty unless a measurement says otherwise.
GUARD_ONLY_FAMILIES: dict[str, str] = {}


ACCEPTED: list[dict[str, str]] = load_corpus("accepted")


@pytest.fixture(scope="session")
def traps(demo: DemoDatabase) -> Traps:
    """The traps, installed once (idempotent)."""
    return install_traps(demo)


@pytest.fixture
def admin_session(demo: DemoDatabase) -> Iterator[AdminSession]:
    session = AdminSession(demo.admin_dsn)
    yield session
    session.close()


# --- 1. the refused corpus, guard on -------------------------------------------------------


def test_refused_corpus_is_refused_and_changes_nothing(
    make_client: ClientFactory, demo: DemoDatabase, traps: Traps, admin_session: AdminSession
) -> None:
    guard = ProbingGuard(check_sql)
    client = make_client(pool_min_size=POOL_SIZE, pool_max_size=POOL_SIZE, guard=guard)
    sessions_before = probe_pool(client, POOL_SIZE)
    first = previous = snapshot(demo.admin_dsn)
    problems: list[str] = []
    passed_the_guard: list[str] = []
    for family, sqls in ATTACKS.items():
        for sql in sqls:
            response = post(client, sql)
            code = response.json().get("error", {}).get("code")
            if response.status_code not in (400, 422):
                problems.append(f"[{family}] {sql!r} -> {response.status_code} {response.text}")
            elif family != TRAP_FAMILY and (sql in guard.approved or code not in REFUSAL_CODES):
                problems.append(f"[{family}] {sql!r} passed the guard -> {response.text}")
            elif sql in guard.approved:
                passed_the_guard.append(f"{sql!r} -> {code} {response.json()['error']}")
        current = snapshot(demo.admin_dsn)
        if current != previous:
            problems.append(f"[{family}] changed {changed_keys(previous, current)}")
        previous = current
    print("\ntrap cases past the guard, stopped by the database:", *passed_the_guard, sep="\n  ")
    assert snapshot(demo.admin_dsn) == first
    assert admin_session.alive(), "another session was killed"
    assert admin_session.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'") == 0
    assert admin_session.fetchval("SELECT count(*) FROM pg_largeobject_metadata") == 0
    assert probe_pool(client, POOL_SIZE) == sessions_before
    assert not problems, "\n".join(problems)


def test_row_level_security_trap_shows_the_reader_nothing(client: TestClient, traps: Traps) -> None:
    response = post(client, "SELECT owner, secret FROM trap_secrets")
    assert response.status_code == 200, response.text
    assert response.json()["rows"] == []


# --- 2. the accepted corpus ------------------------------------------------------------------


@pytest.mark.parametrize("entry", ACCEPTED, ids=[entry["note"] for entry in ACCEPTED])
def test_accepted_corpus_answers_200(
    client: TestClient, traps: Traps, entry: dict[str, str]
) -> None:
    response = post(client, entry["sql"])
    assert response.status_code == 200, response.text


# --- 3. defence in depth: the refused corpus with the guard off ------------------------------


@pytest.fixture(scope="module")
def defence(demo: DemoDatabase, traps: Traps) -> Defence:
    return measure_defence(demo, ATTACKS)


def _family_param(family: str) -> Any:
    if family in GUARD_ONLY_FAMILIES:
        reason = f"{family}: {GUARD_ONLY_FAMILIES[family]}"
        return pytest.param(family, marks=pytest.mark.xfail(reason=reason, strict=True))
    return family


@pytest.mark.parametrize("family", [_family_param(family) for family in ATTACKS])
def test_guard_off_leaves_persistent_state_unchanged(defence: Defence, family: str) -> None:
    for results in (defence.cost_on, defence.cost_off):
        result = results[family]
        assert not result.persistent, (
            f"with the guard off, family {family} changed {result.persistent}: "
            + "; ".join(f"{e.sql!r} {e.effects}" for e in result.entries if e.effects)
        )


def test_defence_in_depth_table(defence: Defence, demo: DemoDatabase) -> None:
    policy = GuardPolicy.from_settings(make_settings(demo))

    def refused(sql: str) -> bool:
        try:
            check_sql(sql, policy)
        except GuardError:
            return True
        return False

    first = {
        family: [defence.first_layer(family, entry) for entry in result.entries]
        for family, result in defence.cost_on.items()
    }
    behind = {f: [e.outcome for e in r.entries] for f, r in defence.cost_off.items() if r.entries}
    blocks = {
        "table": render_table(first, {f: sum(map(refused, s)) for f, s in ATTACKS.items()}),
        "table-cost-off": render_table(behind, None),
        "single-layer": render_single_layers(defence),
        "details": render_details(defence),
    }
    print("\nguard off:", blocks["table"], "guard and cost check off:", blocks["table-cost-off"])
    print(blocks["single-layer"])
    if os.environ.get("SQLGATEWAY_WRITE_DEFENCE_DOC"):
        write_doc(blocks)
    assert [sql for sqls in REFUSED.values() for sql in sqls if not refused(sql)] == []


def write_doc(blocks: dict[str, str]) -> None:
    """Replace the generated blocks of docs/defence-in-depth.md."""
    text = DOC.read_text("utf-8")
    for name, block in blocks.items():
        start, end = f"<!-- {name}: generated -->\n", f"<!-- end {name} -->"
        head, found, rest = text.partition(start)
        assert found, f"{DOC} has no {start.strip()} marker"
        text = head + start + block + end + rest.partition(end)[2]
    DOC.write_text(text, "utf-8")
