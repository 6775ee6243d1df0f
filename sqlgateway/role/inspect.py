"""Inspect the database role the gateway serves with.

`inspect_role` runs catalog queries as the gateway's own role and lists every reason it is
unsafe to serve with; the gateway refuses to start when the list has a `fatal` finding.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import asyncpg

SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")

#: Predefined roles that read or write server files, run programs or signal other sessions.
DANGEROUS_MEMBERSHIPS = (
    "pg_write_server_files",
    "pg_read_server_files",
    "pg_execute_server_program",
    "pg_signal_backend",
    "pg_write_all_data",
    "pg_checkpoint",
    "pg_create_subscription",
    "pg_signal_autovacuum_worker",
)


class UnsafeRoleError(Exception):
    """The role the gateway connects as could write, leak or escape; it will not serve."""

    def __init__(self, report: RoleReport) -> None:
        super().__init__(
            f"refusing to serve: the database role is not read-only and least-privilege\n"
            f"{report.render()}\nRun `sqlgateway provision-role` for the SQL that creates a safe role."
        )
        self.report = report


@dataclass(frozen=True)
class Finding:
    fatal: bool
    text: str


@dataclass(frozen=True)
class RoleReport:
    role: str
    database: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def safe(self) -> bool:
        return not any(f.fatal for f in self.findings)

    def render(self) -> str:
        lines = [f"role {self.role} on database {self.database}:"]
        if not self.findings:
            lines.append("  ok: read-only, least privilege")
        for finding in self.findings:
            lines.append(f"  {'FATAL' if finding.fatal else 'warning'}: {finding.text}")
        return "\n".join(lines)


_ATTRIBUTES = """
SELECT current_user AS role, current_database() AS database, rolsuper, rolbypassrls,
       rolcreaterole, rolcreatedb, rolreplication
FROM pg_roles WHERE rolname = current_user
"""

_WRITABLE = """
SELECT format('%I.%I', n.nspname, c.relname) AS name,
       array_remove(ARRAY[
         CASE WHEN has_table_privilege(c.oid, 'INSERT') THEN 'INSERT' END,
         CASE WHEN has_table_privilege(c.oid, 'UPDATE') THEN 'UPDATE' END,
         CASE WHEN has_table_privilege(c.oid, 'DELETE') THEN 'DELETE' END,
         CASE WHEN has_table_privilege(c.oid, 'TRUNCATE') THEN 'TRUNCATE' END], NULL) AS privs
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND n.nspname <> ALL($1::text[]) AND n.nspname NOT LIKE 'pg\\_temp%'
  AND n.nspname NOT LIKE 'pg\\_toast\\_temp%'
  AND (has_table_privilege(c.oid, 'INSERT') OR has_table_privilege(c.oid, 'UPDATE')
       OR has_table_privilege(c.oid, 'DELETE') OR has_table_privilege(c.oid, 'TRUNCATE'))
ORDER BY 1 LIMIT 20
"""

_OWNED = """
SELECT format('%I.%I', n.nspname, c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname <> ALL($1::text[])
  AND pg_has_role(current_user, c.relowner, 'USAGE')
ORDER BY 1 LIMIT 20
"""

_CREATE_SCHEMAS = """
SELECT nspname FROM pg_namespace
WHERE has_schema_privilege(oid, 'CREATE') AND nspname NOT LIKE 'pg\\_temp%'
  AND nspname NOT LIKE 'pg\\_toast\\_temp%'
ORDER BY 1
"""

_MEMBERSHIPS = """
SELECT rolname FROM pg_roles
WHERE rolname = ANY($1::text[]) AND pg_has_role(current_user, oid, 'MEMBER')
ORDER BY 1
"""


async def inspect_role(conn: asyncpg.Connection) -> RoleReport:
    """Everything that makes the connected role unsafe to serve with."""
    attrs = await conn.fetchrow(_ATTRIBUTES)
    assert attrs is not None
    findings: list[Finding] = []

    def fatal(text: str) -> None:
        findings.append(Finding(True, text))

    for column, what in (
        ("rolsuper", "is a superuser"),
        ("rolbypassrls", "has BYPASSRLS (row-level security would not apply)"),
        ("rolcreaterole", "has CREATEROLE"),
        ("rolcreatedb", "has CREATEDB"),
        ("rolreplication", "has REPLICATION"),
    ):
        if attrs[column]:
            fatal(what)
    for row in await conn.fetch(_WRITABLE, list(SYSTEM_SCHEMAS)):
        fatal(f"can {', '.join(row['privs'])} {row['name']}")
    for row in await conn.fetch(_OWNED, list(SYSTEM_SCHEMAS)):
        fatal(f"owns {row[0]} (owners can change and drop what they serve)")
    for row in await conn.fetch(_CREATE_SCHEMAS):
        fatal(f"can CREATE in schema {row[0]}")
    if await conn.fetchval("SELECT has_database_privilege(current_database(), 'CREATE')"):
        fatal(f"can CREATE in database {attrs['database']}")
    for row in await conn.fetch(_MEMBERSHIPS, list(DANGEROUS_MEMBERSHIPS)):
        fatal(f"is a member of {row[0]}")
    if await conn.fetchval("SELECT has_database_privilege(current_database(), 'TEMPORARY')"):
        findings.append(Finding(False, "can create temporary tables (REVOKE TEMPORARY)"))
    if await conn.fetchval("SELECT current_setting('default_transaction_read_only')") != "on":
        findings.append(
            Finding(False, "default_transaction_read_only is off for this role (ALTER ROLE … SET)")
        )
    return RoleReport(role=attrs["role"], database=attrs["database"], findings=findings)
