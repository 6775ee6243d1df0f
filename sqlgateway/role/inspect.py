"""Check a database role against the safe role's definition (`role/definition.py`).

`inspect_role` reads the catalog (as any role: the role itself, or an administrator naming
it) and lists every way the role differs from a safe serving role, each finding with its
severity and the SQL that fixes it. `check-role`, `provision-role --apply` and the start-up
check (`require_safe_role`, run by the pool on every new connection) all use it: the gateway
refuses to serve exactly when `check-role` exits 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
import asyncpg.exceptions as pgerr

from sqlgateway.db.sql import quote_ident
from sqlgateway.role.definition import (
    ATTRIBUTES,
    FAMILIES,
    PRIVATE_CATALOGS,
    SETTINGS,
    UNSAFE_MEMBERSHIPS,
    WIDER_VISIBILITY,
    Family,
    RoleSetting,
    Severity,
)
from sqlgateway.role.report import Finding, RoleReport, UnsafeRoleError

__all__ = [
    "SYSTEM_SCHEMAS",
    "RoleNotFoundError",
    "executable_functions",
    "inspect_role",
    "require_safe_role",
]

SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")
#: pg_settings sources that mean "the server's value" (not this session's or a role's)
_SERVER_SOURCES = (
    "default", "configuration file", "command line", "environment variable", "override",
)  # fmt: skip
#: the most names one finding lists
_SHOWN = 20


class RoleNotFoundError(LookupError):
    """No role of that name exists."""


_ATTRIBUTES = f"""
SELECT oid, rolcanlogin, current_database() AS database,
       (SELECT oid FROM pg_database WHERE datname = current_database()) AS database_oid,
       {", ".join(a.column for a in ATTRIBUTES)}
FROM pg_roles WHERE rolname = $1
"""

_WRITABLE = """
SELECT format('%I.%I', n.nspname, c.relname) AS name,
       array_remove(ARRAY[
         CASE WHEN has_table_privilege($1, c.oid, 'INSERT') THEN 'INSERT' END,
         CASE WHEN has_table_privilege($1, c.oid, 'UPDATE') THEN 'UPDATE' END,
         CASE WHEN has_table_privilege($1, c.oid, 'DELETE') THEN 'DELETE' END,
         CASE WHEN has_table_privilege($1, c.oid, 'TRUNCATE') THEN 'TRUNCATE' END], NULL) AS privs
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND n.nspname <> ALL($2::text[]) AND n.nspname NOT LIKE 'pg\\_temp%'
  AND n.nspname NOT LIKE 'pg\\_toast\\_temp%'
  AND (has_table_privilege($1, c.oid, 'INSERT') OR has_table_privilege($1, c.oid, 'UPDATE')
       OR has_table_privilege($1, c.oid, 'DELETE') OR has_table_privilege($1, c.oid, 'TRUNCATE'))
ORDER BY 1 LIMIT 20
"""

_OWNED = """
SELECT format('%I.%I', n.nspname, c.relname), c.relkind
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname <> ALL($2::text[])
  AND pg_has_role($1, c.relowner, 'USAGE')
ORDER BY 1 LIMIT 20
"""

_PRIVILEGES = """
SELECT ARRAY(SELECT nspname FROM pg_namespace
             WHERE has_schema_privilege($1, oid, 'CREATE') AND nspname NOT LIKE 'pg\\_temp%'
               AND nspname NOT LIKE 'pg\\_toast\\_temp%' ORDER BY 1) AS create_schemas,
       has_database_privilege($1, current_database(), 'CREATE') AS create_database,
       has_database_privilege($1, current_database(), 'TEMPORARY') AS temporary,
       ARRAY(SELECT rolname FROM pg_roles
             WHERE rolname = ANY($2::text[]) AND pg_has_role($1, oid, 'MEMBER')
             ORDER BY 1) AS memberships,
       ARRAY(SELECT name FROM unnest($3::text[]) AS name
             WHERE to_regclass(name) IS NOT NULL
               AND has_table_privilege($1, to_regclass(name), 'SELECT')) AS private_catalogs,
       ARRAY(SELECT datname FROM pg_database
             WHERE datallowconn AND datname <> current_database()
               AND has_database_privilege($1, oid, 'CONNECT') ORDER BY 1) AS other_databases
"""

_FUNCTIONS = """
SELECT p.proname, p.oid::regprocedure::text AS signature,
       has_function_privilege('public', p.oid, 'EXECUTE') AS public
FROM pg_proc p
WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.proname = ANY($2::text[])
  AND has_function_privilege($1, p.oid, 'EXECUTE')
ORDER BY 2
"""

_SETTINGS = """
SELECT p.name, p.unit, p.source, p.setting, c.value, c.level
FROM pg_settings p
LEFT JOIN LATERAL (
  SELECT substr(item, length(p.name) + 2) AS value,
         CASE WHEN s.setrole = 0 THEN 'the database''s'
              WHEN s.setdatabase = 0 THEN 'set for the role'
              ELSE 'set for the role in this database' END AS level
  FROM pg_db_role_setting s, unnest(s.setconfig) AS item
  WHERE split_part(item, '=', 1) = p.name
    AND ((s.setrole = $2 AND s.setdatabase IN (0, $3)) OR (s.setrole = 0 AND s.setdatabase = $3))
  ORDER BY s.setrole <> 0 DESC, s.setdatabase <> 0 DESC
  LIMIT 1) AS c ON true
