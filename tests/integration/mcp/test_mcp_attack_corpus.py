"""The refused corpus (tests/corpus/refused.yaml) and the traps through `run_query` over MCP,
with the SDK's client against a live gateway: every statement refused (an error result with
the refusal's code), the database unchanged after each family, the same checks as the HTTP
corpus test (tests/integration/api/test_attack_corpus.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from attack_harness import ATTACKS, REFUSAL_CODES, TRAP_FAMILY, AdminSession, ProbingGuard
from conftest import make_settings
from dbstate import snapshot
from live import live_server
from mcp import Client
from mcp_client import error_of, over_http, text
from traps import Traps, install_traps

from sqlgateway.demo.database import DemoDatabase
from sqlgateway.guard import check_sql


@pytest.fixture(scope="module")
def traps(demo: DemoDatabase) -> Traps:
    return install_traps(demo)


@pytest.fixture
def guarded(demo: DemoDatabase, traps: Traps) -> Iterator[tuple[str, ProbingGuard]]:
    guard = ProbingGuard(check_sql)
    settings = make_settings(demo, pool_min_size=3, pool_max_size=3, auth="none")
    with live_server(settings, guard=guard) as url:
        yield url, guard


def test_refused_corpus_over_mcp_is_refused_and_changes_nothing(
    guarded: tuple[str, ProbingGuard], demo: DemoDatabase
) -> None:
    url, guard = guarded
    admin = AdminSession(demo.admin_dsn)
    try:
        first = previous = snapshot(demo.admin_dsn)
        problems: list[str] = []
        calls = 0
        for family, sqls in ATTACKS.items():

            async def family_calls(client: Client, sqls: tuple[str, ...] = sqls) -> list[Any]:
                return [await client.call_tool("run_query", {"sql": sql}) for sql in sqls]

            for sql, result in zip(sqls, over_http(url, None, family_calls), strict=True):
                calls += 1
                if not result.is_error:
                    problems.append(f"[{family}] {sql!r} answered rows over MCP")
                elif family != TRAP_FAMILY and (
                    sql in guard.approved or error_of(result)["code"] not in REFUSAL_CODES
                ):
                    problems.append(f"[{family}] {sql!r} passed the guard -> {text(result)}")
            current = snapshot(demo.admin_dsn)
            if current != previous:
                problems.append(f"[{family}] changed the database")
            previous = current
        assert calls == sum(len(sqls) for sqls in ATTACKS.values()) > 250
        assert snapshot(demo.admin_dsn) == first
        assert admin.alive(), "another session was killed"
        assert admin.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'") == 0
        assert admin.fetchval("SELECT count(*) FROM pg_largeobject_metadata") == 0
        assert not problems, "\n".join(problems)
    finally:
        admin.close()
