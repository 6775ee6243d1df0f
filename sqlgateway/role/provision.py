"""The SQL that makes a safe serving role (`role/definition.py`), and applying it.

`provision_sql` is one transaction an administrator runs in the served database: a superuser,
or a managed database's administrator (a non-superuser with CREATEROLE who owns the database,
as on RDS, Cloud SQL, Azure, Supabase or Neon). What only a superuser may do is guarded, so the
script runs for both: attributes are changed only where they differ, a superuser-only setting
that cannot be set is skipped with a NOTICE, and EXECUTE is revoked only on functions the
administrator owns (a superuser owns them all; a managed administrator none of pg_catalog's).
`apply_provision` runs it and checks the result with `inspect_role`, so what was skipped
shows up as reduced-depth findings with the SQL a superuser would run.

Revoking from PUBLIC is database-wide: every role of the database loses what PUBLIC gave it
(advisory locks, which migration tools take; temporary tables; CREATE in a schema on
PostgreSQL 14 and older). `public_revocations_sql` therefore grants what it revoked back to
the database's other roles (its owner, the roles it grants privileges to or that own objects
in it, and those granted CONNECT), unless the database serves the gateway alone
(`grant_back=False`, as the demo's). It never grants to the serving role, to a role the
serving role is a member of (it could SET ROLE to it), to superusers or predefined roles.
Roles created later get nothing from PUBLIC: grant them what they need.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import asyncpg

from sqlgateway.db.sql import quote_ident, quote_literal
from sqlgateway.role.definition import ATTRIBUTES, FAMILIES, SETTINGS, RoleSetting, Severity
from sqlgateway.role.inspect import inspect_role
from sqlgateway.role.report import RoleReport

__all__ = [
    "ProvisionResult",
    "apply_provision",
    "provision_sql",
    "public_revocations_sql",
    "superuser_sql",
]

_TABLE_WRITES = "INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER"


def provision_sql(
    role: str,
    database: str,
    schemas: Sequence[str],
    *,
    password: str | None = None,
    grant_back: bool = True,
) -> str:
    """SQL (run as an administrator, in `database`) that creates or corrects `role` as a safe
    serving role reading `schemas`."""
    r, db, name = quote_ident(role), quote_ident(database), quote_literal(role)
    create = " ".join(["LOGIN", *(a.keyword for a in ATTRIBUTES), "INHERIT"])
    lines = [
        "BEGIN;",
        "-- the role: LOGIN and none of the privilege attributes (changed only where they "
        "differ:\n-- only a superuser may name SUPERUSER, REPLICATION or BYPASSRLS at all)",
        "DO $$ BEGIN",
        f"  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {name}) THEN",
        f"    CREATE ROLE {r} {create};",
        "  END IF;",
    ]
    for attribute in ATTRIBUTES:
        lines.append(
            f"  IF (SELECT {attribute.column} FROM pg_roles WHERE rolname = {name}) THEN "
            f"ALTER ROLE {r} {attribute.keyword}; END IF;"
        )
    lines.append("END $$;")
    pw = f" PASSWORD {quote_literal(password)}" if password else ""
    lines.append(f"ALTER ROLE {r} LOGIN INHERIT{pw};")
    lines.append("-- its settings, for every session of it (the gateway's and any other)")
    for setting in SETTINGS:
        lines.append(_setting_sql(setting, r, db))
    lines += [
        "-- CONNECT to this database; SELECT on the tables of its schemas, and nothing more",
        f"GRANT CONNECT ON DATABASE {db} TO {r};",
        f"REVOKE CREATE, TEMPORARY ON DATABASE {db} FROM {r};",
    ]
    for schema in schemas:
        s = quote_ident(schema)
        lines += [
            f"REVOKE CREATE ON SCHEMA {s} FROM {r};",
            f"GRANT USAGE ON SCHEMA {s} TO {r};",
            _tables_sql(role, schema),
            f"-- tables this administrator creates in {schema} later are readable too",
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT SELECT ON TABLES TO {r};",
        ]
    lines.append(public_revocations_sql(role, schemas=schemas, grant_back=grant_back))
    lines.append("COMMIT;")
    return "\n".join(lines) + "\n"


def _tables_sql(role: str, schema: str) -> str:
    """SELECT, and no write, on every table of `schema` this administrator may grant on (it
    owns them, or holds the grant option; a superuser may on all); a NOTICE names the others,
    whose owner must grant SELECT (GRANT … ON ALL TABLES would fail outright on them)."""
    return f"""DO $$ DECLARE t regclass; others text[] := '{{}}'; BEGIN
  FOR t IN SELECT c.oid FROM pg_class AS c
    WHERE c.relnamespace = {quote_literal(schema)}::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
    ORDER BY c.relname
  LOOP
    IF pg_has_role(
         (SELECT relowner FROM pg_class WHERE oid = t), 'USAGE')
       OR has_table_privilege(t, 'SELECT WITH GRANT OPTION') THEN
      EXECUTE format('REVOKE {_TABLE_WRITES} ON %s FROM %I', t, {quote_literal(role)});
      EXECUTE format('GRANT SELECT ON %s TO %I', t, {quote_literal(role)});
    ELSE
      others := others || t::text;
    END IF;
  END LOOP;
  IF cardinality(others) > 0 THEN
    RAISE NOTICE 'not granted (their owner may: GRANT SELECT ON … TO %): %',
      {quote_literal(quote_ident(role))}, array_to_string(others, ', ');
  END IF;
