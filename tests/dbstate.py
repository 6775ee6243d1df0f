"""What a refused statement must not have changed, read as the superuser."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

DEMO_TABLES = ("policyholders", "adjusters", "policies", "claims", "claim_events", "payments")


async def _snapshot(dsn: str) -> dict[str, Any]:
    conn = await asyncpg.connect(dsn)
    try:
        state: dict[str, Any] = {}
        tables = await conn.fetch(
            """SELECT c.oid::regclass::text AS name FROM pg_class c
               JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE c.relkind IN ('r', 'm', 'p') AND n.nspname = 'public' ORDER BY 1"""
        )
        for row in tables:
            name = row["name"]
            state[f"table:{name}"] = await conn.fetchrow(
                f"SELECT count(*) AS n, md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))"
                f" AS digest FROM {name} t"
            )
        state["relations"] = [
            tuple(r)
            for r in await conn.fetch(
                """SELECT n.nspname, c.relname, c.relkind FROM pg_class c
                   JOIN pg_namespace n ON n.oid = c.relnamespace
                   WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
                     AND n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pg_toast_temp%'
                   ORDER BY 1, 2"""
            )
        ]
        state["sequences"] = [
            tuple(r)
            for r in await conn.fetch(
                "SELECT schemaname, sequencename, last_value FROM pg_sequences ORDER BY 1, 2"
            )
        ]
        state["functions"] = [
            tuple(r)
            for r in await conn.fetch(
                """SELECT n.nspname, p.proname, md5(p.prosrc) FROM pg_proc p
                   JOIN pg_namespace n ON n.oid = p.pronamespace
                   WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2, 3"""
            )
        ]
        state["large_objects"] = await conn.fetchval("SELECT count(*) FROM pg_largeobject_metadata")
        state["advisory_locks"] = await conn.fetchval(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
        )
        state["roles"] = [
            tuple(r)
            for r in await conn.fetch(
                "SELECT rolname, rolsuper, rolbypassrls, rolcanlogin FROM pg_roles ORDER BY 1"
            )
        ]
        state["role_settings"] = [
            tuple(r) for r in await conn.fetch("SELECT * FROM pg_db_role_setting ORDER BY 1, 2")
        ]
        state["prepared_xacts"] = await conn.fetchval("SELECT count(*) FROM pg_prepared_xacts")
        return state
    finally:
        await conn.close()


def snapshot(admin_dsn: str) -> dict[str, Any]:
    """Row counts and checksums of every table, sequences, functions, large objects, advisory
    locks, roles and role settings of the database behind `admin_dsn`."""
    return asyncio.run(_snapshot(admin_dsn))
