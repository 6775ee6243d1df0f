"""What a safe serving role is: the one definition `provision-role`, the demo, `check-role` and
the start-up check all read.

A safe serving role logs in, reads the tables it is granted, and nothing more:

- **attributes** (`ATTRIBUTES`): none of the privilege attributes;
- **memberships**: none of `UNSAFE_MEMBERSHIPS` (write, files, programs, signals), and, for
  full depth, none of `WIDER_VISIBILITY` (read beyond its grants or other sessions' SQL);
- **grants**: CONNECT on its database, USAGE on the served schemas, SELECT on their tables;
  no INSERT/UPDATE/DELETE/TRUNCATE anywhere, no CREATE on any schema or the database, no
  TEMPORARY, owns nothing;
- **catalogs**: none of `PRIVATE_CATALOGS` readable (PostgreSQL keeps them to superusers);
- **functions**: none of the `FAMILIES` executable. PUBLIC may run most of them by default, so
  provisioning revokes EXECUTE from PUBLIC, which is database-wide (see `provision.py` for how
  other roles keep them);
- **settings** (`SETTINGS`, ALTER ROLE … SET): read-only by default, and bounds on time,
  memory and temporary files that hold even for a session that bypasses the gateway.

What is kept on purpose is in `KEPT`, each with the layer that covers it.

Each finding `check-role` reports has a severity (`Severity`): unsafe findings stop the
gateway; reduced-depth findings mean a layer behind the guard is missing (the guard and the
executor still refuse what it would stop), and the gateway serves with a warning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

__all__ = [
    "ATTRIBUTES",
    "FAMILIES",
    "KEPT",
    "PRIVATE_CATALOGS",
    "SETTINGS",
    "UNSAFE_MEMBERSHIPS",
    "WIDER_VISIBILITY",
    "Attribute",
    "Family",
    "Kept",
    "Membership",
    "RoleSetting",
    "Severity",
    "setting_amount",
]


class Severity(Enum):
    """How much a finding matters; `check-role` exits with the worst one's code."""

    #: the role could write, escalate, read what PostgreSQL keeps private, or escape the
    #: read-only session: the gateway refuses to serve with it (exit 1)
    UNSAFE = "unsafe"
    #: a layer behind the guard is missing; the guard and the executor still refuse what it
    #: would stop: the gateway serves and logs it (exit 3)
    REDUCED = "reduced depth"
    #: least-privilege hygiene that no request can use (exit 0)
    WARNING = "warning"


@dataclass(frozen=True)
class Attribute:
    column: str  # in pg_roles
    keyword: str  # the safe keyword of CREATE/ALTER ROLE
    why: str
    #: PostgreSQL lets only superusers change it (the managed-database administrator cannot)
    superuser_only: bool = False


ATTRIBUTES = (
    Attribute("rolsuper", "NOSUPERUSER", "is a superuser", superuser_only=True),
    Attribute(
        "rolbypassrls",
        "NOBYPASSRLS",
        "has BYPASSRLS (row-level security would not apply)",
        superuser_only=True,
    ),
    Attribute(
        "rolreplication", "NOREPLICATION", "has REPLICATION (reads the WAL)", superuser_only=True
    ),
    Attribute("rolcreaterole", "NOCREATEROLE", "has CREATEROLE (makes and alters roles)"),
    Attribute("rolcreatedb", "NOCREATEDB", "has CREATEDB"),
)


@dataclass(frozen=True)
class Membership:
    role: str  # a predefined role
    why: str


#: Predefined roles that write, read or write server files, run programs, signal or block
#: other sessions: a member is unsafe.
UNSAFE_MEMBERSHIPS = (
    Membership("pg_write_server_files", "writes files on the database server"),
    Membership("pg_read_server_files", "reads files on the database server"),
    Membership("pg_execute_server_program", "runs programs on the database server"),
    Membership("pg_signal_backend", "cancels and ends other roles' sessions"),
    Membership("pg_write_all_data", "writes every table"),
    Membership("pg_checkpoint", "runs CHECKPOINT"),
    Membership("pg_create_subscription", "creates subscriptions (connects out, writes)"),
    Membership("pg_signal_autovacuum_worker", "signals autovacuum workers"),
    Membership("pg_maintain", "runs VACUUM, ANALYZE, REINDEX, REFRESH and LOCK on every table"),
)

