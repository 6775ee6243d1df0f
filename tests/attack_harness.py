"""The machinery of the attack-corpus tests: session probes, a superuser session that must
survive the corpus, and the guard-off measurement (which layer stops each statement).

The layers, in the order a statement meets them with the parser guard off:

- ``cost`` / ``EXPLAIN preflight``: the cost guard runs ``EXPLAIN (FORMAT JSON)`` first; it
  refuses expensive plans, and EXPLAIN itself refuses every statement it cannot plan
  (told apart by running the statement again with the cost check off);
- ``protocol``: the extended protocol prepares one statement only (42601 "cannot insert
  multiple commands into a prepared statement");
- ``read-only txn`` (25006) and ``privileges`` (42501): PostgreSQL, in whichever order it
  checks them for that statement;
- ``timeout``: statement_timeout (504);
- ``other error``: PostgreSQL refused it for another reason: often one that is no defence (a
  missing object or a type error: where the target exists, the statement gets through), at
  times a rule of its own (0A000, 25001, dblink's 2F003); the SQLSTATE tells which.

Effects looked for after each statement: the session state of the connection that ran it
(`PROBE_SQL`) and rows that row-level security hides (`TRAP_SECRETS`); after each batch: the
database (`dbstate.snapshot`: persistent state, large objects, advisory locks) and whether
another session survived.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from queue import SimpleQueue
from typing import Any

import asyncpg
import pytest
from conftest import TEST_API_KEY, load_corpus, make_settings
from dbstate import snapshot
from starlette.testclient import TestClient
from traps import TRAP_CASES, TRAP_SECRETS

from sqlgateway.app import create_app
from sqlgateway.demo.database import DemoDatabase
from sqlgateway.guard import GuardPolicy, Verdict
from sqlgateway.services import Guard

TRAP_FAMILY = "trap"
#: Refusals that happen before the database is reached (the empty string fails validation).
REFUSAL_CODES = {"rejected", "syntax_error", "invalid_request"}


def _by_family(entries: list[dict[str, str]]) -> dict[str, tuple[str, ...]]:
    families: dict[str, list[str]] = {}
    for entry in entries:
        families.setdefault(entry["family"], []).append(entry["sql"])
    return {family: tuple(sqls) for family, sqls in families.items()}


#: The refused corpus by family, and with the traps' cases as one more family: what the
#: attack tests send, over HTTP (api/test_attack_corpus.py) and MCP (mcp/…attack_corpus.py).
REFUSED = _by_family(load_corpus("refused"))
ATTACKS = {**REFUSED, TRAP_FAMILY: TRAP_CASES}

#: The session state of the pooled connection that runs it (the test's own probe).
#: application_name is left out of the settings digest: the gateway sets it per transaction
#: (SET LOCAL, `sqlgateway/<request id>`), so it differs between any two probes by design.
PROBE_SQL = """SELECT pg_backend_pid() AS pid, session_user::text AS session_role,
  current_user::text AS current_role, current_setting('statement_timeout') AS statement_timeout,
  current_setting('default_transaction_read_only') AS default_read_only,
  current_setting('search_path') AS search_path,
  coalesce(current_setting('app.user', true), '') AS app_user,
  (SELECT md5(string_agg(name || '=' || setting, ',' ORDER BY name)) FROM pg_settings
    WHERE name <> 'application_name') AS settings_digest,
  (SELECT count(*) FROM pg_prepared_statements WHERE name NOT LIKE '\\_\\_asyncpg%')
    AS prepared_statements,
  (SELECT count(*) FROM pg_cursors WHERE name NOT LIKE '\\_\\_asyncpg%') AS cursors,
  (SELECT count(*) FROM pg_listening_channels()) AS listen_channels,
  (SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'advisory')
    AS advisory_locks,
  pg_my_temp_schema()::oid::int8 AS temp_schema"""
#: The same, holding its connection a moment: `size` of them at once reach `size` different
#: pooled connections (asyncpg hands out the most recently released one first).
HELD_PROBE_SQL = PROBE_SQL + " FROM (SELECT pg_sleep(0.1)) AS hold"


def _permissive(sql: str, policy: GuardPolicy) -> Verdict:
    """Test-only: the parser guard switched off; the SQL runs as sent."""
    return Verdict(sql=sql, tables=(), functions=(), has_order_by=False, has_limit=False)


class ProbingGuard:
    """`inner`, except that the test's session probes pass; remembers what it approved."""

    def __init__(self, inner: Guard) -> None:
        self.inner = inner
        self.approved: set[str] = set()

    def __call__(self, sql: str, policy: GuardPolicy) -> Verdict:
        if sql in (PROBE_SQL, HELD_PROBE_SQL):
            return _permissive(sql, policy)
        verdict = self.inner(sql, policy)
        self.approved.add(sql)
        return verdict


