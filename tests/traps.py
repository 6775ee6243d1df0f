"""Traps: database objects that make an innocent-looking SELECT write, leak or escape.

Installed by the superuser in the test demo database, idempotently, so that the attack corpus
is measured against a database where a guard that only reads the SQL text is not enough:

- ``trap_nextval``: a view whose every read calls ``nextval('trap_seq')`` (a write hidden
  behind a relation name the guard allows);
- ``trap_delete()``: a plpgsql function that deletes a claim;
- ``trap_mv``: a materialized view (``REFRESH`` rewrites it);
- the ``dblink`` extension, when the server has it (connections to other databases);
- ``trap_secrets``: row-level security keyed on ``current_setting('app.user', true)``, so a
  reader who could set ``app.user`` would read other users' rows.

The reader gets ``SELECT`` on the trap relations and nothing else, so `inspect_role` still
finds it safe (no write privilege, owns nothing).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import asyncpg

from sqlgateway.demo.database import DemoDatabase

TRAP_RELATIONS = ("trap_nextval", "trap_mv", "trap_secrets")
#: The rows of trap_secrets, owner -> secret. The reader may see none of them: no statement
#: of the reader sets app.user.
TRAP_SECRETS = {"alice": "alice-pin-1111", "bob": "bob-pin-2222"}

_TRAPS_SQL = """
CREATE SEQUENCE IF NOT EXISTS trap_seq;
CREATE OR REPLACE VIEW trap_nextval AS SELECT nextval('trap_seq') AS n;
CREATE OR REPLACE FUNCTION trap_delete() RETURNS int LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM claims WHERE claim_id = 1;
    RETURN 1;
END
$$;
CREATE MATERIALIZED VIEW IF NOT EXISTS trap_mv AS
    SELECT status, count(*) AS n FROM claims GROUP BY status;
CREATE TABLE IF NOT EXISTS trap_secrets (owner text NOT NULL, secret text NOT NULL);
ALTER TABLE trap_secrets ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS trap_secrets_owner ON trap_secrets;
CREATE POLICY trap_secrets_owner ON trap_secrets FOR SELECT
    USING (owner = current_setting('app.user', true));
"""

#: Statements aimed at the traps; the corpus tests run them as one more family.
TRAP_CASES = (
    "SELECT * FROM trap_nextval",
    "SELECT n FROM trap_nextval, claims WHERE claim_id = 1",
    "SELECT trap_delete()",
    "SELECT * FROM claims WHERE claim_id = trap_delete()",
    "REFRESH MATERIALIZED VIEW trap_mv",
    "REFRESH MATERIALIZED VIEW CONCURRENTLY trap_mv",
    "SELECT * FROM dblink('dbname=postgres', 'SELECT 1') AS t(x int)",
    "SELECT dblink_exec('dbname=sqlgateway_test', 'DELETE FROM claims')",
    "SELECT set_config('app.user', 'alice', false), (SELECT string_agg(secret, ',') "
    "FROM trap_secrets)",
    "SELECT * FROM trap_secrets WHERE set_config('app.user', 'bob', true) IS NOT NULL",
)


@dataclass(frozen=True)
class Traps:
    reader_role: str
    dblink: bool  # False: the server has no dblink extension, that trap is not installed
    note: str


def reader_role_of(demo: DemoDatabase) -> str:
    user = urlsplit(demo.reader_dsn).username
    if not user:
        raise ValueError("the reader DSN names no user")
    return unquote(user)


async def _install(demo: DemoDatabase) -> Traps:
    role = reader_role_of(demo)
    conn = await asyncpg.connect(demo.admin_dsn)
    try:
        async with conn.transaction():
            await conn.execute(_TRAPS_SQL)
            if not await conn.fetchval("SELECT count(*) FROM trap_secrets"):
                await conn.executemany(
                    "INSERT INTO trap_secrets (owner, secret) VALUES ($1, $2)",
                    TRAP_SECRETS.items(),
                )
            await conn.execute(
                await conn.fetchval(
                    "SELECT format('GRANT SELECT ON %s TO %I', $1::text, $2::text)",
                    ", ".join(TRAP_RELATIONS),
                    role,
                )
            )
        available = await conn.fetchval(
            "SELECT count(*) FROM pg_available_extensions WHERE name = 'dblink'"
        )
        if available:
            await conn.execute("CREATE EXTENSION IF NOT EXISTS dblink")
            note = "dblink installed"
        else:
            note = "dblink not available on this server: that trap is not installed"
    finally:
        await conn.close()
    return Traps(reader_role=role, dblink=bool(available), note=note)


def install_traps(demo: DemoDatabase) -> Traps:
    """Create (or re-create missing) traps in the demo database; safe to call again."""
    return asyncio.run(_install(demo))
