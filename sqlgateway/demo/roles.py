"""The demo database's roles: the read-only reader, the scoped roles, their privileges and RLS.

`sqlgateway.demo.database.ensure_demo` calls these on every run, in one transaction, and re-exports the
public names:

1. `configure_roles` (re)applies the reader role and its grants: a safe serving role as
   `sqlgateway.role.definition` defines it (the attributes, settings and function
   revocations `provision-role` applies too). It also (re)applies per-user scoping:
   two NOLOGIN roles, a policyholder role and an adjuster role, with the reader's SELECT grants
   and nothing more, which the reader (a NOINHERIT member of both) may `SET ROLE` to.
2. `least_privilege_problem` says what is wrong when a role is a member of more than it should
   be, or owns anything.
3. `apply_row_security` makes the policies those of `sql/rls.sql`, which show the scoped roles
   only the rows of the user named by the transaction-local setting `sqlgateway.user_id`, and
   the reader everything. The policies are rewritten only when they differ from the file.

This module does not import `sqlgateway.demo.database` (which imports it): the caller passes the demo
tables in, and raises `DemoError` for a problem `least_privilege_problem` reports.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import asyncpg

from sqlgateway.demo.files import sql_file
from sqlgateway.role.definition import ATTRIBUTES, SETTINGS
from sqlgateway.role.provision import public_revocations_sql

__all__ = [
    "ADJUSTER_ROLE",
    "POLICYHOLDER_ROLE",
    "READER_ROLE",
    "USER_ID_SETTING",
    "Roles",
    "apply_row_security",
    "configure_roles",
    "execute_sql",
    "format_sql",
    "least_privilege_problem",
    "scoped_role_names",
]

READER_ROLE = "sqlgateway_reader"
#: The scoped roles of READER_ROLE; other readers get `<reader>_policyholder` and
#: `<reader>_adjuster` (see `scoped_role_names`), so several demos on one server never clash.
POLICYHOLDER_ROLE = "claims_policyholder"
ADJUSTER_ROLE = "claims_adjuster"
#: The transaction-local setting the row-level security policies read: a policyholder_id under
#: the policyholder role, an adjuster_id under the adjuster role.
USER_ID_SETTING = "sqlgateway.user_id"

_RLS_FILE = "rls.sql"  # applied by every call, not part of the demo database's load


@dataclass(frozen=True)
class Roles:
    reader: str
    policyholder: str
    adjuster: str

    @property
    def scoped(self) -> tuple[str, str]:
        return (self.policyholder, self.adjuster)


def scoped_role_names(reader_role: str) -> tuple[str, str]:
    """The default (policyholder, adjuster) role names for `reader_role`.

    >>> scoped_role_names(READER_ROLE)
    ('claims_policyholder', 'claims_adjuster')
    >>> scoped_role_names("test_reader")
    ('test_reader_policyholder', 'test_reader_adjuster')
    """
    if reader_role == READER_ROLE:
        return POLICYHOLDER_ROLE, ADJUSTER_ROLE
    return f"{reader_role}_policyholder", f"{reader_role}_adjuster"


async def format_sql(conn: asyncpg.Connection, template: str, *args: str) -> str:
    """`format(template, args...)` by the server: %I quotes an identifier, %L a literal."""
    text: str = await conn.fetchval("SELECT format($1, VARIADIC $2::text[])", template, args)
    return text


async def execute_sql(conn: asyncpg.Connection, template: str, *args: str) -> None:
    """Run `format(template, args...)`: %I quotes an identifier, %L a literal."""
    await conn.execute(await format_sql(conn, template, *args))


async def configure_roles(
    db: asyncpg.Connection, database: str, roles: Roles, tables: tuple[str, ...]
) -> None:
    """Apply the roles and the demo database's privileges: SELECT on `tables`, and no more."""
    await _configure_role(db, roles.reader, database, login=True)
    for role in roles.scoped:
        await _configure_role(db, role, database, login=False)

    # CONNECT to this database for the reader only; no TEMPORARY for anyone. The scoped
    # roles never log in: the reader reaches them by SET ROLE (NOINHERIT: when it does
    # not, their privileges and policies do not apply to it).
    await execute_sql(db, "REVOKE ALL ON DATABASE %I FROM PUBLIC", database)
    await execute_sql(db, "GRANT CONNECT ON DATABASE %I TO %I", database, roles.reader)
    await db.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    await db.execute("REVOKE ALL ON SCHEMA sqlgateway_meta FROM PUBLIC")
    relations = ", ".join(f"public.{table}" for table in tables)
    for role in (roles.reader, *roles.scoped):
        await execute_sql(db, "REVOKE ALL ON SCHEMA public FROM %I", role)
        await execute_sql(db, "GRANT USAGE ON SCHEMA public TO %I", role)
        await execute_sql(db, "REVOKE ALL ON ALL TABLES IN SCHEMA public FROM %I", role)
        await execute_sql(db, f"GRANT SELECT ON {relations} TO %I", role)
    for role in roles.scoped:
        await execute_sql(db, "GRANT %I TO %I", role, roles.reader)
    # the demo database serves the gateway alone: no other role gets PUBLIC's EXECUTE back
    await db.execute(public_revocations_sql(roles.reader, database=False, grant_back=False))