def post(client: TestClient, sql: str) -> Any:
    return client.post("/query", json={"sql": sql})


def _session(response: Any) -> tuple[int, dict[str, Any]]:
    assert response.status_code == 200, response.text
    body = response.json()
    state = dict(zip((c["name"] for c in body["columns"]), body["rows"][0], strict=True))
    return state.pop("pid"), state


def probe(client: TestClient) -> dict[str, Any]:
    """The session state of the connection the previous request used (LIFO pool)."""
    return _session(post(client, PROBE_SQL))[1]


def probe_pool(client: TestClient, size: int) -> list[dict[str, Any]]:
    """The session state of each of the `size` pooled connections, in a stable order."""
    for _ in range(3):
        with ThreadPoolExecutor(size) as threads:
            responses = list(threads.map(lambda _: post(client, HELD_PROBE_SQL), range(size)))
        sessions = dict(map(_session, responses))
        if len(sessions) == size:
            return sorted(sessions.values(), key=repr)
    pytest.fail(f"{size} concurrent probes never reached {size} distinct pooled connections")


class AdminSession:
    """A superuser session held open across the corpus, on its own event loop."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._loop = asyncio.new_event_loop()
        self._conn: asyncpg.Connection = self._loop.run_until_complete(asyncpg.connect(dsn))

    def fetchval(self, sql: str) -> Any:
        return self._loop.run_until_complete(self._conn.fetchval(sql))

    def alive(self) -> bool:
        try:
            return bool(self.fetchval("SELECT 1") == 1)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
            return False

    def reopen(self) -> None:
        self._conn.terminate()
        self._conn = self._loop.run_until_complete(asyncpg.connect(self.dsn))

    def close(self) -> None:
        self._loop.run_until_complete(self._conn.close())
        self._loop.close()


def changed_keys(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return sorted(key for key in before.keys() | after.keys() if before.get(key) != after.get(key))


READ_ONLY, PRIVILEGES, PROTOCOL, TIMEOUT = "read-only txn", "privileges", "protocol", "timeout"
COST, PREFLIGHT, OTHER = "cost", "EXPLAIN preflight", "other error"
RAN, RAN_WITH_EFFECT = "ran without effect", "ran WITH effect"
LAYERS = (READ_ONLY, PRIVILEGES, PROTOCOL, TIMEOUT, COST, PREFLIGHT)
OUTCOMES = (*LAYERS, OTHER, RAN, RAN_WITH_EFFECT)
GUARD_OFF_WORKERS = 6  # statements run concurrently, each on its own client
#: Snapshot keys that are session state, not persistent state.
SESSION_KEYS = {"advisory_locks"}


def classify(response: Any) -> tuple[str, str]:
    """The layer that stopped a request of the guard-off app, and the SQLSTATE or code."""
    if response.status_code == 200:
        return RAN, "200"
    error = response.json()["error"]
    code, sqlstate = error["code"], error.get("sqlstate")
    if code == "timeout":
        return TIMEOUT, code
    if code == "rejected":
        # Guard off, only two things reject: the cost guard, and the executor, which maps
        # 25006 to `rejected` without the SQLSTATE; its message is the only tell.
        return (READ_ONLY, "25006") if "read-only" in error["message"] else (COST, code)
    if sqlstate == "25006":
        return READ_ONLY, sqlstate
    if sqlstate == "42501":
        return PRIVILEGES, sqlstate
    if sqlstate == "42601" and "cannot insert multiple commands" in error["message"]:
        return PROTOCOL, sqlstate
    return OTHER, sqlstate or code


@dataclass
class Measured:
    sql: str
    outcome: str
    detail: str
    effects: list[str] = field(default_factory=list)


@dataclass
class FamilyResult:
    entries: list[Measured] = field(default_factory=list)
    persistent: list[str] = field(default_factory=list)  # persistent state that changed


class GuardOffRun:
    """The app with the parser guard off, on WORKERS clients of one connection each.

    Each statement is followed by a probe of the connection that ran it (session state). The
    database (persistent state, large objects, advisory locks) and another session are checked
    after the whole batch; if anything changed, it is restored and the batch runs again per
    family, then per statement, so that each change is attributed and the statements after it
    are measured on a clean database.
    """

    def __init__(self, demo: DemoDatabase, **overrides: Any) -> None:
        self.demo = demo
        self.settings = make_settings(demo, pool_min_size=1, pool_max_size=1, **overrides)
        self.admin = AdminSession(demo.admin_dsn)
        self.clients: SimpleQueue[TestClient] = SimpleQueue()
        for _ in range(GUARD_OFF_WORKERS):
            self.clients.put(self._open_client())
        client = self.clients.get()
        self.session = probe(client)  # every fresh connection looks like this
        self.clients.put(client)
        self.state = snapshot(demo.admin_dsn)

    def _open_client(self) -> TestClient:
        client = TestClient(
            create_app(self.settings, guard=ProbingGuard(_permissive)),
            headers={"Authorization": f"Bearer {TEST_API_KEY}"},
            raise_server_exceptions=False,  # a 500 is an outcome to classify
        )
        client.__enter__()
        return client

    def close(self) -> None:
        for _ in range(GUARD_OFF_WORKERS):
            self.clients.get().__exit__(None, None, None)
        self.admin.close()

    def _run_one(self, sql: str) -> Measured:
        client = self.clients.get()
        try:
            response = post(client, sql)
            entry = Measured(sql, *classify(response))
            if response.status_code == 200 and any(
                s in response.text for s in TRAP_SECRETS.values()
            ):
                entry.effects.append("read rows that row-level security hides from it")
            session = probe(client)
            if session != self.session:
                changed = {k: v for k, v in session.items() if self.session[k] != v}
                entry.effects.append(f"session: {changed}")
                client.__exit__(None, None, None)  # a new connection: session state goes
                client = self._open_client()
        finally:
            self.clients.put(client)
        if entry.effects:
            entry.outcome = RAN_WITH_EFFECT
        return entry

    def run(self, groups: dict[str, tuple[str, ...]]) -> dict[str, FamilyResult]:
        items = [(family, sql) for family, sqls in groups.items() for sql in sqls]
        with ThreadPoolExecutor(GUARD_OFF_WORKERS) as threads:
            entries = list(threads.map(lambda item: self._run_one(item[1]), items))
        changes, persistent = self._database_changes()
        if changes and len(groups) > 1:
            results = {family: self.run({family: sqls})[family] for family, sqls in groups.items()}
            if persistent and not any(r.persistent for r in results.values()):
                for result in results.values():  # not reproduced: blame every family
                    result.persistent.extend(persistent)
            return results
        if changes:  # one family: again, one statement at a time
            ((family, sqls),) = groups.items()
            result = FamilyResult()
            for sql in sqls:
                entry = self._run_one(sql)
                entry_changes, entry_persistent = self._database_changes()
                if entry_changes:
                    entry.effects += entry_changes
                    entry.outcome = RAN_WITH_EFFECT
                    result.persistent += entry_persistent
                result.entries.append(entry)
            result.persistent = result.persistent or persistent  # not reproduced: keep it
            return {family: result}
        results = {family: FamilyResult() for family in groups}
        for (family, _), entry in zip(items, entries, strict=True):
            results[family].entries.append(entry)
        return results

    def _database_changes(self) -> tuple[list[str], list[str]]:
        """What changed outside the pooled sessions (restored), and which of it persists."""
        state = snapshot(self.demo.admin_dsn)
        changed = changed_keys(self.state, state)
        changes = [f"database: {key}" for key in changed]
        if not self.admin.alive():
            changes.append("another session was killed")
            self.admin.reopen()
        if changes:
            self.admin.fetchval("SELECT count(lo_unlink(oid)) FROM pg_largeobject_metadata")
            for _ in range(GUARD_OFF_WORKERS):  # new connections: session-level locks go
                self.clients.get().__exit__(None, None, None)
            for _ in range(GUARD_OFF_WORKERS):
                self.clients.put(self._open_client())
            self.state = snapshot(self.demo.admin_dsn)
        return changes, [key for key in changed if key not in SESSION_KEYS]


@dataclass
class Defence:
    cost_on: dict[str, FamilyResult]  # guard off, everything else as deployed
    cost_off: dict[str, FamilyResult]  # guard and cost check off; timed-out statements not rerun

    def behind(self, family: str, entry: Measured) -> Measured | None:
        """The same statement with the cost check off too."""
        return next((e for e in self.cost_off[family].entries if e.sql == entry.sql), None)

    def first_layer(self, family: str, entry: Measured) -> str:
        """The layer that stopped `entry` first (an error that changes without the cost
        check came from its EXPLAIN)."""
        behind = self.behind(family, entry)
        if entry.outcome == OTHER and behind and behind.detail != entry.detail:
            return PREFLIGHT
        return entry.outcome

    def layers(self, family: str, entry: Measured) -> set[str]:
        """What was seen stopping `entry` with the guard off (empty: it ran). A lower bound:
        read-only, privileges and protocol cannot be switched off to see what is behind."""
        seen = {self.first_layer(family, entry)}
        behind = self.behind(family, entry)
        if behind is not None and entry.outcome not in (RAN, RAN_WITH_EFFECT):
            seen.add(behind.outcome)
        return seen - {RAN, RAN_WITH_EFFECT}


def measure_defence(demo: DemoDatabase, attacks: dict[str, tuple[str, ...]]) -> Defence:
    """The corpus with the guard off, then again (but what timed out) with the cost check off."""

    def measure(groups: dict[str, tuple[str, ...]], **overrides: Any) -> dict[str, FamilyResult]:
        run = GuardOffRun(demo, statement_timeout_ms=500, request_deadline_ms=5_000, **overrides)
        try:
            return run.run(groups)
        finally:
            run.close()

    cost_on = measure(attacks)
    untimed = {
        family: tuple(e.sql for e in result.entries if e.outcome != TIMEOUT)
        for family, result in cost_on.items()
    }
    cost_off = measure(
        {f: sqls for f, sqls in untimed.items() if sqls}, max_plan_cost=0, max_plan_rows=0
    )
    return Defence(cost_on, {family: cost_off.get(family, FamilyResult()) for family in attacks})


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def render_table(rows: dict[str, list[str]], refused_by_guard: dict[str, int] | None) -> str:
    """`rows`: family -> the outcome of each of its statements."""
    header = ["family", "count", *(["stopped by guard"] if refused_by_guard else []), *OUTCOMES]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    totals: Counter[str] = Counter()
    for family, outcomes in rows.items():
        counts = Counter(outcomes)
        counts["count"] = len(outcomes)
        if refused_by_guard:
            counts["stopped by guard"] = refused_by_guard[family]
        totals.update(counts)
        lines.append(f"| {family} | " + " | ".join(str(counts[c] or "") for c in header[1:]) + " |")
    lines.append("| **all** | " + " | ".join(str(totals[c]) for c in header[1:]) + " |")
    return "\n".join(lines) + "\n"


def render_single_layers(defence: Defence) -> str:
    """Per family: the statements that ran with the guard off, and those one layer stops."""
    lines = [
        "| family | ran with the guard off: only the guard stops them | one other layer stops |",
        "|---|---|---|",
    ]
    for family, result in defence.cost_on.items():
        ran = [e for e in result.entries if not defence.layers(family, e)]
        one: Counter[str] = Counter()
        for entry in result.entries:
            layers = defence.layers(family, entry)
            if len(layers) == 1:
                (layer,) = layers
                one[f"{layer} ({entry.detail})" if layer == OTHER else layer] += 1
        if ran or one:
            ran_cell = "<br>".join(f"`{_cell(e.sql) or '(empty)'}`" for e in ran)
            one_cell = ", ".join(f"{layer} ×{n}" for layer, n in sorted(one.items()))
            lines.append(f"| {family} | {ran_cell} | {one_cell} |")
    return "\n".join(lines) + "\n"


def render_details(defence: Defence) -> str:
    lines = [
        "| family | statement | guard off | guard and cost check off |",
        "|---|---|---|---|",
    ]
    for family, result in defence.cost_on.items():
        for entry in result.entries:
            first = f"{defence.first_layer(family, entry)} ({entry.detail})"
            if entry.effects:
                first += " — " + _cell("; ".join(entry.effects))
            behind = defence.behind(family, entry)
            second = f"{behind.outcome} ({behind.detail})" if behind else ""
            if behind and behind.effects:
                second += " — " + _cell("; ".join(behind.effects))
            lines.append(f"| {family} | `{_cell(entry.sql) or '(empty)'}` | {first} | {second} |")
    return "\n".join(lines) + "\n"
