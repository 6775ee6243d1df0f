"""The demo database: a fictional insurer's claims, and the read-only role the gateway uses.

`ensure_demo` works on any PostgreSQL 13+ given a superuser DSN: the embedded server, a test
container, or a user's server. It is idempotent and safe to call from several processes at
once (a `pg_advisory_lock` serialises the calls):

1. If the database is missing, or was left incomplete or by another schema version or size,
   it is (re)created: `demo_schema.sql`, `demo_data.sql` (deterministic rows generated
   server-side), `demo_indexes.sql` and a bookkeeping row in `sqlgateway_meta.demo`, all in one
   transaction, so the row is there only if everything is. A database of that name that
   sqlgateway did not create (no "sqlgateway demo" comment) is never dropped.
2. Every call (re)applies the reader role and its grants; see `_READER_SETTINGS` and
   `_REVOKED_FUNCTIONS` for the least-privilege rules, and `_configure_database`.
3. Every call also (re)applies per-user scoping: two NOLOGIN roles, a policyholder role and an
   adjuster role, with the reader's SELECT grants and nothing more, which the reader (a
   NOINHERIT member of both) may `SET ROLE` to; and the row-level security policies of
   `demo_rls.sql`, which show those roles only the rows of the user named by the
   transaction-local setting `sqlgateway.user_id`, and the reader everything. The policies
   are rewritten only when they differ from the file (see `_apply_row_security`).
4. The reader DSN is checked by connecting with it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from importlib import resources
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import asyncpg

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
READER_ROLE = "sqlgateway_reader"
#: The scoped roles of READER_ROLE; other readers get `<reader>_policyholder` and
#: `<reader>_adjuster` (see `scoped_role_names`), so several demos on one server never clash.
POLICYHOLDER_ROLE = "claims_policyholder"
ADJUSTER_ROLE = "claims_adjuster"
#: The transaction-local setting the row-level security policies read: a policyholder_id under
#: the policyholder role, an adjuster_id under the adjuster role.
USER_ID_SETTING = "sqlgateway.user_id"
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
_SQL_FILES = ("demo_schema.sql", "demo_data.sql", "demo_indexes.sql")
_RLS_FILE = "demo_rls.sql"  # applied by every call, not part of the load (see _SQL_FILES)
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

#: Role-wide settings of the reader (ALTER ROLE ... SET). statement_timeout is a backstop
#: above the gateway's own per-query timeout; temp_file_limit stops a runaway sort or hash
#: from filling the disk.
_READER_SETTINGS = (
    ("default_transaction_read_only", "on"),
    ("statement_timeout", "30s"),
    ("idle_in_transaction_session_timeout", "60s"),
    ("temp_file_limit", "1GB"),
)

#: pg_catalog functions PUBLIC may run by default that a read-only reader must not (EXECUTE is
#: revoked from PUBLIC in the demo database; function privileges are per database):
#: - large objects: they write to pg_largeobject even from SELECT, or read/write server files;
#: - pg_logical_emit_message: writes WAL; pg_notify: signals other sessions;
#: - advisory locks: a session-level lock outlives the query and can block other sessions;
#: - pg_cancel_backend / pg_terminate_backend: the reader could kill the gateway's other
#:   connections, which all use the same role;
#: - query_to_xml*, ts_stat: run a query given as text, hiding it from the gateway's guard.
#: Kept on purpose: pg_sleep*, since statement_timeout ends it; set_config, which drivers and
#: the gateway itself may use. set_config (like SET) can turn default_transaction_read_only off
#: for the rest of a session: the guard must refuse it in user SQL, and the executor should
#: open every transaction READ ONLY itself rather than rely on the role's default.
_REVOKED_FUNCTIONS = (
    "lo_open", "lo_close", "loread", "lowrite", "lo_lseek", "lo_lseek64", "lo_tell",
    "lo_tell64", "lo_truncate", "lo_truncate64", "lo_creat", "lo_create", "lo_unlink",
    "lo_import", "lo_export", "lo_from_bytea", "lo_get", "lo_put",
    "pg_logical_emit_message", "pg_notify",
    "pg_advisory_lock", "pg_advisory_lock_shared", "pg_advisory_unlock",
    "pg_advisory_unlock_shared", "pg_advisory_unlock_all", "pg_advisory_xact_lock",
    "pg_advisory_xact_lock_shared", "pg_try_advisory_lock", "pg_try_advisory_lock_shared",
    "pg_try_advisory_xact_lock", "pg_try_advisory_xact_lock_shared",
    "pg_cancel_backend", "pg_terminate_backend",
    "query_to_xml", "query_to_xmlschema", "query_to_xml_and_xmlschema", "ts_stat",
)  # fmt: skip


class DemoError(RuntimeError):
    """The demo database or its reader role cannot be set up as required."""


@dataclass(frozen=True)
class DemoDatabase:
    admin_dsn: str  # superuser DSN to the demo database
    reader_dsn: str  # the read-only role's DSN to the demo database (checked to work)
    created: bool  # False when a complete demo database already existed
    policyholder_role: str  # NOLOGIN role the reader may SET ROLE to: one policyholder's rows
    adjuster_role: str  # NOLOGIN role the reader may SET ROLE to: one adjuster's claims


@dataclass(frozen=True)
class _Roles:
    reader: str
    policyholder: str
    adjuster: str

    @property
    def scoped(self) -> tuple[str, str]:
        return (self.policyholder, self.adjuster)


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
    roles = _Roles(
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


async def _format(conn: asyncpg.Connection, template: str, *args: str) -> str:
    """`format(template, args...)` by the server: %I quotes an identifier, %L a literal."""
    text: str = await conn.fetchval("SELECT format($1, VARIADIC $2::text[])", template, args)
    return text


async def _execute(conn: asyncpg.Connection, template: str, *args: str) -> None:
    """Run `format(template, args...)`: %I quotes an identifier, %L a literal."""
    await conn.execute(await _format(conn, template, *args))


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
    await _execute(server, "DROP DATABASE IF EXISTS %I WITH (FORCE)", database)
    # C collation: the same sort order on every server; template0 for a clean catalog.
    libc = "LOCALE_PROVIDER libc" if server.get_server_version().major >= 15 else ""
    await _execute(
        server,
        f"CREATE DATABASE %I TEMPLATE template0 ENCODING 'UTF8' {libc} LC_COLLATE 'C' LC_CTYPE 'C'",
        database,
    )
    await _execute(server, "COMMENT ON DATABASE %I IS %L", database, _DATABASE_COMMENT)
    await _execute(server, "ALTER DATABASE %I SET timezone = 'UTC'", database)
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
                await db.execute(_sql_file(name))
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


def _sql_file(name: str) -> str:
    return resources.files("sqlgateway").joinpath(name).read_text("utf-8")


def _sql_digest() -> str:
    return hashlib.sha256("\0".join(map(_sql_file, _SQL_FILES)).encode()).hexdigest()


async def _configure_database(db: asyncpg.Connection, database: str, roles: _Roles) -> str | None:
    """Apply the roles, the demo database's privileges and its row-level security; the stored
    reader password."""
    async with db.transaction():
        await _configure_role(db, roles.reader, database, login=True)
        for role in roles.scoped:
            await _configure_role(db, role, database, login=False)

        # CONNECT to this database for the reader only; no TEMPORARY for anyone. The scoped
        # roles never log in: the reader reaches them by SET ROLE (NOINHERIT: when it does
        # not, their privileges and policies do not apply to it).
        await _execute(db, "REVOKE ALL ON DATABASE %I FROM PUBLIC", database)
        await _execute(db, "GRANT CONNECT ON DATABASE %I TO %I", database, roles.reader)
        await db.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        await db.execute("REVOKE ALL ON SCHEMA sqlgateway_meta FROM PUBLIC")
        tables = ", ".join(f"public.{table}" for table in DEMO_TABLES)
        for role in (roles.reader, *roles.scoped):
            await _execute(db, "REVOKE ALL ON SCHEMA public FROM %I", role)
            await _execute(db, "GRANT USAGE ON SCHEMA public TO %I", role)
            await _execute(db, "REVOKE ALL ON ALL TABLES IN SCHEMA public FROM %I", role)
            await _execute(db, f"GRANT SELECT ON {tables} TO %I", role)
        for role in roles.scoped:
            await _execute(db, "GRANT %I TO %I", role, roles.reader)
        revokes = await db.fetchval(
            "SELECT string_agg(format('REVOKE EXECUTE ON FUNCTION pg_catalog.%I(%s) FROM PUBLIC',"
            " proname, pg_get_function_identity_arguments(oid)), '; ')"
            " FROM pg_proc WHERE pronamespace = 'pg_catalog'::regnamespace"
            " AND proname = ANY($1::text[])",
            _REVOKED_FUNCTIONS,
        )
        await db.execute(revokes)
        for role in (roles.reader, *roles.scoped):
            await _check_least_privilege(
                db, role, set(roles.scoped) if role == roles.reader else set()
            )
        await _apply_row_security(db, roles)
        password: str | None = await db.fetchval("SELECT reader_password FROM sqlgateway_meta.demo")
    return password


async def _configure_role(db: asyncpg.Connection, role: str, database: str, *, login: bool) -> None:
    """Create `role` or bring it back to its attributes and settings, a member of nothing."""
    verb = (
        "ALTER"
        if await db.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
        else "CREATE"
    )
    await _execute(
        db,
        f"{verb} ROLE %I {'LOGIN' if login else 'NOLOGIN'} NOSUPERUSER NOCREATEDB NOCREATEROLE"
        " NOREPLICATION NOBYPASSRLS NOINHERIT CONNECTION LIMIT -1 VALID UNTIL 'infinity'",
        role,
    )
    await _execute(db, "ALTER ROLE %I RESET ALL", role)
    await _execute(db, "ALTER ROLE %I IN DATABASE %I RESET ALL", role, database)
    if login:
        for setting, value in _READER_SETTINGS:
            await _execute(db, "ALTER ROLE %I SET %I = %L", role, setting, value)
    for granted, grantor in await db.fetch(
        "SELECT r.rolname, g.rolname FROM pg_auth_members AS m"
        " JOIN pg_roles AS r ON r.oid = m.roleid JOIN pg_roles AS g ON g.oid = m.grantor"
        " WHERE m.member = (SELECT oid FROM pg_roles WHERE rolname = $1)",
        role,
    ):
        await _execute(db, "REVOKE %I FROM %I GRANTED BY %I", granted, role, grantor)


async def _check_least_privilege(db: asyncpg.Connection, role: str, member_of: set[str]) -> None:
    """Raise DemoError unless `role` is a member of exactly `member_of` and owns nothing."""
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
        raise DemoError(
            f"role {role!r} is a member of {sorted(memberships) or 'no role'} and owns {owned} "
            f"object(s) (in any database); it must be a member of "
            f"{sorted(member_of) or 'no role'} only and own nothing"
        )


async def _apply_row_security(db: asyncpg.Connection, roles: _Roles) -> None:
    """Make the demo tables' policies exactly those of `demo_rls.sql`.

    Policy DDL locks the tables against every query, so it runs only when the file, the role
    names or the policies in the catalog changed since the last call: `rls_state` records the
    rendered file's digest and a digest of the catalog it left.
    """
    sql = await _format(db, _sql_file(_RLS_FILE), roles.reader, roles.policyholder, roles.adjuster)
    # For databases created before the column existed.
    await db.execute("ALTER TABLE sqlgateway_meta.demo ADD COLUMN IF NOT EXISTS rls_state text")
    stored = await db.fetchval("SELECT rls_state FROM sqlgateway_meta.demo")
    digest = hashlib.sha256(sql.encode()).hexdigest()
    if stored == f"{digest} {await _row_security_digest(db)}":
        return
    drops = await db.fetchval(
        "SELECT string_agg(format('DROP POLICY %I ON public.%I', policyname, tablename), '; ')"
        " FROM pg_policies WHERE schemaname = 'public' AND tablename = ANY($1::text[])",
        DEMO_TABLES,
    )
    await db.execute((drops or "") + ";\n" + sql)
    await db.execute(
        "UPDATE sqlgateway_meta.demo SET rls_state = $1",
        f"{digest} {await _row_security_digest(db)}",
    )


async def _row_security_digest(db: asyncpg.Connection) -> str:
    """md5 of the demo tables' row-level security flags and policies, as the catalog has them."""
    digest: str = await db.fetchval(
        "SELECT md5(string_agg(line, E'\\n' ORDER BY line)) FROM ("
        " SELECT format('%s %s %s', relname, relrowsecurity, relforcerowsecurity) FROM pg_class"
        " WHERE relnamespace = 'public'::regnamespace AND relname = ANY($1::text[])"
        " UNION ALL SELECT p::text FROM pg_policies AS p"
        " WHERE schemaname = 'public' AND tablename = ANY($1::text[])) AS lines (line)",
        DEMO_TABLES,
    )
    return digest


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
    await _execute(db, "ALTER ROLE %I PASSWORD %L", role, password)
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
