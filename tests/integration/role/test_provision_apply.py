"""`provision-role --apply` on a fresh database, as a superuser and as a managed database's
administrator: the role passes `check-role`, every revoked family fails when the role runs it
directly (no guard in between) and changes nothing, and other applications keep what PUBLIC
gave them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest
from conftest import ClientFactory, FreshDatabase, execute_sql, fetch_sql, fresh_database
from dbstate import snapshot

from sqlgateway.cli import main
from sqlgateway.role.definition import FAMILIES, Family

REVOKED = [f for f in FAMILIES if f.revoked_by_provisioning]


def _provision(db: FreshDatabase, role: str, *extra: str, admin_dsn: str | None = None) -> int:
    db.roles.append(role)
    admin = admin_dsn or db.server_dsn
    flags = ["--role", role, "--password", db.password, "--apply", "--admin-url", admin]
    return main(["provision-role", "--database", db.name, *flags, *extra])


def _run_as(dsn: str, *statements: str) -> list[BaseException | None]:
    """Each statement in a session of its own; what each raised (None: it ran)."""

    async def run(statement: str) -> BaseException | None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(statement)
        except asyncpg.PostgresError as error:
            return error
        finally:
            await conn.close()
        return None

    return [asyncio.run(run(statement)) for statement in statements]


def _executable(db: FreshDatabase, role: str, family: Family) -> list[str]:
    """The overloads of `family` that `role` may execute."""
    rows = fetch_sql(
        db.admin_dsn,
        """SELECT p.proname, p.oid::regprocedure::text FROM pg_proc p
           WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.proname = ANY($2::text[])
             AND has_function_privilege($1, p.oid, 'EXECUTE')""",
        role,
        list(family.names),
    )
    return [signature for name, signature in rows if family.matches(name, signature)]


def test_a_provisioned_role_passes_check_role(
    fresh_db: FreshDatabase, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _provision(fresh_db, "sgw_reader_ok") == 0
    out = capsys.readouterr().out
    assert "provisioned in database" in out and "(a superuser)" in out
    assert main(["check-role", "--database-url", fresh_db.dsn("sgw_reader_ok")]) == 0
    report = capsys.readouterr().out
    assert "ok: read-only, least privilege" in report
    assert "unsafe:" not in report and "reduced depth:" not in report
    # what it may do: read the tables of its schema, read-only by default
    [row] = fetch_sql(
        fresh_db.dsn("sgw_reader_ok"), "SELECT total, current_setting('work_mem') FROM orders"
    )
    assert row[1] == "4MB"


@pytest.fixture(scope="module")
def provisioned(pg_admin_dsn: str) -> Iterator[tuple[FreshDatabase, str]]:
    """One fresh database and a role provisioned in it (the family tests share them)."""
    for db in fresh_database(pg_admin_dsn):
        assert _provision(db, "sgw_reader_fam") == 0
        yield db, "sgw_reader_fam"


@pytest.mark.parametrize("family", REVOKED, ids=lambda f: f.name)
def test_each_revoked_family_fails_for_the_role_and_changes_nothing(
    provisioned: tuple[FreshDatabase, str], family: Family
) -> None:
    """The guard is not in the way here: a plain session of the provisioned role."""
    db, reader = provisioned
    assert _executable(db, reader, family) == []  # no overload, any version
    before = snapshot(db.admin_dsn)
    errors = _run_as(db.dsn(reader), *family.examples)
    for example, error in zip(family.examples, errors, strict=True):
        assert isinstance(error, asyncpg.InsufficientPrivilegeError), (example, error)
        assert "permission denied for function" in str(error)
    assert snapshot(db.admin_dsn) == before


def test_other_applications_keep_what_public_gave_them(fresh_db: FreshDatabase) -> None:
    """Revoking from PUBLIC is database-wide: provision-role grants it back to the
    database's other roles (here the application that owns `orders`)."""
    assert _provision(fresh_db, "sgw_reader_gb") == 0
    app = fresh_db.dsn(fresh_db.app_role)
    uses = (
        "SELECT pg_advisory_lock(42), pg_advisory_unlock(42)",  # a migration tool's lock
        "SELECT pg_try_advisory_xact_lock(7)",
        "BEGIN READ WRITE; CREATE TEMP TABLE scratch (x int); ROLLBACK",
        "SELECT pg_notify('jobs', 'x')",
    )
    assert _run_as(app, *uses) == [None] * len(uses)
    refused = _run_as(fresh_db.dsn("sgw_reader_gb"), *uses)
    assert all(isinstance(e, asyncpg.InsufficientPrivilegeError) for e in refused), refused


