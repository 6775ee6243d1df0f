"""The demo database: a fictional insurer's claims, and the read-only role the gateway uses.

`ensure_demo` works on any PostgreSQL 13+ given a superuser DSN: the embedded server, a test
container, or a user's server. It is idempotent and safe to call from several processes at
once (a `pg_advisory_lock` serialises the calls):

1. If the database is missing, or was left incomplete or by another schema version or size,
   it is (re)created: `sql/schema.sql`, `sql/data.sql` (deterministic rows generated
   server-side), `sql/indexes.sql` and a bookkeeping row in `sqlgateway_meta.demo`, all in one
   transaction, so the row is there only if everything is. A database of that name that
   sqlgateway did not create (no "sqlgateway demo" comment) is never dropped.
2. Every call (re)applies the roles, the demo database's privileges and its row-level security
   (`_configure_database`, with `sqlgateway.demo.roles`): the reader role and its grants, per
   least privilege; two NOLOGIN scoped roles, a policyholder role and an adjuster role, which
   the reader may `SET ROLE` to; and the policies of `sql/rls.sql`, which show those roles only
   the rows of the user named by the transaction-local setting `sqlgateway.user_id`, and the
   reader everything.
3. The reader DSN is checked by connecting with it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import asyncpg

from sqlgateway.demo.files import sql_file
from sqlgateway.demo.roles import (
    ADJUSTER_ROLE,
    POLICYHOLDER_ROLE,
    READER_ROLE,
    USER_ID_SETTING,
    Roles,
    apply_row_security,
    configure_roles,
    execute_sql,
    least_privilege_problem,
    scoped_role_names,
)

__all__ = [
    "ADJUSTER_ROLE",
    "DEMO_DATABASE",
    "DEMO_TABLES",
    "POLICYHOLDER_ROLE",
    "READER_ROLE",
    "SCHEMA_VERSION",
    "USER_ID_SETTING",
    "DemoDatabase",
    "DemoError",
    "derive_dsn",
    "ensure_demo",
    "scoped_role_names",
]

DEMO_DATABASE = "claims_demo"
#: Bump when the schema or the generated data change: existing demo databases are recreated.
#: (A digest of the SQL files is compared too, so an edit there recreates them even without.)
SCHEMA_VERSION = 1
DEMO_TABLES = ("policyholders", "adjusters", "policies", "claims", "claim_events", "payments")

_COMMENT_PREFIX = "sqlgateway demo:"  # marks databases ensure_demo may drop and recreate
_DATABASE_COMMENT = (
    _COMMENT_PREFIX + " a fictional insurer's policies and claims (generated data, snapshot as "
    "of 2026-06-30). Amounts are US dollars; *_cents columns are US cents."
)
_LOCK_KEY = int.from_bytes(b"sqlgdemo", "big")  # pg_advisory_lock key, in database `postgres`
_SQL_FILES = ("schema.sql", "data.sql", "indexes.sql")
_META_SQL = """
CREATE SCHEMA sqlgateway_meta;
COMMENT ON SCHEMA sqlgateway_meta IS 'sqlgateway bookkeeping, readable by superusers only.';
CREATE TABLE sqlgateway_meta.demo (
    schema_version  integer     NOT NULL,
    sql_sha256      text        NOT NULL,
    claims          integer     NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    reader_password text,
    rls_state       text
);
"""


class DemoError(RuntimeError):
    """The demo database or its reader role cannot be set up as required."""


@dataclass(frozen=True)
class DemoDatabase:
    admin_dsn: str  # superuser DSN to the demo database
    reader_dsn: str  # the read-only role's DSN to the demo database (checked to work)
    created: bool  # False when a complete demo database already existed
    policyholder_role: str  # NOLOGIN role the reader may SET ROLE to: one policyholder's rows
    adjuster_role: str  # NOLOGIN role the reader may SET ROLE to: one adjuster's claims


async def ensure_demo(
    server_admin_dsn: str,
    *,
    database: str = DEMO_DATABASE,
    reader_role: str = READER_ROLE,
    policyholder_role: str | None = None,
    adjuster_role: str | None = None,
    claims: int = 100_000,
    reader_password: str | None = None,
) -> DemoDatabase:
    """Make the demo database with `claims` claims, its read-only role and scoped roles exist.

    `server_admin_dsn` is a superuser DSN to the `postgres` database. The reader gets
    `reader_password` if given; otherwise no password when the server lets it in without one
    (trust), else a generated one (see `_new_reader_password`), kept in the demo database's
    `sqlgateway_meta.demo` so later calls and other processes reuse it. The scoped roles are
    named after the reader unless given (`scoped_role_names`).
    """
    if claims < 1:
        raise ValueError(f"claims must be at least 1, got {claims}")
    default_policyholder, default_adjuster = scoped_role_names(reader_role)
    roles = Roles(
        reader_role, policyholder_role or default_policyholder, adjuster_role or default_adjuster
    )
    for name in (database, roles.reader, *roles.scoped):
        if not name or len(name.encode()) > 63:
            raise ValueError(f"{name!r} is not a valid PostgreSQL name (1 to 63 bytes)")
    if len({roles.reader, *roles.scoped}) != 3:
        raise ValueError(f"the reader and scoped roles must be three different roles: {roles}")
    admin_dsn = derive_dsn(server_admin_dsn, database=database)
    server = await asyncpg.connect(server_admin_dsn)
    try:
        await server.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
        admin = await server.fetchval("SELECT current_user")
        if admin in (roles.reader, *roles.scoped):
            raise DemoError(f"the admin role {admin!r} cannot be the reader or a scoped role")
        created = not await _is_complete(server, admin_dsn, database, claims)
        if created:
            await _create(server, admin_dsn, database, claims)
        db = await asyncpg.connect(admin_dsn)
        try:
            stored_password = await _configure_database(db, database, roles)
            reader_dsn = await _reader_dsn(
                db,
                server_admin_dsn,
                database,
                reader_role,
                reader_password if reader_password is not None else stored_password,
            )
        finally:
            await db.close()
    finally:
        await server.close()
    return DemoDatabase(
        admin_dsn=admin_dsn,
        reader_dsn=reader_dsn,
        created=created,
        policyholder_role=roles.policyholder,
        adjuster_role=roles.adjuster,
    )


def derive_dsn(
    dsn: str, *, database: str | None = None, user: str | None = None, password: str | None = None
) -> str:
    """`dsn` with another database and, when `user` is given, other credentials.

    Hosts, ports and query parameters (``?host=/socket/dir``, ``sslmode``...) are kept. A given
    `user` replaces the user and password of `dsn`; then `password=None` means no password.

    >>> derive_dsn("postgresql://admin:pw@db:5432/postgres?sslmode=require", database="demo")
    'postgresql://admin:pw@db:5432/demo?sslmode=require'
    >>> derive_dsn("postgresql://postgres:@/postgres?host=/run/pg", database="demo", user="r")
    'postgresql://r@/demo?host=/run/pg'
    """
    parts = urlsplit(dsn)
    if parts.scheme not in ("postgresql", "postgres"):
        raise ValueError("expected a postgresql:// URL")
    netloc, path, dropped = parts.netloc, parts.path, set[str]()
    if database is not None:
        path, dropped = "/" + quote(database, safe=""), dropped | {"dbname", "database"}
    if user is not None:
        credentials = quote(user, safe="")
        if password is not None:
            credentials += ":" + quote(password, safe="")
        netloc = credentials + "@" + netloc.rpartition("@")[2]
        dropped |= {"user", "password"}
    query = parts.query
    pairs = parse_qsl(query, keep_blank_values=True)
    if any(key in dropped for key, _ in pairs):
        query = urlencode([(k, v) for k, v in pairs if k not in dropped], safe="/:,")
    return f"{parts.scheme}://{netloc}{path}" + (f"?{query}" if query else "")


async def _is_complete(
    server: asyncpg.Connection, admin_dsn: str, database: str, claims: int
) -> bool:
    comment = await server.fetchrow(
        "SELECT shobj_description(oid, 'pg_database') AS text FROM pg_database WHERE datname = $1",
        database,
    )
    if comment is None:
        return False
    if not (comment["text"] or "").startswith(_COMMENT_PREFIX):
        raise DemoError(
            f"database {database!r} exists but is not a sqlgateway demo database (its comment "
            f"does not start with {_COMMENT_PREFIX!r}); drop it or choose another name"
        )
    db = await asyncpg.connect(admin_dsn)
    try:
        if await db.fetchval("SELECT to_regclass('sqlgateway_meta.demo')") is None:
            return False
        # As JSON, so that a meta table of an older layout reads as "different", not an error.
        meta = json.loads(
            await db.fetchval("SELECT to_jsonb(meta) FROM sqlgateway_meta.demo AS meta") or "{}"
        )
    finally:
        await db.close()
    wanted = {"schema_version": SCHEMA_VERSION, "sql_sha256": _sql_digest(), "claims": claims}
    return all(meta.get(key) == value for key, value in wanted.items())


async def _create(server: asyncpg.Connection, admin_dsn: str, database: str, claims: int) -> None:
    await execute_sql(server, "DROP DATABASE IF EXISTS %I WITH (FORCE)", database)
    # C collation: the same sort order on every server; template0 for a clean catalog.
    libc = "LOCALE_PROVIDER libc" if server.get_server_version().major >= 15 else ""
    await execute_sql(
        server,
        f"CREATE DATABASE %I TEMPLATE template0 ENCODING 'UTF8' {libc} LC_COLLATE 'C' LC_CTYPE 'C'",
        database,
    )
    await execute_sql(server, "COMMENT ON DATABASE %I IS %L", database, _DATABASE_COMMENT)
    await execute_sql(server, "ALTER DATABASE %I SET timezone = 'UTC'", database)
    db = await asyncpg.connect(admin_dsn)
    try:
        async with db.transaction():
            await db.execute(
                "SET LOCAL timezone = 'UTC'; SET LOCAL statement_timeout = 0;"
                " SET LOCAL synchronous_commit = off; SET LOCAL work_mem = '64MB';"
                " SET LOCAL maintenance_work_mem = '256MB'"
            )
            await db.execute("SELECT set_config('sqlgateway_demo.claims', $1, true)", str(claims))
            for name in _SQL_FILES:
                await db.execute(sql_file(name))
            await db.execute(_META_SQL)
            await db.execute(
                "INSERT INTO sqlgateway_meta.demo (schema_version, sql_sha256, claims)"
                " VALUES ($1, $2, $3)",
                SCHEMA_VERSION,
                _sql_digest(),
                claims,
            )
        # Statistics for the planner, and frozen, all-visible pages: no later vacuum needed.
        await db.execute("VACUUM (FREEZE, ANALYZE)")
    finally:
        await db.close()


def _sql_digest() -> str:
    return hashlib.sha256("\0".join(map(sql_file, _SQL_FILES)).encode()).hexdigest()


async def _configure_database(db: asyncpg.Connection, database: str, roles: Roles) -> str | None:
    """Apply the roles, the demo database's privileges and its row-level security; the stored
    reader password."""
    async with db.transaction():
        await configure_roles(db, database, roles, DEMO_TABLES)
        problem = await least_privilege_problem(db, roles)
        if problem is not None:
            raise DemoError(problem)
        await apply_row_security(db, roles, DEMO_TABLES)
        password: str | None = await db.fetchval("SELECT reader_password FROM sqlgateway_meta.demo")
    return password


async def _reader_dsn(
    db: asyncpg.Connection, server_admin_dsn: str, database: str, role: str, password: str | None
) -> str:
    """The reader's DSN, with a password only if one is given or the server requires one."""
    if password is None:
        dsn = derive_dsn(server_admin_dsn, database=database, user=role)
        try:
            # password="": never fall back to PGPASSWORD or ~/.pgpass.
            await _check_reader(dsn, password="")
            return dsn
        except asyncpg.InvalidAuthorizationSpecificationError:
            password = _new_reader_password(server_admin_dsn, role)
            await db.execute("UPDATE sqlgateway_meta.demo SET reader_password = $1", password)
    await execute_sql(db, "ALTER ROLE %I PASSWORD %L", role, password)
    dsn = derive_dsn(server_admin_dsn, database=database, user=role, password=password)
    try:
        await _check_reader(dsn)
    except asyncpg.InvalidAuthorizationSpecificationError as exc:
        raise DemoError(f"the reader role {role!r} cannot log in: {exc}") from exc
    return dsn


def _new_reader_password(server_admin_dsn: str, role: str) -> str:
    """Derived, every demo database of one server gives the shared role the same password, so
    creating a second one does not lock the first one's readers out."""
    return derived_password(server_admin_dsn, f"sqlgateway demo reader {role}")


def derived_password(server_admin_dsn: str, purpose: str) -> str:
    """A role password derived from the admin password when the DSN has one (the same on
    every call, for the same `purpose`), else random."""
    parts = urlsplit(server_admin_dsn)
    admin_password = parts.password or dict(parse_qsl(parts.query)).get("password")
    if not admin_password:
        return secrets.token_urlsafe(24)
    digest = hmac.digest(admin_password.encode(), purpose.encode(), "sha256")
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


async def _check_reader(dsn: str, password: str | None = None) -> None:
    reader = await asyncpg.connect(dsn, password=password)
    try:
        if await reader.fetchval("SHOW default_transaction_read_only") != "on":
            raise DemoError(
                "the reader's sessions are not read-only (default_transaction_read_only)"
            )
    finally:
        await reader.close()