#: Predefined roles that let the role see beyond its grants: reduced depth (the guard's
#: relation allowlist still holds).
WIDER_VISIBILITY = (
    Membership("pg_read_all_data", "reads every table, whatever its grants"),
    Membership("pg_read_all_stats", "sees every session's SQL text in pg_stat_activity"),
    Membership("pg_read_all_settings", "sees every setting, file paths included"),
    Membership("pg_monitor", "sees every session's SQL and every setting"),
    Membership("pg_stat_scan_tables", "runs functions that lock tables to scan them"),
)

#: Catalogs PostgreSQL lets only superusers read; a role that can read one was granted it.
PRIVATE_CATALOGS = (
    "pg_catalog.pg_authid",  # password hashes
    "pg_catalog.pg_shadow",  # password hashes
    "pg_catalog.pg_statistic",  # samples of every column's values, past grants and RLS
    "pg_catalog.pg_user_mapping",  # foreign servers' passwords
    "pg_catalog.pg_file_settings",
    "pg_catalog.pg_hba_file_rules",
    "pg_catalog.pg_ident_file_rules",
)


@dataclass(frozen=True)
class Family:
    """Functions of pg_catalog that a read-only role must not run, and why.

    `functions` are names (every overload) or `name(type,type)` for one overload (as
    PostgreSQL's regprocedure spells it). `examples` are calls a session would make."""

    name: str
    title: str
    functions: tuple[str, ...]
    why: str
    examples: tuple[str, ...]
    #: True: PUBLIC may run them by default and provisioning revokes them (executable =
    #: reduced depth). False: PostgreSQL already keeps them to superusers, so only an explicit
    #: grant makes them executable (executable = unsafe).
    revoked_by_provisioning: bool = True

    def matches(self, name: str, signature: str) -> bool:
        """Whether the overload `signature` (regprocedure text) of `name` belongs here.

        >>> FAMILIES_BY_NAME["sql-in-text"].matches("ts_rewrite", "ts_rewrite(tsquery,text)")
        True
        >>> FAMILIES_BY_NAME["sql-in-text"].matches("ts_rewrite", "ts_rewrite(tsquery,tsquery,tsquery)")
        False
        """
        return name in self.functions or signature in self.functions

    @property
    def names(self) -> tuple[str, ...]:
        """The function names, without overload arguments."""
        return tuple(dict.fromkeys(f.split("(", 1)[0] for f in self.functions))


_LARGE_OBJECTS = (
    "lo_open", "lo_close", "loread", "lowrite", "lo_lseek", "lo_lseek64", "lo_tell",
    "lo_tell64", "lo_truncate", "lo_truncate64", "lo_creat", "lo_create", "lo_unlink",
    "lo_import", "lo_export", "lo_from_bytea", "lo_get", "lo_put",
)  # fmt: skip
_ADVISORY_LOCKS = (
    "pg_advisory_lock", "pg_advisory_lock_shared", "pg_advisory_unlock",
    "pg_advisory_unlock_shared", "pg_advisory_unlock_all", "pg_advisory_xact_lock",
    "pg_advisory_xact_lock_shared", "pg_try_advisory_lock",
    "pg_try_advisory_lock_shared", "pg_try_advisory_xact_lock",
    "pg_try_advisory_xact_lock_shared",
)  # fmt: skip
_SQL_IN_TEXT = (
    "query_to_xml", "query_to_xmlschema", "query_to_xml_and_xmlschema",
    "cursor_to_xml", "cursor_to_xmlschema",
    "table_to_xml", "table_to_xmlschema", "table_to_xml_and_xmlschema",
    "schema_to_xml", "schema_to_xmlschema", "schema_to_xml_and_xmlschema",
    "database_to_xml", "database_to_xmlschema", "database_to_xml_and_xmlschema",
    "ts_stat", "ts_rewrite(tsquery,text)",
)  # fmt: skip
_SERVER_ADMIN = (
    "pg_read_file", "pg_read_binary_file", "pg_ls_dir", "pg_stat_file",
    "pg_reload_conf", "pg_rotate_logfile", "pg_switch_wal", "pg_create_restore_point",
    "pg_promote", "pg_stat_reset", "pg_stat_reset_shared",
    "pg_stat_reset_single_table_counters", "pg_stat_reset_single_function_counters",
    "pg_stat_reset_slru", "pg_stat_reset_replication_slot",
)  # fmt: skip

