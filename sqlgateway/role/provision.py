"""The SQL that creates or corrects a least-privilege read-only serving role."""

from __future__ import annotations

from sqlgateway.db.sql import quote_ident, quote_literal
from sqlgateway.settings import Settings

#: Functions PUBLIC may execute by default that write (large objects, WAL), hold locks that
#: outlive a ROLLBACK, or talk to other sessions. `provision_sql` revokes every overload of
#: them (signatures differ between versions: PostgreSQL 17 added an argument to
#: pg_logical_emit_message).
PUBLIC_FUNCTIONS_TO_REVOKE = (
    "lo_create",
    "lo_creat",
    "lo_from_bytea",
    "lo_put",
    "lo_open",
    "lowrite",
    "lo_unlink",
    "lo_truncate",
    "lo_truncate64",
    "lo_import",
    "lo_export",
    "pg_logical_emit_message",
    "pg_advisory_lock",
    "pg_advisory_lock_shared",
    "pg_try_advisory_lock",
    "pg_try_advisory_lock_shared",
    "pg_notify",
)


def provision_sql(
    role: str,
    database: str,
    schemas: tuple[str, ...],
    settings: Settings,
    *,
    password: str | None = None,
) -> str:
    """SQL (run as an admin, in `database`) that creates or corrects a least-privilege
    read-only login role for `schemas`."""
    r = quote_ident(role)
    db = quote_ident(database)
    pw = f" PASSWORD {quote_literal(password)}" if password else ""
    attributes = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT"
    lines = [
        "BEGIN;",
        "DO $$ BEGIN",
        f"  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {quote_literal(role)}) THEN",
        f"    CREATE ROLE {r} {attributes};",
        "  END IF;",
        "END $$;",
        f"ALTER ROLE {r} {attributes}{pw};",
        f"ALTER ROLE {r} SET default_transaction_read_only = on;",
        f"ALTER ROLE {r} SET statement_timeout = '{settings.statement_timeout_ms}ms';",
        f"ALTER ROLE {r} SET idle_in_transaction_session_timeout = '60s';",
        f"GRANT CONNECT ON DATABASE {db} TO {r};",
        f"REVOKE CREATE, TEMPORARY ON DATABASE {db} FROM PUBLIC, {r};",
    ]
    for schema in schemas:
        s = quote_ident(schema)
        lines += [
            f"REVOKE CREATE ON SCHEMA {s} FROM PUBLIC, {r};",
            f"GRANT USAGE ON SCHEMA {s} TO {r};",
            f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER "
            f"ON ALL TABLES IN SCHEMA {s} FROM {r};",
            f"GRANT SELECT ON ALL TABLES IN SCHEMA {s} TO {r};",
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT SELECT ON TABLES TO {r};",
        ]
    lines.append(
        "-- PUBLIC may run these by default; applications sharing this database that use "
        "large objects,\n-- advisory locks or NOTIFY need an explicit "
        "GRANT EXECUTE ON FUNCTION … TO <their role>."
    )
    names = ", ".join(quote_literal(name) for name in PUBLIC_FUNCTIONS_TO_REVOKE)
    lines += [
        "DO $$ DECLARE f regprocedure; BEGIN",
        "  FOR f IN SELECT p.oid::regprocedure FROM pg_proc p",
        f"    WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.proname IN ({names})",
        "  LOOP EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f); END LOOP;",
        "END $$;",
    ]
    lines.append("COMMIT;")
    return "\n".join(lines) + "\n"
