"""Scale-out: several worker processes, read replicas with a passive health check, and
PgBouncer transaction pooling."""

from __future__ import annotations

import asyncio
import shutil
import signal
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from conftest import (
    TEST_DATABASE,
    make_settings,
)
from live import reader_backends
from starlette.testclient import TestClient
from workers import AUTH, query_both_workers, serve_two_workers

from sqlgateway.app import create_app
from sqlgateway.db.executor import Database, QueryPlan
from sqlgateway.db.pools import Member, PoolSet
from sqlgateway.demo.database import DemoDatabase, ensure_demo
from sqlgateway.demo.embedded import start_embedded


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serve_with_two_workers_spreads_queries_and_stops_cleanly_on_a_signal(
    demo: DemoDatabase, tmp_path: Path, stop: signal.Signals
) -> None:
    audit_file = tmp_path / "audit.jsonl"
    before = set(reader_backends(demo))
    settings: dict[str, str | None] = {
        "SQLGATEWAY_AUDIT_FILE": str(audit_file),
        "SQLGATEWAY_AUDIT_SPILL_DIR": str(tmp_path / "spill"),
    }
    with serve_two_workers(demo, settings) as (process, url):
        sent, served = query_both_workers(demo, url, before, queries=50)
        print(f"\n2 workers: {sent} queries, backends that served: {len(served)}")

        started = time.monotonic()
        process.send_signal(stop)
        assert process.wait(timeout=40 + 5) == 0
        print(f"{stop.name} → exit 0 in {time.monotonic() - started:.2f} s")
    assert not served & set(reader_backends(demo))  # the lifespans closed the pools
    # every query's audit event was written by the worker that served it, once
    ids = [orjson.loads(line)["request_id"] for line in audit_file.read_bytes().splitlines()]
    assert len(ids) == len(set(ids)) == sent


# --- read replicas ---------------------------------------------------------------------------


class _Pool:
    """Stands in for an asyncpg pool in PoolSet's bookkeeping."""

    def get_size(self) -> int:
        return 1


def _members(*names: str) -> list[Member]:
    return [Member(name, _Pool()) for name in names]  # type: ignore[arg-type]


def test_pool_set_round_robin_skips_down_replicas_and_falls_back_to_the_primary() -> None:
    primary, a, b = _members("primary", "a", "b")
    pools = PoolSet(primary, [a, b], retry_ms=60_000)
    assert [pools.candidates()[0].name for _ in range(4)] == ["a", "b", "a", "b"]
    assert [m.name for m in pools.candidates()] == ["a", "b", "primary"]
    pools.mark_down(a, OSError())
    assert [pools.candidates()[0].name for _ in range(3)] == ["b", "b", "b"]
    pools.mark_down(b, OSError())
    assert [m.name for m in pools.candidates()] == ["primary"]
    pools.mark_down(primary, OSError())
    assert {m.name for m in pools.candidates()} == {"a", "b", "primary"}  # all down: ask anyway
    a.down_until = time.monotonic()  # retry interval over
    assert pools.candidates()[0].name == "a"


@pytest.fixture
def replicas(
    pg_admin_dsn: str,
) -> Iterator[tuple[DemoDatabase, DemoDatabase, Path]]:
    """Two stand-in replicas: `replica_a` on the session's server, `replica_b` on a private
    embedded server (its data directory is yielded) that the test may stop and start."""
    replica_a = asyncio.run(
        ensure_demo(pg_admin_dsn, database="replica_a", reader_role="replica_reader", claims=500)
    )
    base = Path(tempfile.mkdtemp(prefix="sqlgateway-replica-"))
    server = start_embedded(base / "pgdata")
    replica_b = asyncio.run(
        ensure_demo(
            server.admin_dsn(), database="replica_b", reader_role="replica_reader", claims=500
        )
    )
    yield replica_a, replica_b, base / "pgdata"
    start_embedded(base / "pgdata").stop()
    shutil.rmtree(base, ignore_errors=True)


def _where(client: TestClient, queries: int) -> tuple[Counter[str], list[float]]:
    """Which database answered each of `queries` queries, and how long each took."""
    answered: Counter[str] = Counter()
    latencies = []
    for _ in range(queries):
        started = time.perf_counter()
        response = client.post("/query", json={"sql": "SELECT current_database() AS db"})
        latencies.append(time.perf_counter() - started)
        answered[response.json()["rows"][0][0] if response.status_code == 200 else "failed"] += 1
    return answered, latencies


def test_replicas_share_queries_a_stopped_one_is_skipped_and_comes_back(
    demo: DemoDatabase, replicas: tuple[DemoDatabase, DemoDatabase, Path]
) -> None:
    replica_a, replica_b, data_dir_b = replicas
    settings = make_settings(
        demo,
        replica_urls=f"{replica_a.reader_dsn},{replica_b.reader_dsn}",
        replica_retry_ms=500,
        pool_min_size=1,
    )
    app = create_app(settings)
    with TestClient(app, headers=AUTH) as client:
        spread, _ = _where(client, 20)
        assert spread == {"replica_a": 10, "replica_b": 10}

        start_embedded(data_dir_b).stop()
        stopped = time.monotonic()
        during, latencies = _where(client, 20)
        assert during == {"replica_a": 20}  # not one failed request
        print(
            f"\nreplicas: spread {dict(spread)}; replica_b stopped: {dict(during)}, first "
            f"request {latencies[0] * 1000:.0f} ms, slowest after it "
            f"{max(latencies[1:]) * 1000:.0f} ms"
        )

        start_embedded(data_dir_b)
        time.sleep(max(0.0, 0.6 - (time.monotonic() - stopped)))  # the retry interval is over
        back, _ = _where(client, 20)
        assert back["failed"] == 0
        assert back["replica_b"] >= 9, back
        print(f"replica_b restarted: {dict(back)}")


def test_primary_answers_when_every_replica_is_down(demo: DemoDatabase) -> None:
    dead = "postgresql://nobody@127.0.0.1:1/none"  # nothing listens on port 1
    settings = make_settings(demo, replica_urls=f"{dead},{dead}", replica_retry_ms=60_000)
    with TestClient(create_app(settings), headers=AUTH) as client:
        answered, _ = _where(client, 5)
    assert answered == {TEST_DATABASE: 5}


# --- PgBouncer ------------------------------------------------------------------------------


def test_pgbouncer_mode_sends_no_startup_settings_but_pins_them_per_transaction(
    demo: DemoDatabase,
) -> None:
    settings = make_settings(demo, pgbouncer=True, statement_timeout_ms=1234)
    sql = (
        "SELECT interval '1 year 2 months 3 days' AS span, "
        "current_setting('statement_timeout') AS timeout, "
        "current_setting('transaction_read_only') AS read_only"
    )

    async def session_and_query() -> tuple[str, Any]:
        database = await Database.connect(demo.reader_dsn, settings)
        try:
            # outside a transaction: the server's default, so it was not a startup parameter
            session = await database.pool.fetchval("SHOW IntervalStyle")
            result = await database.run(QueryPlan(sql, has_order_by=False))
        finally:
            await database.close()
        return session, result

    session, result = asyncio.run(session_and_query())
    assert session == "postgres"
    assert b'"P1Y2M3D","1234ms","on"' in result.body
