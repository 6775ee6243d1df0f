"""Through a real PgBouncer in transaction pooling mode: more concurrent requests than
server connections, settings pinned per transaction, timeouts, and a healthy pool after.

PgBouncer comes from the system (Debian's `pgbouncer`); `.ci/run` installs it and sets
SQLGATEWAY_TEST_REQUIRE_PGBOUNCER=1 so CI fails instead of skipping when it is missing."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx2
import pytest
from conftest import TEST_API_KEY, make_settings
from live import live_server, load

from sqlgateway.demo.database import DemoDatabase, ensure_demo
from sqlgateway.demo.embedded import start_embedded

PGBOUNCER = shutil.which("pgbouncer") or (
    "/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None
)
SERVER_CONNECTIONS = 2
AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}

if PGBOUNCER is None:
    if os.environ.get("SQLGATEWAY_TEST_REQUIRE_PGBOUNCER"):
        raise RuntimeError("SQLGATEWAY_TEST_REQUIRE_PGBOUNCER is set but pgbouncer is missing")
    pytest.skip("pgbouncer is not installed (apt-get install pgbouncer)", allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("pgbouncer did not start listening")


@pytest.fixture(scope="module")
def bouncer() -> Iterator[DemoDatabase]:
    """A small demo on a private embedded server, reached through PgBouncer on loopback;
    yields the demo with its reader DSN pointing at PgBouncer."""
    assert PGBOUNCER is not None
    base = Path(tempfile.mkdtemp(prefix="sqlgateway-pgbouncer-"))
    base.chmod(0o755)
    server = start_embedded(base / "pgdata", delete_on_stop=True)
    demo = asyncio.run(
        ensure_demo(
            server.admin_dsn(), database="bouncer_demo", reader_role="bouncer_reader", claims=500
        )
    )
    port = _free_port()
    config = base / "pgbouncer"
    config.mkdir()
    config.chmod(0o777)
    (config / "users.txt").write_text('"bouncer_reader" ""\n')
    (config / "pgbouncer.ini").write_text(
        f"""[databases]
bouncer_demo = host={server.socket_dir} port={server.port} dbname=bouncer_demo
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {config}/users.txt
pool_mode = transaction
default_pool_size = {SERVER_CONNECTIONS}
max_client_conn = 200
logfile = {config}/pgbouncer.log
"""
    )
    # PgBouncer refuses to run as root; the embedded server's own user may reach its socket
    command = [PGBOUNCER, str(config / "pgbouncer.ini")]
    if os.geteuid() == 0:
        command[1:1] = ["-u", "embedded_postgres"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_port(port)
        yield replace(demo, reader_dsn=f"postgresql://bouncer_reader@127.0.0.1:{port}/bouncer_demo")
    finally:
        process.terminate()
        process.wait(timeout=10)
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


def test_gateway_through_pgbouncer_transaction_pooling(bouncer: DemoDatabase) -> None:
    settings = make_settings(
        bouncer,
        pgbouncer=True,
        pool_min_size=1,
        pool_max_size=8,  # more client connections than PgBouncer's 2 server connections
        statement_timeout_ms=300,
        request_deadline_ms=5_000,
        max_plan_cost=0,
        max_plan_rows=0,
    )
    with live_server(settings) as url, httpx2.Client(base_url=url, headers=AUTH) as http:
        # settings pinned per transaction survive connection sharing
        body = http.post(
            "/query",
            json={"sql": "SELECT '1 year 2 months'::interval AS iv, E'a\\\\b' AS s"},
        ).json()
        assert body["rows"] == [["P1Y2M", "a\\b"]]
        # the statement timeout is set per transaction too
        slow = http.post(
            "/query", json={"sql": "SELECT count(*) FROM generate_series(1, 2000000000)"}
        )
        assert slow.status_code == 504, slow.text
        # many concurrent requests over 2 server connections: all answered, pool healthy
        result = asyncio.run(
            load(url, 300, 16, lambda i: f"SELECT * FROM claims WHERE claim_id = {1 + i % 500}")
        )
        assert result.statuses == {200: 300}, result.errors