async def _configure_role(db: asyncpg.Connection, role: str, database: str, *, login: bool) -> None:
    """Create `role` or bring it back to its attributes and settings, a member of nothing."""
    await ensure_bare_role(db, role, login=login)
    await execute_sql(db, "ALTER ROLE %I RESET ALL", role)
    await execute_sql(db, "ALTER ROLE %I IN DATABASE %I RESET ALL", role, database)
    if login:
        for setting in SETTINGS:
            await execute_sql(db, "ALTER ROLE %I SET %I = %L", role, setting.name, setting.value)


async def ensure_bare_role(db: asyncpg.Connection, role: str, *, login: bool) -> None:
    """Create `role`, or bring an existing one back, with none of the privilege attributes
    of `ATTRIBUTES`, NOINHERIT, and a member of no role."""
    attributes = " ".join(attribute.keyword for attribute in ATTRIBUTES)
    verb = (
        "ALTER"
        if await db.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
        else "CREATE"
    )
    await execute_sql(
        db,
        f"{verb} ROLE %I {'LOGIN' if login else 'NOLOGIN'} {attributes}"
        " NOINHERIT CONNECTION LIMIT -1 VALID UNTIL 'infinity'",
        role,
    )
    for granted, grantor in await db.fetch(
        "SELECT r.rolname, g.rolname FROM pg_auth_members AS m"
        " JOIN pg_roles AS r ON r.oid = m.roleid JOIN pg_roles AS g ON g.oid = m.grantor"
        " WHERE m.member = (SELECT oid FROM pg_roles WHERE rolname = $1)",
        role,
    ):
        await execute_sql(db, "REVOKE %I FROM %I GRANTED BY %I", granted, role, grantor)


async def least_privilege_problem(db: asyncpg.Connection, roles: Roles) -> str | None:
    """What is wrong with the first of the reader and the scoped roles that is a member of
    other roles than it should be (the reader: the scoped roles; they: none) or owns anything;
    None when nothing is."""
    for role in (roles.reader, *roles.scoped):
        problem = await _role_problem(
            db, role, set(roles.scoped) if role == roles.reader else set()
        )
        if problem is not None:
            return problem
    return None


async def _role_problem(db: asyncpg.Connection, role: str, member_of: set[str]) -> str | None:
    """What is wrong unless `role` is a member of exactly `member_of` and owns nothing."""
    memberships = {
        row[0]
        for row in await db.fetch(
            "SELECT r.rolname FROM pg_auth_members AS m JOIN pg_roles AS r ON r.oid = m.roleid"
            " WHERE m.member = (SELECT oid FROM pg_roles WHERE rolname = $1)",
            role,
        )
    }
    owned = await db.fetchval(
        "SELECT count(*) FROM pg_shdepend WHERE refclassid = 'pg_authid'::regclass"
        " AND refobjid = (SELECT oid FROM pg_roles WHERE rolname = $1) AND deptype = 'o'",
        role,
    )
    if memberships != member_of or owned:
        return (
            f"role {role!r} is a member of {sorted(memberships) or 'no role'} and owns {owned} "
            f"object(s) (in any database); it must be a member of "
            f"{sorted(member_of) or 'no role'} only and own nothing"
        )
    return None


async def apply_row_security(db: asyncpg.Connection, roles: Roles, tables: tuple[str, ...]) -> None:
    """Make the policies on `tables` exactly those of `sql/rls.sql`.

    Policy DDL locks the tables against every query, so it runs only when the file, the role
    names or the policies in the catalog changed since the last call: `rls_state` (in
    `sqlgateway_meta.demo`) records the rendered file's digest and a digest of the catalog it
    left.
    """
    template = sql_file(_RLS_FILE)
    sql = await format_sql(db, template, roles.reader, roles.policyholder, roles.adjuster)
    # For databases created before the column existed.
    await db.execute("ALTER TABLE sqlgateway_meta.demo ADD COLUMN IF NOT EXISTS rls_state text")
    stored = await db.fetchval("SELECT rls_state FROM sqlgateway_meta.demo")
    digest = hashlib.sha256(sql.encode()).hexdigest()
    if stored == f"{digest} {await _row_security_digest(db, tables)}":
        return
    drops = await db.fetchval(
        "SELECT string_agg(format('DROP POLICY %I ON public.%I', policyname, tablename), '; ')"
        " FROM pg_policies WHERE schemaname = 'public' AND tablename = ANY($1::text[])",
        tables,
    )
    await db.execute((drops or "") + ";\n" + sql)
    await db.execute(
        "UPDATE sqlgateway_meta.demo SET rls_state = $1",
        f"{digest} {await _row_security_digest(db, tables)}",
    )


async def _row_security_digest(db: asyncpg.Connection, tables: tuple[str, ...]) -> str:
    """md5 of the row-level security flags and policies of `tables`, as the catalog has them."""
    digest: str = await db.fetchval(
        "SELECT md5(string_agg(line, E'\\n' ORDER BY line)) FROM ("
        " SELECT format('%s %s %s', relname, relrowsecurity, relforcerowsecurity) FROM pg_class"
        " WHERE relnamespace = 'public'::regnamespace AND relname = ANY($1::text[])"
        " UNION ALL SELECT p::text FROM pg_policies AS p"
        " WHERE schemaname = 'public' AND tablename = ANY($1::text[])) AS lines (line)",
        tables,
    )
    return digest