FAMILIES = (
    Family(
        "large-objects",
        "large-object functions",
        _LARGE_OBJECTS,
        "create, change and delete large objects (pg_largeobject), or read and write server "
        "files (lo_import, lo_export); a reader has no use for them",
        ("SELECT lo_create(0)", "SELECT lo_from_bytea(0, 'x')", "SELECT lo_unlink(1)"),
    ),
    Family(
        "wal",
        "WAL-message functions",
        ("pg_logical_emit_message",),
        "writes a message into the WAL; a non-transactional one is not undone by ROLLBACK",
        ("SELECT pg_logical_emit_message(false, 'sqlgateway', 'x')",),
    ),
    Family(
        "notify",
        "notification functions",
        ("pg_notify",),
        "signals every session that listens on a channel (other applications' workers)",
        ("SELECT pg_notify('sqlgateway', 'x')",),
    ),
    Family(
        "advisory-locks",
        "advisory-lock functions",
        _ADVISORY_LOCKS,
        "a session-level lock outlives the ROLLBACK on the pooled connection, and any of them "
        "blocks other sessions that take the same key (migration tools serialise on them)",
        (
            "SELECT pg_advisory_lock(1)",
            "SELECT pg_advisory_xact_lock(1)",
            "SELECT pg_try_advisory_lock_shared(1)",
        ),
    ),
    Family(
        "backend-signals",
        "session-signalling functions",
        ("pg_cancel_backend", "pg_terminate_backend"),
        "cancels or ends other sessions of the same role: the gateway's other connections, "
        "with every other user's queries",
        (
            "SELECT pg_cancel_backend(pg_backend_pid())",
            "SELECT pg_terminate_backend(pg_backend_pid())",
        ),
    ),
    Family(
        "sql-in-text",
        "functions that run SQL given as text",
        _SQL_IN_TEXT,
        "run a query given as a string, or read whole tables, schemas or the database named by "
        "a value: what they read is never seen by the guard (its relation allowlist, sensitive "
        "columns and function list)",
        (
            "SELECT query_to_xml('SELECT 1', true, true, '')",
            "SELECT * FROM ts_stat('SELECT to_tsvector(''x'')')",
            "SELECT ts_rewrite('a'::tsquery, 'SELECT ''a''::tsquery, ''b''::tsquery')",
            "SELECT database_to_xml(true, true, '')",
        ),
    ),
    Family(
        "server-admin",
        "server file and administration functions",
        _SERVER_ADMIN,
        "read server files, reload the configuration, switch the WAL or reset statistics; "
        "PostgreSQL keeps them to superusers, so only an explicit grant makes them executable",
        ("SELECT pg_read_file('PG_VERSION')", "SELECT pg_reload_conf()"),
        revoked_by_provisioning=False,
    ),
)
FAMILIES_BY_NAME = {family.name: family for family in FAMILIES}


@dataclass(frozen=True)
class RoleSetting:
    """A role setting (ALTER ROLE … SET) and the bound `check-role` accepts."""

    name: str
    value: str  # what provisioning sets
    why: str
    #: the loosest value accepted; None: exactly `value` (a boolean)
    loosest: str | None = None
    #: PostgreSQL lets only superusers set it for a role (PGC_SUSET)
    superuser_only: bool = False

    def accepts(self, value: str | None, unit: str | None) -> bool:
        """Whether `value` (as the catalog has it; None: not set) is within the bound.

        >>> SETTINGS_BY_NAME["statement_timeout"].accepts("0", "ms")
        False
        >>> SETTINGS_BY_NAME["statement_timeout"].accepts("2min", "ms")
        True
        >>> SETTINGS_BY_NAME["work_mem"].accepts("1GB", "kB")
        False
        >>> SETTINGS_BY_NAME["default_transaction_read_only"].accepts("true", None)
        True
        """
        if value is None:
            return False
        if self.loosest is None:
            return value.strip().lower() in _TRUE
        amount = setting_amount(value, unit)
        return amount is not None and 0 < amount <= (setting_amount(self.loosest, unit) or 0)