WHERE p.name = ANY($1::text[])
"""


async def inspect_role(conn: asyncpg.Connection, role: str | None = None) -> RoleReport:
    """Every way `role` (default: the connected role) differs from a safe serving role, in
    the connected database. RoleNotFoundError if there is no such role."""
    role = role or str(await conn.fetchval("SELECT current_user"))
    attrs = await conn.fetchrow(_ATTRIBUTES, role)
    if attrs is None:
        raise RoleNotFoundError(f"role {role!r} does not exist")
    database = str(attrs["database"])
    r, db = quote_ident(role), quote_ident(database)
    findings: list[Finding] = []

    def add(severity: Severity, text: str, fix: str = "", *, superuser: bool = False) -> None:
        findings.append(Finding(severity, text, fix, superuser))

    for attribute in ATTRIBUTES:
        if attrs[attribute.column]:
            fix = f"ALTER ROLE {r} {attribute.keyword};"
            add(Severity.UNSAFE, attribute.why, fix, superuser=attribute.superuser_only)
    if attrs["rolsuper"]:  # a superuser may do everything the rest would list
        return RoleReport(role=role, database=database, findings=findings)
    for row in await conn.fetch(_WRITABLE, role, list(SYSTEM_SCHEMAS)):
        privileges = ", ".join(row["privs"])
        add(
            Severity.UNSAFE,
            f"can {privileges} {row['name']}",
            f"REVOKE {privileges} ON {row['name']} FROM {r};  -- and from PUBLIC or any role "
            f"{role} is a member of, where granted there",
        )
    for name, kind in await conn.fetch(_OWNED, role, list(SYSTEM_SCHEMAS)):
        noun = {"v": "VIEW", "m": "MATERIALIZED VIEW", "f": "FOREIGN TABLE"}.get(kind, "TABLE")
        add(
            Severity.UNSAFE,
            f"owns {name} (owners can change and drop what they serve)",
            f"ALTER {noun} {name} OWNER TO <the schema's owner>;",
        )
    granted = await conn.fetchrow(
        _PRIVILEGES,
        role,
        [m.role for m in (*UNSAFE_MEMBERSHIPS, *WIDER_VISIBILITY)],
        list(PRIVATE_CATALOGS),
    )
    assert granted is not None
    for schema in granted["create_schemas"]:
        s = quote_ident(schema)
        add(
            Severity.UNSAFE,
            f"can CREATE in schema {schema}",
            f"REVOKE CREATE ON SCHEMA {s} FROM PUBLIC, {r};",
        )
    if granted["create_database"]:
        add(
            Severity.UNSAFE,
            f"can CREATE in database {database}",
            f"REVOKE CREATE ON DATABASE {db} FROM PUBLIC, {r};",
        )
    for catalog in granted["private_catalogs"]:
        add(
            Severity.UNSAFE,
            f"can read {catalog}, which PostgreSQL keeps to superusers",
            f"REVOKE SELECT ON {catalog} FROM PUBLIC, {r};",
            superuser=True,
        )
    memberships = set(granted["memberships"])
    for severity, kinds in (
        (Severity.UNSAFE, UNSAFE_MEMBERSHIPS),
        (Severity.REDUCED, WIDER_VISIBILITY),
    ):
        for membership in kinds:
            if membership.role in memberships:
                text = f"is a member of {membership.role} ({membership.why})"
                add(severity, text, f"REVOKE {membership.role} FROM {r};")
    if granted["temporary"]:
        add(
            Severity.REDUCED,
            "can create temporary tables",
            f"REVOKE TEMPORARY ON DATABASE {db} FROM PUBLIC, {r};  -- then GRANT TEMPORARY "
            "to the roles that use it (provision-role does)",
        )
    findings += _function_findings(await conn.fetch(_FUNCTIONS, role, _function_names()), r)
    if not attrs["rolcanlogin"]:  # reached by SET ROLE: its sessions are the login role's
        return RoleReport(role=role, database=database, findings=findings)
    findings += _setting_findings(
        await conn.fetch(
            _SETTINGS, [s.name for s in SETTINGS], attrs["oid"], attrs["database_oid"]
        ),
        r,
        db,
    )
    others = granted["other_databases"]
    if others:
        shown = ", ".join(others[:_SHOWN]) + (" …" if len(others) > _SHOWN else "")
        add(
            Severity.WARNING,
            f"can connect to other databases: {shown} (CONNECT is PUBLIC's by default)",
            "\n".join(
                f"REVOKE CONNECT ON DATABASE {quote_ident(other)} FROM PUBLIC, {r};  -- then "
                "GRANT CONNECT to its own roles"
                for other in others[:_SHOWN]
            ),
        )
    return RoleReport(role=role, database=database, findings=findings)


def _function_names() -> list[str]:
    return sorted({name for family in FAMILIES for name in family.names})


def executable_functions(rows: Sequence[asyncpg.Record]) -> dict[Family, list[str]]:
    """The rows of `_FUNCTIONS` (executable overloads) by the family they belong to."""
    found: dict[Family, list[str]] = {}
    for row in rows:
        for family in FAMILIES:
            if family.matches(row["proname"], row["signature"]):
                found.setdefault(family, []).append(row["signature"])
    return found


def _function_findings(rows: Sequence[asyncpg.Record], r: str) -> list[Finding]:
    findings = []
    public = {row["signature"] for row in rows if row["public"]}
    for family, signatures in executable_functions(rows).items():
        names = sorted({signature.split("(", 1)[0] for signature in signatures})
        shown = ", ".join(names[:_SHOWN]) + (" …" if len(names) > _SHOWN else "")
        if len(signatures) > len(names):
            shown += f" ({len(signatures)} overloads)"
        via = " (PUBLIC's default)" if public.issuperset(signatures) else ""
        functions = ", ".join(f"pg_catalog.{signature}" for signature in signatures)
        fix = wrap(f"REVOKE EXECUTE ON FUNCTION {functions} FROM PUBLIC, {r};")
        if family.revoked_by_provisioning:
            fix += "\n-- then GRANT EXECUTE to the other roles that use them (provision-role does)"
        findings.append(
            Finding(
                Severity.REDUCED if family.revoked_by_provisioning else Severity.UNSAFE,
                f"can execute {family.title}{via}: {shown}: {family.why}",
                fix,
                fix_needs_superuser=True,
                topic=family.title,
            )
        )
    return findings


def wrap(statement: str, width: int = 88) -> str:
    """`statement` on lines of at most about `width` characters, broken after commas.

    >>> print(wrap("REVOKE EXECUTE ON FUNCTION a(int), b(text), c() FROM PUBLIC;", 30))
    REVOKE EXECUTE ON FUNCTION a(int),
      b(text), c() FROM PUBLIC;
    """
    lines: list[str] = []
    line = ""
    for part in statement.split(", "):
        piece = f"{line}, {part}" if line else part
        if line and len(piece) > width:
            lines.append(line + ",")
            line = "  " + part
        else:
            line = piece
    return "\n".join([*lines, line])


def _setting_findings(rows: Sequence[asyncpg.Record], r: str, db: str) -> list[Finding]:
    by_name = {row["name"]: row for row in rows}
    findings = []
    for setting in SETTINGS:
        row = by_name.get(setting.name)
        if row is None:  # not a setting of this server version
            continue
        value, where = _effective(row)
        if setting.accepts(value, row["unit"]):
            continue
        findings.append(_setting_finding(setting, value, where, r, db))
    return findings


def _effective(row: asyncpg.Record) -> tuple[str | None, str]:
    """A session of the role's value of one setting, and where it comes from."""
    if row["value"] is not None:
        return str(row["value"]), str(row["level"])
    if row["source"] in _SERVER_SOURCES:
        return str(row["setting"]), "the server's"
    return None, "not set for the role"


