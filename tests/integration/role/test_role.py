"""role: the gateway refuses to serve with a role that could write, and can make a safe one."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from conftest import ClientFactory, admin_fetch, make_settings
from starlette.testclient import TestClient

from sqlgateway.app import create_app
from sqlgateway.cli import main
from sqlgateway.demo.database import DemoDatabase
from sqlgateway.role.inspect import RoleReport, UnsafeRoleError, inspect_role
from sqlgateway.role.provision import provision_sql


def _inspect(dsn: str) -> RoleReport:
    async def go() -> RoleReport:
        conn = await asyncpg.connect(dsn)
        try:
            return await inspect_role(conn)
        finally:
            await conn.close()

    return asyncio.run(go())


def _admin(demo: DemoDatabase, sql: str) -> None:
    async def go() -> None:
        conn = await asyncpg.connect(demo.admin_dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(go())


def _as_role(dsn: str, role: str, password: str) -> str:
    parts = urlsplit(dsn)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{role}:{password}@{host}"))


@pytest.fixture
def scratch_role(demo: DemoDatabase) -> Iterator[tuple[str, str]]:
    """A fresh login role (name, DSN) with SELECT on the demo tables, dropped afterwards."""
    role = f"sgw_scratch_{secrets.token_hex(4)}"
    password = secrets.token_hex(12)
    database = urlsplit(demo.admin_dsn).path.lstrip("/")
    _admin(demo, provision_sql(role, database, ("public",), make_settings(demo), password=password))
    yield role, _as_role(demo.admin_dsn, role, password)
    _admin(
        demo,
        f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}; "
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM {role}; "
        f"REVOKE ALL ON SCHEMA public FROM {role}; "
        f"REVOKE ALL ON DATABASE {database} FROM {role}; DROP ROLE {role}",
    )


def test_the_demo_reader_role_is_safe(demo: DemoDatabase) -> None:
    report = _inspect(demo.reader_dsn)
    assert report.safe, report.render()


def test_a_superuser_is_refused_with_reasons(demo: DemoDatabase) -> None:
    report = _inspect(demo.admin_dsn)
    assert not report.safe
    text = report.render()
    assert "FATAL: is a superuser" in text
    assert "FATAL: can INSERT, UPDATE, DELETE, TRUNCATE public.claims" in text
    assert "owns public.claims" in text


def test_provisioned_role_is_safe(demo: DemoDatabase, scratch_role: tuple[str, str]) -> None:
    role, dsn = scratch_role
    report = _inspect(dsn)
    assert report.safe, report.render()
    assert report.findings == [], report.render()
    # every overload of the revoked functions, whatever this server version's signatures are
    still_executable = admin_fetch(
        demo,
        """SELECT p.oid::regprocedure::text FROM pg_proc p
           WHERE p.pronamespace = 'pg_catalog'::regnamespace
             AND p.proname IN ('lo_from_bytea', 'lo_put', 'pg_logical_emit_message', 'lo_import')
             AND has_function_privilege($1, p.oid, 'EXECUTE')""",
        role,
    )
    assert still_executable == []


@pytest.mark.parametrize(
    ("grant", "finding"),
    [
        ("GRANT INSERT ON claims TO {role}", "can INSERT public.claims"),
        ("GRANT UPDATE, DELETE ON payments TO {role}", "can UPDATE, DELETE public.payments"),
        ("GRANT CREATE ON SCHEMA public TO {role}", "can CREATE in schema public"),
        ("ALTER ROLE {role} BYPASSRLS", "has BYPASSRLS"),
        ("ALTER ROLE {role} CREATEDB", "has CREATEDB"),
        ("GRANT pg_signal_backend TO {role}", "is a member of pg_signal_backend"),
        ("GRANT pg_write_server_files TO {role}", "is a member of pg_write_server_files"),
    ],
)
def test_each_dangerous_privilege_is_fatal(
    demo: DemoDatabase, scratch_role: tuple[str, str], grant: str, finding: str
) -> None:
    role, dsn = scratch_role
    _admin(demo, grant.format(role=role))
    report = _inspect(dsn)
    assert not report.safe
    assert any(f.fatal and finding in f.text for f in report.findings), report.render()


def test_the_gateway_does_not_start_with_an_unsafe_role(demo: DemoDatabase) -> None:
    app = create_app(make_settings(demo, database_url=demo.admin_dsn))
    with pytest.raises(UnsafeRoleError, match="is a superuser"), TestClient(app):
        pass


def test_a_role_that_turns_unsafe_later_is_not_served(
    demo: DemoDatabase, scratch_role: tuple[str, str], make_client: ClientFactory
) -> None:
    role, dsn = scratch_role
    client = make_client(database_url=dsn, pool_min_size=0)
    _admin(demo, f"GRANT DELETE ON claims TO {role}")
    response = client.post("/query", json={"sql": "SELECT 1"})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "unavailable"
    assert role not in response.text


def test_check_role_command(demo: DemoDatabase, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-role", "--database-url", demo.reader_dsn]) == 0
    assert "ok: read-only" in capsys.readouterr().out
    assert main(["check-role", "--database-url", demo.admin_dsn]) == 1
    assert "FATAL: is a superuser" in capsys.readouterr().out


def test_provision_role_prints_reviewable_sql(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["provision-role", "--role", "reader", "--database", "sales", "--schema", "s1"]) == 0
    )
    sql = capsys.readouterr().out
    for expected in (
        "NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS",
        'ALTER ROLE "reader" SET default_transaction_read_only = on;',
        "idle_in_transaction_session_timeout",
        'GRANT SELECT ON ALL TABLES IN SCHEMA "s1" TO "reader";',
        "REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC",
        "'lo_from_bytea'",
        'REVOKE CREATE, TEMPORARY ON DATABASE "sales" FROM PUBLIC, "reader";',
    ):
        assert expected in sql