END $$;"""


def _setting_sql(setting: RoleSetting, r: str, db: str) -> str:
    """SET for the role, RESET for the role in the database (which would win over it)."""
    statements = (
        f"ALTER ROLE {r} SET {setting.name} = {quote_literal(setting.value)}; "
        f"ALTER ROLE {r} IN DATABASE {db} RESET {setting.name};"
    )
    if not setting.superuser_only:
        return statements
    skipped = (
        f"{setting.name} is left as it is: only a superuser may set it for a role "
        f"(or GRANT SET ON PARAMETER {setting.name} to this administrator)"
    )
    return (
        f"DO $$ BEGIN {statements}\n"
        f"EXCEPTION WHEN insufficient_privilege THEN RAISE NOTICE {quote_literal(skipped)};\n"
        "END $$;"
    )


def public_revocations_sql(
    role: str, *, schemas: Sequence[str] = (), database: bool = True, grant_back: bool = True
) -> str:
    """A DO block, run in the served database, that revokes from PUBLIC what `role` must not
    have through PUBLIC: EXECUTE on the risky function families, TEMPORARY and CREATE on the
    database (with `database`), CREATE on `schemas`; and, with `grant_back`, grants what it
    revoked to the database's other roles. Only what the running role owns is revoked."""
    revoked = [f for f in FAMILIES if f.revoked_by_provisioning]
    names = sorted({name for f in revoked for name in f.functions if "(" not in name})
    overloads = sorted({name for f in revoked for name in f.functions if "(" in name})
    return f"""-- Revoke from PUBLIC what the role must not have through PUBLIC. This is
-- database-wide: {
        "the database's other roles get back what was revoked"
        if grant_back
        else "no other role gets it back (the database serves the gateway alone)"
    }.
DO $sqlgateway$
DECLARE
  reader constant name := {quote_literal(role)};
  others text;  -- the other roles, quoted and comma-separated; NULL: none
  f regprocedure;
  functions text[] := '{{}}';
  item text;
  public_has boolean;
  allowed boolean;
  kept text[] := '{{}}';
BEGIN
{_others_sql() if grant_back else "  -- (no grant back: others stays NULL)"}
{_database_part(schemas) if database else ""}
  FOR f IN SELECT p.oid::regprocedure FROM pg_proc AS p
    WHERE p.pronamespace = 'pg_catalog'::regnamespace
      AND (p.proname = ANY({_array(names)}) OR p.oid::regprocedure::text = ANY({_array(overloads)}))
      AND has_function_privilege('public', p.oid, 'EXECUTE')
    ORDER BY 1
  LOOP
    IF pg_has_role((SELECT proowner FROM pg_proc WHERE oid = f), 'USAGE') THEN
      EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
      functions := functions || f::text;
      IF others IS NOT NULL THEN
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %s', f, others);
      END IF;
    ELSE
      kept := kept || f::text;
    END IF;
  END LOOP;
  RAISE NOTICE 'revoked EXECUTE from PUBLIC on % function(s)%', cardinality(functions),
    CASE WHEN others IS NOT NULL AND cardinality(functions) > 0
      THEN '; granted back to ' || others ELSE '' END;
  IF cardinality(kept) > 0 THEN
    RAISE NOTICE 'PUBLIC keeps EXECUTE on % function(s) that only their owner may revoke',
      cardinality(kept);
  END IF;
END $sqlgateway$;"""


