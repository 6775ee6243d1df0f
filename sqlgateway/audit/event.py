"""The audit event's fields: one place for the JSON Lines keys and the table's columns.

An event is a dict made by `RequestRecord.event()` plus `fingerprint` and `normalized_sql`
(added by the trail, off the request path). `ts` is an ISO 8601 UTC timestamp with
microseconds; durations are milliseconds.
"""

from __future__ import annotations

from sqlgateway.db.sql import quote_ident

#: (name, PostgreSQL type) of every event field, in column order.
FIELDS: tuple[tuple[str, str], ...] = (
    ("ts", "timestamptz NOT NULL"),
    ("request_id", "text NOT NULL"),
    ("actor", "text NOT NULL"),
    ("auth_mode", "text NOT NULL"),
    ("db_role", "text"),
    ("client_addr", "text"),
    ("user_agent", "text"),
    ("method", "text NOT NULL"),
    ("path", "text NOT NULL"),
    ("protocol", "text"),
    ("operation", "text"),
    ("parameters", "jsonb"),
    ("sql_received", "text"),
    ("sql_executed", "text"),
    ("dialect", "text"),
    ("fingerprint", "text"),
    ("normalized_sql", "text"),
    ("tables", "text[] NOT NULL"),
    ("functions", "text[] NOT NULL"),
    ("outcome", "text NOT NULL"),
    ("reason", "text"),
    ("sqlstate", "text"),
    ("status", "integer"),
    ("rows", "integer"),
    ("truncated", "boolean"),
    ("response_chars", "integer"),
    ("guard_ms", "double precision"),
    ("db_ms", "double precision"),
    ("total_ms", "double precision"),
)

NAMES: tuple[str, ...] = tuple(name for name, _ in FIELDS)

#: The table's name inside SQLGATEWAY_AUDIT_SCHEMA.
TABLE = "audit_events"
#: Version of the table's layout; `schema_statements` migrates older layouts up to it.
SCHEMA_VERSION = 2

#: Columns added after layout version 1, added to an older table by the migration.
ADDED_COLUMNS: tuple[str, ...] = ("protocol", "operation", "parameters")


def schema_statements(schema: str) -> list[str]:
    """DDL that creates (idempotently) the audit table and its indexes in `schema`:
    time, actor, outcome and fingerprint queries each have an index."""
    s = quote_ident(schema)
    table = f"{s}.{TABLE}"
    columns = ",\n    ".join(f"{quote_ident(name)} {kind}" for name, kind in FIELDS)
    return [
        f"CREATE SCHEMA IF NOT EXISTS {s}",
        f"CREATE TABLE IF NOT EXISTS {s}.schema_version (version integer NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS {table} (\n    id bigint GENERATED ALWAYS AS IDENTITY "
        f"PRIMARY KEY,\n    {columns}\n)",
        *(
            f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {quote_ident(name)} {kind}"
            for name, kind in FIELDS
            if name in ADDED_COLUMNS
        ),
        f"CREATE UNIQUE INDEX IF NOT EXISTS audit_events_request_id ON {table} (request_id)",
        f"CREATE INDEX IF NOT EXISTS audit_events_ts ON {table} (ts)",
        f"CREATE INDEX IF NOT EXISTS audit_events_actor_ts ON {table} (actor, ts)",
        f"CREATE INDEX IF NOT EXISTS audit_events_outcome_ts ON {table} (outcome, ts)",
        f"CREATE INDEX IF NOT EXISTS audit_events_fingerprint ON {table} (fingerprint)",
        f"COMMENT ON TABLE {table} IS 'sqlgateway audit trail: one row per request'",
    ]