_TRUE = {"on", "true", "yes", "1", "t", "y"}

SETTINGS = (
    RoleSetting(
        "default_transaction_read_only",
        "on",
        "a session of this role that does not come through the gateway starts read-only",
    ),
    RoleSetting(
        "statement_timeout",
        "30s",
        "ends a runaway statement of a session that does not come through the gateway (the "
        "gateway sets its own per transaction)",
        loosest="5min",
    ),
    RoleSetting(
        "idle_in_transaction_session_timeout",
        "60s",
        "ends a session that holds a transaction (and its snapshot and locks) open",
        loosest="10min",
    ),
    RoleSetting(
        "temp_file_limit",
        "1GB",
        "bounds the disk one statement may fill with temporary files (sorts, hashes)",
        loosest="10GB",
        superuser_only=True,
    ),
    RoleSetting(
        "work_mem",
        "4MB",
        "bounds the memory of each sort and hash before it spills to temporary files",
        loosest="64MB",
    ),
)
SETTINGS_BY_NAME = {setting.name: setting for setting in SETTINGS}

_UNITS = {
    "B": 1 / 1024, "kB": 1, "MB": 1024, "GB": 1024**2, "TB": 1024**3,
    "us": 0.001, "ms": 1, "s": 1_000, "min": 60_000, "h": 3_600_000, "d": 86_400_000,
}  # fmt: skip
_AMOUNT = re.compile(r"\s*(-?\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*")


def setting_amount(value: str, unit: str | None) -> float | None:
    """`value` (e.g. "30s", "4MB", "1500") in kB or ms, the base of memory and time units;
    a bare number is in `unit`, the setting's unit as pg_settings has it ("ms", "kB", "8kB").
    None when it does not read as an amount.

    >>> setting_amount("30s", "ms"), setting_amount("4MB", "kB"), setting_amount("2", "8kB")
    (30000.0, 4096.0, 16.0)
    >>> setting_amount("-1", "kB"), setting_amount("lots", "kB")
    (-1.0, None)
    """
    match = _AMOUNT.fullmatch(value)
    if match is None:
        return None
    number, suffix = float(match[1]), match[2]
    if not suffix:
        scale_match = re.fullmatch(r"(\d*)([A-Za-z]+)", unit or "")
        if scale_match is None:
            return number
        scale = float(scale_match[1] or 1)
        suffix, number = scale_match[2], number * scale
    factor = _UNITS.get(suffix)
    return None if factor is None else number * factor


@dataclass(frozen=True)
class Kept:
    """Something a reader can do on purpose, and the layer that covers it."""

    what: str
    why: str
    layer: str


KEPT = (
    Kept(
        "set_config, current_setting",
        "drivers and tools call them (SET is set_config); revoking breaks every role",
        "the guard refuses them in model SQL; the executor opens every transaction READ ONLY "
        "and sets its own limits with SET LOCAL; ROLLBACK undoes a local change",
    ),
    Kept(
        "pg_sleep, pg_sleep_for, pg_sleep_until",
        "harmless but for the connection they hold",
        "the statement timeout (the gateway's per transaction, the role's for other sessions)",
    ),
    Kept(
        "txid_current, pg_current_xact_id",
        "each call assigns a transaction id (a little wraparound pressure), nothing more",
        "the guard",
    ),
    Kept(
        "catalog views (pg_stat_activity, pg_settings, pg_roles, pg_class, information_schema)",
        "PUBLIC reads them; drivers, psql and the gateway's own catalog need them",
        "the guard's relation allowlist",
    ),
    Kept(
        "LISTEN, NOTIFY, UNLISTEN statements",
        "statements, not functions: no privilege governs them",
        "the guard and the EXPLAIN preflight; ROLLBACK discards a pending NOTIFY",
    ),
    Kept(
        "nextval, setval",
        "they need USAGE or UPDATE on a sequence, which the role is not granted",
        "privileges, then the read-only transaction",
    ),
)
