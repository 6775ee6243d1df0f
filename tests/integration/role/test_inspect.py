"""role/inspect.py: what `check-role` and the start-up check find, with its severity and fix;
the gateway refuses to serve exactly when `check-role` exits 1."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Iterator
from urllib.parse import urlsplit

import asyncpg
import pytest
from conftest import ClientFactory, execute_sql, make_settings
from starlette.testclient import TestClient

from sqlgateway.app import create_app
from sqlgateway.cli import main
from sqlgateway.demo.database import DemoDatabase, derive_dsn
from sqlgateway.role.definition import FAMILIES, Severity
from sqlgateway.role.inspect import inspect_role
from sqlgateway.role.provision import provision_sql
from sqlgateway.role.report import RoleReport, UnsafeRoleError


def _inspect(dsn: str, role: str | None = None) -> RoleReport:
    async def go() -> RoleReport:
        conn = await asyncpg.connect(dsn)
        try:
            return await inspect_role(conn, role)
        finally:
            await conn.close()

    return asyncio.run(go())


@pytest.fixture
def scratch_role(demo: DemoDatabase) -> Iterator[tuple[str, str]]:
    """A login role provisioned in the demo test database (name, DSN), dropped afterwards."""
    role = f"sgw_scratch_{secrets.token_hex(4)}"
    password = secrets.token_hex(12)
    database = urlsplit(demo.admin_dsn).path.lstrip("/")
    execute_sql(demo.admin_dsn, provision_sql(role, database, ("public",), password=password))
    yield role, derive_dsn(demo.admin_dsn, user=role, password=password)
    execute_sql(
        demo.admin_dsn, f"REASSIGN OWNED BY {role} TO CURRENT_USER", f"DROP OWNED BY {role}"
    )
    execute_sql(demo.admin_dsn, f"DROP ROLE {role}")


def test_the_demo_reader_role_is_safe_at_full_depth(demo: DemoDatabase) -> None:
    report = _inspect(demo.reader_dsn)
    assert report.severity in (None, Severity.WARNING), report.render()


def test_a_superuser_is_refused_with_reasons(demo: DemoDatabase) -> None:
    report = _inspect(demo.admin_dsn)
    assert not report.safe
    text = report.render()
    assert "unsafe: is a superuser" in text
    assert """fix (as a superuser): ALTER ROLE "postgres" NOSUPERUSER;""" in text
    assert text.endswith("UNSAFE: the gateway will not serve with this role")


def test_a_provisioned_role_has_nothing_to_fix(scratch_role: tuple[str, str]) -> None:
    role, dsn = scratch_role
    report = _inspect(dsn)
    assert report.role == role
    assert report.severity in (None, Severity.WARNING), report.render()


def test_an_administrator_may_check_a_role_by_name(
    demo: DemoDatabase, scratch_role: tuple[str, str]
) -> None:
    role, dsn = scratch_role
    assert _inspect(demo.admin_dsn, role).findings == _inspect(dsn).findings


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
        ("GRANT SELECT ON pg_catalog.pg_statistic TO {role}", "can read pg_catalog.pg_statistic"),
        ("GRANT EXECUTE ON FUNCTION pg_read_file(text) TO {role}", "server file and admin"),
    ],
)
def test_each_unsafe_privilege_is_fatal(
    demo: DemoDatabase, scratch_role: tuple[str, str], grant: str, finding: str
) -> None:
    role, dsn = scratch_role
    execute_sql(demo.admin_dsn, grant.format(role=role))
    report = _inspect(dsn)
    assert not report.safe
    assert any(finding in f.text and f.fix for f in report.of(Severity.UNSAFE)), report.render()
    assert main(["check-role", "--database-url", dsn]) == 1


@pytest.mark.parametrize(
    ("change", "finding", "fix"),
    [
        ("GRANT pg_read_all_stats TO {role}", "is a member of pg_read_all_stats", "REVOKE"),
        ("GRANT TEMPORARY ON DATABASE {db} TO {role}", "can create temporary tables", "REVOKE"),
        (
            "ALTER ROLE {role} SET statement_timeout = 0",
            "statement_timeout is 0 (set for the role)",
            """ALTER ROLE "{role}" SET statement_timeout = '30s';""",
        ),
        (
            "ALTER ROLE {role} IN DATABASE {db} SET work_mem = '1GB'",
            "work_mem is 1GB (set for the role in this database)",
            """ALTER ROLE "{role}" IN DATABASE "{db}" SET work_mem = '4MB';""",
        ),
        (
            "ALTER ROLE {role} SET default_transaction_read_only = off",
            "default_transaction_read_only is off",
            "SET default_transaction_read_only = 'on'",
        ),
        (
            "ALTER ROLE {role} RESET temp_file_limit",
            "temp_file_limit is -1 (the server's)",
            "SET temp_file_limit = '1GB'",
        ),
    ],
)
def test_each_missing_layer_is_reduced_depth(
    demo: DemoDatabase,
    scratch_role: tuple[str, str],
    change: str,
    finding: str,
    fix: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    role, dsn = scratch_role
    db = urlsplit(demo.admin_dsn).path.lstrip("/")
    execute_sql(demo.admin_dsn, change.format(role=role, db=db))
    [reduced] = _inspect(dsn).of(Severity.REDUCED)
    assert finding in reduced.text and fix.format(role=role, db=db) in reduced.fix
    assert main(["check-role", "--database-url", dsn]) == 3
    assert "reduced depth: safe to serve" in capsys.readouterr().out


@pytest.mark.parametrize(
    "family", [f for f in FAMILIES if f.revoked_by_provisioning], ids=lambda f: f.name
)
def test_one_family_left_executable_fails_check_role_naming_it(
    demo: DemoDatabase,
    scratch_role: tuple[str, str],
    family: object,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from sqlgateway.role.definition import Family

    assert isinstance(family, Family)
    role, dsn = scratch_role
    name = family.names[0]
    execute_sql(
        demo.admin_dsn,
        f"""DO $$ DECLARE f regprocedure; BEGIN
              FOR f IN SELECT oid::regprocedure FROM pg_proc
                       WHERE proname = '{name}' AND pronamespace = 'pg_catalog'::regnamespace
              LOOP EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO {role}', f); END LOOP;
            END $$""",
    )
    assert main(["check-role", "--database-url", dsn]) == 3
    out = capsys.readouterr().out
    assert f"reduced depth: can execute {family.title}: {name}" in out, out
    assert f"REVOKE EXECUTE ON FUNCTION pg_catalog.{name}(" in out


def test_the_gateway_does_not_start_with_an_unsafe_role(demo: DemoDatabase) -> None:
    app = create_app(make_settings(demo, database_url=demo.admin_dsn))
    with pytest.raises(UnsafeRoleError, match="is a superuser"), TestClient(app):
        pass


def test_the_gateway_serves_at_reduced_depth_and_says_so_once(
    demo: DemoDatabase,
    scratch_role: tuple[str, str],
    make_client: ClientFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    role, dsn = scratch_role
    execute_sql(demo.admin_dsn, f"GRANT EXECUTE ON FUNCTION pg_advisory_lock(bigint) TO {role}")
    with caplog.at_level(logging.WARNING, logger="sqlgateway"):
        client = make_client(database_url=dsn, pool_min_size=2)
        response = client.post("/query", json={"sql": "SELECT count(*) FROM claims"})
    assert response.status_code == 200
    told = [r.getMessage() for r in caplog.records if "reduced depth" in r.getMessage()]
    assert len(told) == 1 and "advisory-lock functions" in told[0]


def test_a_role_that_turns_unsafe_later_is_not_served(
    demo: DemoDatabase, scratch_role: tuple[str, str], make_client: ClientFactory
) -> None:
    role, dsn = scratch_role
    client = make_client(database_url=dsn, pool_min_size=0)
    execute_sql(demo.admin_dsn, f"GRANT DELETE ON claims TO {role}")
    response = client.post("/query", json={"sql": "SELECT 1"})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "unavailable"
    assert role not in response.text


def test_check_role_command(demo: DemoDatabase, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-role", "--database-url", demo.reader_dsn]) == 0
    assert "ok: read-only" in capsys.readouterr().out
    assert main(["check-role", "--database-url", demo.admin_dsn]) == 1
    assert "unsafe: is a superuser" in capsys.readouterr().out
