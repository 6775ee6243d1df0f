"""The embedded demo's audit database: its own database and writer role on the same server.

The audit writer must be able to write the trail and nothing else; the gateway's read-only
role must not be able to touch the trail, not even connect to it (the trail holds every
actor's SQL). `ensure_audit_database` sets that up idempotently from a superuser DSN, and is
safe to call from several processes at once (a `pg_advisory_lock` serialises the calls):

- the database (UTF8, UTC), with CONNECT and CREATE for the writer only: REVOKE ALL FROM
  PUBLIC, and from the reader explicitly, then checked with `has_database_privilege`;
- the writer, a LOGIN role with no attributes and no memberships, owning the audit schema;
  it gets no grant anywhere else (the demo database grants CONNECT to its reader alone);
- its password, as `demo/database.py` does for the reader: derived from the admin password when the
  admin DSN has one (so every audit database of the server agrees), else random; kept in the
  audit database's `sqlgateway_meta.auditor` (superusers only) and reused by later calls.

The audit table itself is made by the writer when the sink opens (`postgres.migrate`).
"""

from __future__ import annotations

import asyncpg

from sqlgateway.demo.database import derive_dsn, derived_password
from sqlgateway.demo.roles import ensure_bare_role, execute_sql

__all__ = [
    "AUDITOR_ROLE",
    "AUDIT_DATABASE",
    "AUDIT_SCHEMA",
    "ProvisionError",
    "ensure_audit_database",
]

AUDIT_DATABASE = "sqlgateway_audit"
AUDITOR_ROLE = "sqlgateway_auditor"
AUDIT_SCHEMA = "sqlgateway_audit"

_LOCK_KEY = int.from_bytes(b"sqlgaudt", "big")  # pg_advisory_lock key, in database `postgres`
_COMMENT = "sqlgateway audit trail (written by its own role; the gateway's reader has no access)"
_META_SQL = """
CREATE SCHEMA IF NOT EXISTS sqlgateway_meta;
REVOKE ALL ON SCHEMA sqlgateway_meta FROM PUBLIC;
CREATE TABLE IF NOT EXISTS sqlgateway_meta.auditor (
    role     text PRIMARY KEY,
    password text NOT NULL
);
"""


class ProvisionError(RuntimeError):
    """The audit database or its writer cannot be set up as required."""


async def ensure_audit_database(
    admin_dsn: str,
    *,
    database: str = AUDIT_DATABASE,
    role: str = AUDITOR_ROLE,
    reader_role: str | None = None,
    schema: str = AUDIT_SCHEMA,
) -> str:
    """Make the audit database and its writer role exist; the writer's DSN (checked to work).

    `admin_dsn` is a superuser DSN to the `postgres` database. `reader_role`, the gateway's
    read-only role, is refused CONNECT on the audit database explicitly (and checked). The
    writer owns `schema` (made if missing); SQLGATEWAY_AUDIT_SCHEMA should name the same."""
    for name in (database, role, schema, *([reader_role] if reader_role else [])):
        if not name or len(name.encode()) > 63:
            raise ValueError(f"{name!r} is not a valid PostgreSQL name (1 to 63 bytes)")
    if role == reader_role:
        raise ValueError("the audit writer and the gateway's reader must be different roles")
    audit_admin_dsn = derive_dsn(admin_dsn, database=database)
    server = await asyncpg.connect(admin_dsn)
    try:
        await server.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
        if role == await server.fetchval("SELECT current_user"):
            raise ProvisionError(f"the audit writer {role!r} must not be the admin role")
        await _ensure_database(server, database)
        # the writer: may log in, nothing more; member of no role (so it inherits no reads)
        await ensure_bare_role(server, role, login=True)
        db = await asyncpg.connect(audit_admin_dsn)
        try:
            password = await _configure(db, database, role, reader_role, schema, admin_dsn)
        finally:
            await db.close()
    finally:
        await server.close()
    dsn = derive_dsn(admin_dsn, database=database, user=role, password=password)
    await _check_writer(dsn, schema)
    return dsn


async def _ensure_database(server: asyncpg.Connection, database: str) -> None:
    if await server.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database):
        return
    await execute_sql(server, "CREATE DATABASE %I TEMPLATE template0 ENCODING 'UTF8'", database)
    await execute_sql(server, "COMMENT ON DATABASE %I IS %L", database, _COMMENT)
    await execute_sql(server, "ALTER DATABASE %I SET timezone = 'UTC'", database)


async def _configure(
    db: asyncpg.Connection,
    database: str,
    role: str,
    reader_role: str | None,
    schema: str,
    admin_dsn: str,
) -> str:
    """Privileges of the audit database, the writer's schema and password (returned)."""
    async with db.transaction():
        await execute_sql(db, "REVOKE ALL ON DATABASE %I FROM PUBLIC", database)
        await execute_sql(db, "GRANT CONNECT, CREATE ON DATABASE %I TO %I", database, role)
        await db.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")
        await execute_sql(db, "CREATE SCHEMA IF NOT EXISTS %I AUTHORIZATION %I", schema, role)
        await execute_sql(db, "ALTER SCHEMA %I OWNER TO %I", schema, role)
        for (table,) in await db.fetch(
            "SELECT c.relname FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace"
            " WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')",
            schema,
        ):  # tables an earlier setup (or an admin) made: the writer must own them to migrate
            await execute_sql(db, "ALTER TABLE %I.%I OWNER TO %I", schema, table, role)
        if reader_role is not None and await db.fetchval(
            "SELECT 1 FROM pg_roles WHERE rolname = $1", reader_role
        ):
            await execute_sql(db, "REVOKE ALL ON DATABASE %I FROM %I", database, reader_role)
            if await db.fetchval(
                "SELECT has_database_privilege($1, $2, 'CONNECT')", reader_role, database
            ):
                raise ProvisionError(
                    f"the reader role {reader_role!r} can still connect to the audit database "
                    f"{database!r} (a superuser, or a member of a role that may)"
                )
        await db.execute(_META_SQL)
        password: str | None = await db.fetchval(
            "SELECT password FROM sqlgateway_meta.auditor WHERE role = $1", role
        )
        if password is None:
            password = _new_password(admin_dsn, role)
            await db.execute(
                "INSERT INTO sqlgateway_meta.auditor (role, password) VALUES ($1, $2)",
                role,
                password,
            )
        await execute_sql(db, "ALTER ROLE %I PASSWORD %L", role, password)
    return password


def _new_password(admin_dsn: str, role: str) -> str:
    """Derived from the admin password when the DSN has one, else random (as the demo's)."""
    return derived_password(admin_dsn, f"sqlgateway audit writer {role}")


async def _check_writer(dsn: str, schema: str) -> None:
    try:
        conn = await asyncpg.connect(dsn)
    except asyncpg.InvalidAuthorizationSpecificationError as exc:
        raise ProvisionError(f"the audit writer cannot log in: {exc}") from exc
    try:
        if not await conn.fetchval("SELECT has_schema_privilege($1, 'CREATE')", schema):
            raise ProvisionError(f"the audit writer cannot create tables in schema {schema!r}")
    finally:
        await conn.close()
