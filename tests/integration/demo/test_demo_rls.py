"""Row-level security of the demo database (sqlgateway/demo/sql/rls.sql) on a real PostgreSQL.

Each scoped query runs as the gateway will: the reader opens `BEGIN READ ONLY`, then
`SET LOCAL ROLE <scoped role>` and `set_config('sqlgateway.user_id', <id>, true)`, and ends
with ROLLBACK. Expected rows come from the superuser, who bypasses row-level security.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import Any

import asyncpg
import pytest
from conftest import TEST_CLAIMS, TEST_DATABASE, TEST_READER, admin_fetch

from sqlgateway.db.sql import quote_ident
from sqlgateway.demo.database import DEMO_TABLES, USER_ID_SETTING, DemoDatabase, ensure_demo
from sqlgateway.role.inspect import inspect_role

# Expected rows of each table for one policyholder ($1) and one adjuster ($1), as keys.
POLICYHOLDER_ROWS = {
    "policyholders": "SELECT policyholder_id FROM policyholders WHERE policyholder_id = $1",
    "policies": "SELECT policy_id FROM policies WHERE policyholder_id = $1",
    "claims": "SELECT claim_id FROM claims JOIN policies USING (policy_id)"
    " WHERE policyholder_id = $1",
    "claim_events": "SELECT event_id FROM claim_events JOIN claims USING (claim_id)"
    " JOIN policies USING (policy_id) WHERE policyholder_id = $1",
    "payments": "SELECT payment_id FROM payments JOIN claims USING (claim_id)"
    " JOIN policies USING (policy_id) WHERE policyholder_id = $1",
    "adjusters": "SELECT DISTINCT adjuster_id FROM claims JOIN policies USING (policy_id)"
    " WHERE policyholder_id = $1 AND adjuster_id IS NOT NULL",
}
ADJUSTER_ROWS = {
    "policyholders": "SELECT DISTINCT policyholder_id FROM claims JOIN policies USING (policy_id)"
    " WHERE adjuster_id = $1",
    "policies": "SELECT DISTINCT policy_id FROM claims WHERE adjuster_id = $1",
    "claims": "SELECT claim_id FROM claims WHERE adjuster_id = $1",
    "claim_events": "SELECT event_id FROM claim_events JOIN claims USING (claim_id)"
    " WHERE adjuster_id = $1",
    "payments": "SELECT payment_id FROM payments JOIN claims USING (claim_id)"
    " WHERE adjuster_id = $1",
    "adjusters": "SELECT adjuster_id FROM adjusters WHERE adjuster_id = $1",
}
KEYS = {
    "policyholders": "policyholder_id",
    "policies": "policy_id",
    "claims": "claim_id",
    "claim_events": "event_id",
    "payments": "payment_id",
    "adjusters": "adjuster_id",
}


async def _scoped(
    demo: DemoDatabase, role: str | None, user_id: str | None, sql: str
) -> list[asyncpg.Record]:
    """`sql` as the reader inside BEGIN READ ONLY, as `role` with the user id set (None: not)."""
    conn = await asyncpg.connect(demo.reader_dsn)
    try:
        await conn.execute("BEGIN READ ONLY")
        try:
            if role is not None:
                await conn.execute(f"SET LOCAL ROLE {quote_ident(role)}")
            if user_id is not None:
                await conn.execute("SELECT set_config($1, $2, true)", USER_ID_SETTING, user_id)
            return list(await conn.fetch(sql))
        finally:
            await conn.execute("ROLLBACK")
    finally:
        await conn.close()


def scoped(demo: DemoDatabase, role: str | None, user_id: str | None, sql: str) -> list[Any]:
    return [
        tuple(row) if len(row) > 1 else row[0]
        for row in asyncio.run(_scoped(demo, role, user_id, sql))
    ]


def keys(demo: DemoDatabase, sql: str, *args: Any) -> set[Any]:
    return {row[0] for row in admin_fetch(demo, sql, *args)}


@pytest.fixture(scope="module")
def holders(demo: DemoDatabase) -> list[int]:
    """Two policyholders with the most claims (several each), lowest ids first on ties."""
    rows = admin_fetch(
        demo,
        "SELECT policyholder_id FROM claims JOIN policies USING (policy_id)"
        " GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 2",
    )
    return [row[0] for row in rows]


@pytest.fixture(scope="module")
def adjuster(demo: DemoDatabase) -> int:
    rows = admin_fetch(demo, "SELECT min(adjuster_id) FROM claims")
    return int(rows[0][0])


def test_roles_are_named_after_the_reader(demo: DemoDatabase) -> None:
    assert (demo.policyholder_role, demo.adjuster_role) == (
        f"{TEST_READER}_policyholder",
        f"{TEST_READER}_adjuster",
    )


def test_policyholder_sees_only_their_claims(demo: DemoDatabase, holders: list[int]) -> None:
    for holder in holders:
        seen = scoped(demo, demo.policyholder_role, str(holder), "SELECT claim_id FROM claims")
        assert len(seen) == len(set(seen)) > 1
        assert set(seen) == keys(demo, POLICYHOLDER_ROWS["claims"], holder)


def test_two_policyholders_see_disjoint_claims(demo: DemoDatabase, holders: list[int]) -> None:
    first, second = (
        set(scoped(demo, demo.policyholder_role, str(h), "SELECT claim_id FROM claims"))
        for h in holders
    )
    assert first and second
    assert not first & second


def test_adjuster_sees_exactly_their_assigned_claims(demo: DemoDatabase, adjuster: int) -> None:
    seen = scoped(
        demo, demo.adjuster_role, str(adjuster), "SELECT claim_id, adjuster_id FROM claims"
    )
    assert {adjuster_id for _, adjuster_id in seen} == {adjuster}
    assert {claim_id for claim_id, _ in seen} == keys(demo, ADJUSTER_ROWS["claims"], adjuster)
    assert len(seen) > 1


@pytest.mark.parametrize("table", DEMO_TABLES)
def test_every_table_is_scoped(
    demo: DemoDatabase, holders: list[int], adjuster: int, table: str
) -> None:
    sql = f"SELECT {KEYS[table]} FROM {table}"
    as_holder = scoped(demo, demo.policyholder_role, str(holders[0]), sql)
    as_adjuster = scoped(demo, demo.adjuster_role, str(adjuster), sql)
    assert set(as_holder) == keys(demo, POLICYHOLDER_ROWS[table], holders[0])
    assert set(as_adjuster) == keys(demo, ADJUSTER_ROWS[table], adjuster)
    assert as_holder and as_adjuster


def test_a_claim_lookup_answers_its_status_only_to_its_people(
    demo: DemoDatabase, holders: list[int]
) -> None:
    claim_number, adjuster_id = admin_fetch(
        demo,
        "SELECT claim_number, adjuster_id FROM claims JOIN policies USING (policy_id)"
        " WHERE policyholder_id = $1 AND adjuster_id IS NOT NULL ORDER BY claim_id LIMIT 1",
        holders[0],
    )[0]
    sql = (
        "SELECT c.status, h.full_name, a.full_name, count(e.*)"
        " FROM claims c JOIN policies p USING (policy_id)"
        " JOIN policyholders h USING (policyholder_id)"
        " JOIN adjusters a USING (adjuster_id) JOIN claim_events e USING (claim_id)"
        f" WHERE c.claim_number = '{claim_number}' GROUP BY 1, 2, 3"
    )
    expected = [tuple(admin_fetch(demo, sql)[0])]
    assert scoped(demo, demo.policyholder_role, str(holders[0]), sql) == expected
    assert scoped(demo, demo.adjuster_role, str(adjuster_id), sql) == expected
    assert scoped(demo, demo.policyholder_role, str(holders[1]), sql) == []
    other_adjuster = adjuster_id % 50 + 1
    assert scoped(demo, demo.adjuster_role, str(other_adjuster), sql) == []


@pytest.mark.parametrize("role", ["policyholder", "adjuster"])
@pytest.mark.parametrize("table", DEMO_TABLES)
def test_missing_setting_shows_no_rows(demo: DemoDatabase, role: str, table: str) -> None:
    assert scoped(demo, getattr(demo, f"{role}_role"), None, f"SELECT * FROM {table}") == []


GARBAGE = ["", " ", "abc", "x1", "1x", " 1", "1 ", "0", "-1", "+1", "01", "1.0", "1e3",
           "99999999999", "2147483648", "1; SELECT 1", "1) OR (true", "\\x31", "١"]  # fmt: skip


@pytest.mark.parametrize("garbage", GARBAGE)
@pytest.mark.parametrize("role", ["policyholder", "adjuster"])
def test_garbage_setting_shows_no_rows_and_no_error(
    demo: DemoDatabase, role: str, garbage: str
) -> None:
    sql = "SELECT " + ", ".join(f"(SELECT count(*) FROM {table})" for table in DEMO_TABLES)
    assert scoped(demo, getattr(demo, f"{role}_role"), garbage, sql) == [(0,) * len(DEMO_TABLES)]


def test_reader_sees_everything_outside_and_after_a_scoped_transaction(
    demo: DemoDatabase, holders: list[int]
) -> None:
    total = admin_fetch(demo, "SELECT count(*) FROM claims")[0][0]

    async def run() -> tuple[int, int, int, str]:
        conn = await asyncpg.connect(demo.reader_dsn)
        try:
            await conn.execute("BEGIN READ ONLY")
            await conn.execute(f"SET LOCAL ROLE {quote_ident(demo.policyholder_role)}")
            await conn.execute("SELECT set_config($1, $2, true)", USER_ID_SETTING, str(holders[0]))
            inside = await conn.fetchval("SELECT count(*) FROM claims")
            await conn.execute("ROLLBACK")
            after = await conn.fetchval("SELECT count(*) FROM claims")
            # The setting alone does not scope the reader.
            await conn.execute("BEGIN READ ONLY")
            await conn.execute("SELECT set_config($1, $2, true)", USER_ID_SETTING, str(holders[0]))
            with_setting = await conn.fetchval("SELECT count(*) FROM claims")
            await conn.execute("ROLLBACK")
            return inside, after, with_setting, await conn.fetchval("SELECT current_user")
        finally:
            await conn.close()

    inside, after, with_setting, user = asyncio.run(run())
    assert 0 < inside < total
    assert after == with_setting == total == TEST_CLAIMS
    assert user == TEST_READER


@pytest.mark.parametrize("role", ["policyholder", "adjuster"])
def test_scoped_roles_pass_the_role_inspection(demo: DemoDatabase, role: str) -> None:
    name = getattr(demo, f"{role}_role")

    async def run() -> Any:
        conn = await asyncpg.connect(demo.reader_dsn)
        try:
            await conn.execute("BEGIN READ ONLY")
            await conn.execute(f"SET LOCAL ROLE {quote_ident(name)}")
            report = await inspect_role(conn)
            await conn.execute("ROLLBACK")
            return report
        finally:
            await conn.close()

    report = asyncio.run(run())
    assert (report.role, report.database) == (name, TEST_DATABASE)
    assert report.safe, report.render()
    assert report.findings == []


@pytest.mark.parametrize("role", ["policyholder", "adjuster"])
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE claims SET status = 'paid'",
        "DELETE FROM payments",
        "INSERT INTO adjusters VALUES (99, 'A B', 'a.b@claims.example.com', 'west')",
        "CREATE TEMP TABLE notes (note text)",
        "CREATE TABLE public.notes (note text)",
        "SET ROLE postgres",
    ],
)
def test_scoped_roles_cannot_write_even_read_write(
    demo: DemoDatabase, role: str, statement: str
) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(demo.reader_dsn)
        try:
            await conn.execute("BEGIN READ WRITE")
            await conn.execute(f"SET LOCAL ROLE {quote_ident(getattr(demo, f'{role}_role'))}")
            await conn.execute(statement)
        finally:
            await conn.close()

    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        asyncio.run(run())


def _plan_nodes(plan: dict[str, Any]) -> list[str]:
    nodes = [f"{plan['Node Type']} {plan.get('Relation Name', '')}".strip()]
    for child in plan.get("Plans", []):
        nodes += _plan_nodes(child)
    return nodes


@pytest.mark.parametrize(
    ("role", "sql"),
    [
        ("policyholder", "SELECT * FROM claims"),
        ("policyholder", "SELECT * FROM claim_events"),
        ("policyholder", "SELECT * FROM claims WHERE claim_number = 'CLM-0000001'"),
        ("adjuster", "SELECT * FROM claims WHERE claim_id = 1"),
        ("adjuster", "SELECT * FROM payments"),
    ],
)
def test_scoped_queries_use_indexes(
    demo: DemoDatabase, holders: list[int], adjuster: int, role: str, sql: str
) -> None:
    user_id = str(holders[0] if role == "policyholder" else adjuster)
    (plan,) = scoped(demo, getattr(demo, f"{role}_role"), user_id, "EXPLAIN (FORMAT JSON) " + sql)
    nodes = _plan_nodes(json.loads(plan)[0]["Plan"])
    assert not [node for node in nodes if node.startswith("Seq Scan")], nodes


def test_ensure_demo_keeps_or_restores_the_policies(pg_admin_dsn: str, demo: DemoDatabase) -> None:
    policies = "SELECT oid, polrelid::regclass::text, polname FROM pg_policy ORDER BY 1"
    before = admin_fetch(demo, policies)

    def ensure() -> DemoDatabase:
        return asyncio.run(
            ensure_demo(
                pg_admin_dsn, database=TEST_DATABASE, reader_role=TEST_READER, claims=TEST_CLAIMS
            )
        )

    try:
        assert replace(ensure(), created=demo.created) == demo
        assert admin_fetch(demo, policies) == before  # untouched: no DDL, no table locks
        admin_fetch(demo, "DROP POLICY policyholder_own_claims ON claims")
        admin_fetch(demo, "ALTER TABLE payments DISABLE ROW LEVEL SECURITY")
    finally:
        assert replace(ensure(), created=demo.created) == demo
    after = admin_fetch(demo, policies)
    assert sorted(row[1:] for row in after) == sorted(row[1:] for row in before)
    assert admin_fetch(
        demo, "SELECT relrowsecurity FROM pg_class WHERE oid = 'payments'::regclass"
    )[0][0]


def test_scoped_role_names_can_be_given(pg_admin_dsn: str) -> None:
    database, reader = "test_demo_rls_named", "test_rls_reader"
    names = ("test_rls_holder", "test_rls_adjuster")

    async def run() -> tuple[DemoDatabase, list[Any]]:
        named = await ensure_demo(
            pg_admin_dsn,
            database=database,
            reader_role=reader,
            policyholder_role=names[0],
            adjuster_role=names[1],
            claims=400,
        )
        holder = await _scoped(named, names[0], "1", "SELECT count(*) FROM policyholders")
        everyone = await _scoped(named, None, None, "SELECT count(*) FROM policyholders")
        return named, [holder[0][0], everyone[0][0]]

    async def drop() -> None:
        conn = await asyncpg.connect(pg_admin_dsn)
        try:
            await conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
            for role in (*names, reader):
                await conn.execute(f"DROP ROLE IF EXISTS {role}")
        finally:
            await conn.close()

    try:
        named, counts = asyncio.run(run())
        assert (named.policyholder_role, named.adjuster_role) == names
        assert counts == [1, 100]
    finally:
        asyncio.run(drop())


@pytest.mark.parametrize(
    ("policyholder", "adjuster"),
    [("r", None), (None, "r"), ("same", "same"), ("x" * 64, None)],
)
def test_scoped_roles_must_be_distinct_valid_names(
    policyholder: str | None, adjuster: str | None
) -> None:
    with pytest.raises(ValueError, match=r"PostgreSQL name|three different roles"):
        asyncio.run(
            ensure_demo(
                "postgresql://unused/postgres",
                reader_role="r",
                policyholder_role=policyholder,
                adjuster_role=adjuster,
            )
        )