def test_without_grant_back_other_roles_lose_them_too(
    fresh_db: FreshDatabase, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _provision(fresh_db, "sgw_reader_ngb", "--no-grant-back") == 0
    assert "granted back" not in capsys.readouterr().out
    [error] = _run_as(fresh_db.dsn(fresh_db.app_role), "SELECT pg_advisory_lock(42)")
    assert isinstance(error, asyncpg.InsufficientPrivilegeError)


def test_provisioning_twice_changes_nothing_more(fresh_db: FreshDatabase) -> None:
    assert _provision(fresh_db, "sgw_reader_twice") == 0
    before = snapshot(fresh_db.admin_dsn)
    acl = fetch_sql(fresh_db.admin_dsn, "SELECT proacl::text FROM pg_proc ORDER BY oid")
    assert _provision(fresh_db, "sgw_reader_twice") == 0
    assert snapshot(fresh_db.admin_dsn) == before
    assert fetch_sql(fresh_db.admin_dsn, "SELECT proacl::text FROM pg_proc ORDER BY oid") == acl


@pytest.fixture
def managed_admin(fresh_db: FreshDatabase) -> str:
    """A managed database's administrator (RDS, Cloud SQL, Azure, Supabase, Neon): not a
    superuser, CREATEROLE, owner of the database and of its tables."""
    admin = fresh_db.new_role("sgw_admin", "LOGIN CREATEROLE NOSUPERUSER")
    execute_sql(fresh_db.server_dsn, f"ALTER DATABASE {fresh_db.name} OWNER TO {admin}")
    execute_sql(
        fresh_db.dsn(admin),
        "CREATE TABLE public.invoices (id int PRIMARY KEY, amount numeric)",
        "INSERT INTO public.invoices VALUES (1, 12)",
    )
    return admin


def test_a_managed_database_administrator_provisions_at_reduced_depth(
    fresh_db: FreshDatabase,
    managed_admin: str,
    capsys: pytest.CaptureFixture[str],
    make_client: ClientFactory,
) -> None:
    reader = "sgw_reader_managed"
    admin_dsn = fresh_db.dsn(managed_admin)
    assert _provision(fresh_db, reader, admin_dsn=admin_dsn) == 0
    out = capsys.readouterr().out
    assert f"by {managed_admin} (not a superuser)" in out
    assert "Reduced depth" in out and "only a superuser can close" in out
    for family in REVOKED:
        assert family.title in out, family.title
    assert "temp_file_limit" in out
    assert "Traceback" not in out

    # check-role: reduced depth (exit 3), nothing unsafe
    assert main(["check-role", "--database-url", fresh_db.dsn(reader)]) == 3
    report = capsys.readouterr().out
    assert "reduced depth: safe to serve" in report and "unsafe:" not in report
    # what the administrator could do, it did
    assert fetch_sql(fresh_db.dsn(reader), "SELECT amount FROM invoices")[0][0] == 12
    [error] = _run_as(fresh_db.dsn(reader), "BEGIN READ WRITE; CREATE TEMP TABLE t (x int)")
    assert isinstance(error, asyncpg.InsufficientPrivilegeError)
    assert f'not granted (their owner may: GRANT SELECT ON … TO "{reader}"): orders' in out

    # the gateway serves with it
    client = make_client(database_url=fresh_db.dsn(reader), pool_min_size=0)
    response = client.post("/query", json={"sql": "SELECT count(*) FROM invoices"})
    assert response.status_code == 200, response.text

    # the SQL it printed, run by a superuser, closes the gap
    superuser_sql = out[out.index("BEGIN;", out.index("would run")) :]
    execute_sql(fresh_db.admin_dsn, superuser_sql)
    assert main(["check-role", "--database-url", fresh_db.dsn(reader)]) == 0


def test_the_printed_script_runs_as_a_managed_administrator(
    fresh_db: FreshDatabase, managed_admin: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Printed, then run by hand (psql): the same script, the same result."""
    assert main(["provision-role", "--database", fresh_db.name, "--role", "sgw_reader_psql"]) == 0
    fresh_db.roles.append("sgw_reader_psql")
    script: Any = capsys.readouterr().out
    execute_sql(fresh_db.dsn(managed_admin), script)
    assert main(["check-role", "--database-url", fresh_db.dsn(managed_admin), "--role",
                 "sgw_reader_psql"]) == 3  # fmt: skip