def _others_sql() -> str:
    """PL/pgSQL: `others` := the database's other roles, quoted and comma-separated."""
    return """  SELECT string_agg(quote_ident(r.rolname), ', ' ORDER BY r.rolname) INTO others
  FROM pg_roles AS r
  WHERE r.oid IN (
      SELECT refobjid FROM pg_shdepend WHERE refclassid = 'pg_authid'::regclass
        AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
      UNION SELECT datdba FROM pg_database WHERE datname = current_database()
      UNION SELECT (aclexplode(datacl)).grantee FROM pg_database
        WHERE datname = current_database())
    AND r.rolname <> reader AND r.rolname !~ '^pg_' AND NOT r.rolsuper
    AND NOT pg_has_role(reader, r.oid, 'MEMBER');"""


def _database_part(schemas: Sequence[str]) -> str:
    """PL/pgSQL: revoke TEMPORARY and CREATE on the database and CREATE on `schemas` from
    PUBLIC where PUBLIC has them and the running role owns the object; grant them back."""
    return f"""  FOR item, public_has, allowed IN
    SELECT format('%s ON DATABASE %I', p, datname), has_database_privilege('public', oid, p),
           pg_has_role(datdba, 'USAGE')
    FROM pg_database, unnest(ARRAY['TEMPORARY', 'CREATE']) AS p
    WHERE datname = current_database()
    UNION ALL
    SELECT format('CREATE ON SCHEMA %I', nspname), has_schema_privilege('public', oid, 'CREATE'),
           pg_has_role(nspowner, 'USAGE')
    FROM pg_namespace WHERE nspname = ANY({_array(schemas)})
  LOOP
    CONTINUE WHEN NOT public_has;
    IF allowed THEN
      EXECUTE format('REVOKE %s FROM PUBLIC', item);
      IF others IS NOT NULL THEN
        EXECUTE format('GRANT %s TO %s', item, others);
      END IF;
      RAISE NOTICE 'revoked % from PUBLIC%', item, coalesce('; granted back to ' || others, '');
    ELSE
      kept := kept || item;
    END IF;
  END LOOP;
  IF cardinality(kept) > 0 THEN
    RAISE NOTICE 'PUBLIC keeps % (only the owner may revoke)', array_to_string(kept, ', ');
    kept := '{{}}';
  END IF;"""


def _array(items: Sequence[str]) -> str:
    return "ARRAY[" + ", ".join(quote_literal(item) for item in items) + "]::text[]"


def superuser_sql(role: str, *, grant_back: bool = True) -> str:
    """What a superuser (or the provider's support) runs, in the served database, to finish
    what a managed database's administrator could not: the function revocations and the
    superuser-only settings."""
    r = quote_ident(role)
    lines = ["BEGIN;"]
    lines += [
        f"ALTER ROLE {r} SET {s.name} = {quote_literal(s.value)};"
        for s in SETTINGS
        if s.superuser_only
    ]
    lines += [public_revocations_sql(role, database=False, grant_back=grant_back), "COMMIT;"]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class ProvisionResult:
    report: RoleReport  # the role as provisioned, inspected by the administrator
    administrator: str
    superuser: bool
    notices: list[str] = field(default_factory=list)

    @property
    def needs_superuser(self) -> list[str]:
        """The topics of the reduced-depth findings only a superuser can fix (function
        families, superuser-only settings)."""
        return [f.topic for f in self.report.of(Severity.REDUCED) if f.fix_needs_superuser]


async def apply_provision(admin_url: str, sql: str, role: str) -> ProvisionResult:
    """Run `sql` (from `provision_sql`) on `admin_url`, then inspect `role` there."""
    conn = await asyncpg.connect(admin_url)
    notices: list[str] = []
    conn.add_log_listener(lambda _conn, message: notices.append(message.message))
    try:
        await conn.execute(sql)
        report = await inspect_role(conn, role)
        admin = await conn.fetchrow(
            "SELECT rolname, rolsuper FROM pg_roles WHERE rolname = current_user"
        )
    finally:
        await conn.close()
    assert admin is not None
    return ProvisionResult(report, str(admin["rolname"]), bool(admin["rolsuper"]), notices)