def _setting_finding(
    setting: RoleSetting, value: str | None, where: str, r: str, db: str
) -> Finding:
    if value is None:
        text = f"{setting.name} is not set for the role"
    else:
        text = f"{setting.name} is {value} ({where})"
    bound = f"at most {setting.loosest}" if setting.loosest else setting.value
    scope = f" IN DATABASE {db}" if where == "set for the role in this database" else ""
    return Finding(
        Severity.REDUCED,
        f"{text}; wanted: {bound}: {setting.why}",
        f"ALTER ROLE {r}{scope} SET {setting.name} = '{setting.value}';",
        fix_needs_superuser=setting.superuser_only,
        topic=setting.name,
    )


async def require_safe_role(
    conn: asyncpg.Connection, scoped_roles: Sequence[str] = ()
) -> list[RoleReport]:
    """The reports of the connected role and of every role a request may switch to; raises
    UnsafeRoleError for the first that is unsafe. Each scoped role is inspected as a
    request would run as it: inside a transaction, after SET LOCAL ROLE (so nothing outlives
    the check, also behind PgBouncer)."""
    report = await inspect_role(conn)
    if not report.safe:
        raise UnsafeRoleError(report)
    reports = [report]
    for role in scoped_roles:
        async with conn.transaction(readonly=True):
            try:
                await conn.execute(f"SET LOCAL ROLE {quote_ident(role)}")
            except pgerr.PostgresError as error:
                finding = Finding(
                    Severity.UNSAFE,
                    f"{report.role} cannot SET ROLE {role} ({type(error).__name__}): grant "
                    f"{role} to {report.role}, or remove it from SQLGATEWAY_SCOPE_ALLOWED_ROLES",
                    f"GRANT {quote_ident(role)} TO {quote_ident(report.role)};",
                )
                raise UnsafeRoleError(RoleReport(role, report.database, [finding])) from None
            scoped = await inspect_role(conn)
        if not scoped.safe:
            raise UnsafeRoleError(scoped)
        reports.append(scoped)
    return reports
