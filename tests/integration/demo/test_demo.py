"""The demo database and its reader role (sqlgateway.demo.database) on a real PostgreSQL.

Needs the session fixture `pg_admin_dsn`: a superuser DSN to the `postgres` database. The tests
use their own database and role names, so they never disturb a `claims_demo` of other tests.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any

import asyncpg
import pytest
import yaml
from conftest import ROOT, execute_sql, fetch_sql

from sqlgateway.demo.database import (
    DEMO_TABLES,
    SCHEMA_VERSION,
    DemoDatabase,
    DemoError,
    derive_dsn,
    ensure_demo,
)

CLAIMS = 20_000
SMALL_CLAIMS = 2_000
ROLE = "test_demo_reader"
SCHEMA_DOCS = ROOT / "schema_docs" / "claims.yaml"


def value(dsn: str, sql: str, *args: Any) -> Any:
    return fetch_sql(dsn, sql, *args)[0][0]


def ensure(pg_admin_dsn: str, database: str, claims: int, **kwargs: Any) -> DemoDatabase:
    return asyncio.run(
        ensure_demo(pg_admin_dsn, database=database, claims=claims, reader_role=ROLE, **kwargs)
    )


def fresh(pg_admin_dsn: str, database: str, claims: int) -> DemoDatabase:
    execute_sql(pg_admin_dsn, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    demo = ensure(pg_admin_dsn, database, claims)
    assert demo.created
    return demo


@pytest.fixture(scope="module")
def demo_db(pg_admin_dsn: str) -> DemoDatabase:
    return ensure(pg_admin_dsn, "test_demo", CLAIMS)


def test_has_the_requested_size(demo_db: DemoDatabase) -> None:
    counts = {
        table: value(demo_db.admin_dsn, f"SELECT count(*) FROM {table}") for table in DEMO_TABLES
    }
    paid = value(
        demo_db.admin_dsn, "SELECT count(*) FROM claim_events WHERE event_type = 'payment_issued'"
    )
    assert counts["claims"] == CLAIMS
    assert counts["policyholders"] == CLAIMS // 4
    assert counts["policies"] == CLAIMS // 2
    assert counts["adjusters"] == 50
    assert 3 * CLAIMS < counts["claim_events"] < 6 * CLAIMS
    assert counts["payments"] == paid > CLAIMS // 2
    meta = fetch_sql(demo_db.admin_dsn, "SELECT schema_version, claims FROM sqlgateway_meta.demo")
    assert [tuple(row) for row in meta] == [(SCHEMA_VERSION, CLAIMS)]


def test_second_ensure_is_a_fast_no_op(pg_admin_dsn: str, demo_db: DemoDatabase) -> None:
    created_at = value(demo_db.admin_dsn, "SELECT created_at FROM sqlgateway_meta.demo")
    started = time.perf_counter()
    again = ensure(pg_admin_dsn, "test_demo", CLAIMS)
    elapsed_s = time.perf_counter() - started
    assert again == replace(demo_db, created=False)
    assert elapsed_s < 2
    assert value(demo_db.admin_dsn, "SELECT created_at FROM sqlgateway_meta.demo") == created_at


# md5 of each table's rows at SMALL_CLAIMS, the same on PostgreSQL 15 and 18. A change to the
# generator changes them: update them together with sqlgateway.demo.database.SCHEMA_VERSION.
SMALL_CHECKSUMS = {
    "policyholders": "a6ea35d37452ffb064bea5624f5901f6",
    "adjusters": "dde0ca68bdedcd976177241d51e04bbc",
    "policies": "b7bd0178e7fd638bcbb4ab9e152ec2bb",
    "claims": "c4ec24c281b22cd21a0d873ae67e0b4f",
    "claim_events": "eed34296a75d3c938a4b412517a7b350",
    "payments": "e0fce66c2106c86fc3f507365c7bceb2",
}


def test_rows_are_deterministic(pg_admin_dsn: str) -> None:
    checksums = []
    for database in ("test_demo_det_a", "test_demo_det_b"):
        scratch = fresh(pg_admin_dsn, database, SMALL_CLAIMS)
        checksums.append(
            {
                table: value(
                    scratch.admin_dsn,
                    f"SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {table} t",
                )
                for table in DEMO_TABLES
            }
        )
        execute_sql(pg_admin_dsn, f"DROP DATABASE {database} WITH (FORCE)")
    assert checksums[0] == checksums[1] == SMALL_CHECKSUMS


def test_incomplete_or_resized_database_is_recreated(pg_admin_dsn: str) -> None:
    scratch = fresh(pg_admin_dsn, "test_demo_half", SMALL_CLAIMS)
    execute_sql(scratch.admin_dsn, "DELETE FROM sqlgateway_meta.demo")  # as if the load had failed
    assert ensure(pg_admin_dsn, "test_demo_half", SMALL_CLAIMS).created
    resized = ensure(pg_admin_dsn, "test_demo_half", SMALL_CLAIMS + 4)
    assert resized.created
    assert value(resized.admin_dsn, "SELECT count(*) FROM claims") == SMALL_CLAIMS + 4
    execute_sql(pg_admin_dsn, "DROP DATABASE test_demo_half WITH (FORCE)")


def test_refuses_to_replace_a_foreign_database(pg_admin_dsn: str) -> None:
    execute_sql(
        pg_admin_dsn,
        "DROP DATABASE IF EXISTS test_demo_foreign WITH (FORCE)",
        "CREATE DATABASE test_demo_foreign",
    )
    try:
        with pytest.raises(DemoError, match="not a sqlgateway demo database"):
            ensure(pg_admin_dsn, "test_demo_foreign", SMALL_CLAIMS)
        assert (
            value(
                pg_admin_dsn,
                "SELECT count(*) FROM pg_database WHERE datname = $1",
                "test_demo_foreign",
            )
            == 1
        )
    finally:
        execute_sql(pg_admin_dsn, "DROP DATABASE test_demo_foreign WITH (FORCE)")


@pytest.mark.parametrize("table", DEMO_TABLES)
def test_reader_selects_every_demo_table(demo_db: DemoDatabase, table: str) -> None:
    assert value(demo_db.reader_dsn, f"SELECT count(*) > 0 FROM {table}") is True


REFUSED = [
    "INSERT INTO adjusters VALUES (51, 'Ann Lee', 'ann.lee51@claims.example.com', 'west')",
    "UPDATE claims SET status = 'paid' WHERE claim_id = 1",
    "DELETE FROM payments",
    "TRUNCATE claim_events",
    "CREATE TABLE notes (note text)",
    "CREATE TEMP TABLE notes (note text)",
    "CREATE VIEW open_claims AS SELECT 1",
    "SELECT lo_from_bytea(0, 'x'::bytea)",
    "SELECT lo_create(0)",
    "SELECT pg_advisory_lock(1)",
    "SELECT pg_notify('channel', 'payload')",
    "SELECT pg_terminate_backend(pg_backend_pid())",
    "SELECT query_to_xml('SELECT 1', true, true, '')",
    "SELECT * FROM sqlgateway_meta.demo",
]


@pytest.mark.parametrize("statement", REFUSED)
def test_reader_is_refused_by_default(demo_db: DemoDatabase, statement: str) -> None:
    with pytest.raises(asyncpg.PostgresError):
        execute_sql(demo_db.reader_dsn, statement)
    assert_unchanged(demo_db)


@pytest.mark.parametrize("statement", REFUSED)
def test_reader_lacks_the_privilege_even_read_write(demo_db: DemoDatabase, statement: str) -> None:
    # The reader can turn its read-only default off; privileges must still refuse everything.
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        execute_sql(demo_db.reader_dsn, "SET default_transaction_read_only = off", statement)
    assert_unchanged(demo_db)


def assert_unchanged(demo_db: DemoDatabase) -> None:
    counts = fetch_sql(
        demo_db.admin_dsn,
        "SELECT (SELECT count(*) FROM adjusters), (SELECT count(*) FROM claim_events),"
        " (SELECT count(*) FROM pg_largeobject_metadata),"
        " (SELECT count(*) FROM pg_class WHERE relname IN ('notes', 'open_claims')),"
        " (SELECT status FROM claims WHERE claim_id = 1) <> 'paid'",
    )[0]
    assert counts[0] == 50
    assert counts[1] > 0
    assert tuple(counts)[2:] == (0, 0, True)


def test_reader_sessions_are_read_only_and_time_limited(demo_db: DemoDatabase) -> None:
    settings = fetch_sql(
        demo_db.reader_dsn,
        "SELECT name, setting, unit FROM pg_settings WHERE name IN"
        " ('default_transaction_read_only', 'statement_timeout',"
        " 'idle_in_transaction_session_timeout', 'temp_file_limit')",
    )
    assert {row["name"]: (row["setting"], row["unit"]) for row in settings} == {
        "default_transaction_read_only": ("on", None),
        "statement_timeout": ("30000", "ms"),
        "idle_in_transaction_session_timeout": ("60000", "ms"),
        "temp_file_limit": ("1048576", "kB"),
    }


def test_reader_role_has_least_privilege(demo_db: DemoDatabase) -> None:
    role = fetch_sql(
        demo_db.admin_dsn,
        "SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls,"
        " (SELECT count(*) FROM pg_auth_members WHERE member = r.oid) AS memberships,"
        " (SELECT count(*) FROM pg_shdepend WHERE refobjid = r.oid AND deptype = 'o') AS owned,"
        " has_database_privilege(r.oid, current_database(), 'CONNECT') AS can_connect,"
        " has_database_privilege(r.oid, current_database(), 'TEMPORARY') AS can_temp,"
        " has_database_privilege(r.oid, current_database(), 'CREATE') AS can_create_schema,"
        " has_schema_privilege(r.oid, 'public', 'CREATE') AS can_create_table,"
        " has_schema_privilege(r.oid, 'sqlgateway_meta', 'USAGE') AS sees_meta"
        " FROM pg_roles AS r WHERE rolname = $1",
        ROLE,
    )[0]
    assert dict(role) == {
        "rolcanlogin": True,
        "rolsuper": False,
        "rolcreatedb": False,
        "rolcreaterole": False,
        "rolreplication": False,
        "rolbypassrls": False,
        "memberships": 2,  # the scoped roles, reached by SET ROLE (test_demo_rls.py)
        "owned": 0,
        "can_connect": True,
        "can_temp": False,
        "can_create_schema": False,
        "can_create_table": False,
        "sees_meta": False,
    }
    grants = fetch_sql(
        demo_db.admin_dsn,
        "SELECT table_schema, table_name, privilege_type FROM information_schema.table_privileges"
        " WHERE grantee = $1",
        ROLE,
    )
    assert sorted(tuple(row) for row in grants) == sorted(
        ("public", table, "SELECT") for table in DEMO_TABLES
    )


def test_existing_role_is_brought_back_to_least_privilege(
    pg_admin_dsn: str, demo_db: DemoDatabase
) -> None:
    execute_sql(
        pg_admin_dsn,
        "DROP ROLE IF EXISTS test_demo_extra",
        "CREATE ROLE test_demo_extra",
        f"GRANT test_demo_extra TO {ROLE}",
        f"ALTER ROLE {ROLE} CREATEDB",
        f"ALTER ROLE {ROLE} SET default_transaction_read_only = off",
        f"ALTER ROLE {ROLE} IN DATABASE test_demo SET statement_timeout = 0",
    )
    try:
        assert not ensure(pg_admin_dsn, "test_demo", CLAIMS).created
        role = fetch_sql(
            pg_admin_dsn,
            "SELECT rolcreatedb, (SELECT count(*) FROM pg_auth_members WHERE member = r.oid)"
            " FROM pg_roles AS r WHERE rolname = $1",
            ROLE,
        )[0]
        assert tuple(role) == (False, 2)  # the scoped roles only
        assert value(demo_db.reader_dsn, "SHOW default_transaction_read_only") == "on"
        assert value(demo_db.reader_dsn, "SHOW statement_timeout") == "30s"
    finally:
        execute_sql(pg_admin_dsn, "DROP ROLE test_demo_extra")


def test_reader_password_is_used_when_given(pg_admin_dsn: str, demo_db: DemoDatabase) -> None:
    try:
        given = ensure(pg_admin_dsn, "test_demo", CLAIMS, reader_password="s3cret:/@'x")
        assert given.reader_dsn == derive_dsn(
            pg_admin_dsn, database="test_demo", user=ROLE, password="s3cret:/@'x"
        )
        assert value(given.reader_dsn, "SELECT current_user") == ROLE
    finally:  # back to the password (if any) the module's reader_dsn carries
        assert ensure(pg_admin_dsn, "test_demo", CLAIMS).reader_dsn == demo_db.reader_dsn


@pytest.mark.parametrize(
    ("dsn", "kwargs", "expected"),
    [
        (
            "postgresql://postgres:@/postgres?host=/tmp/pg data&port=5432",
            {"database": "claims_demo"},
            "postgresql://postgres:@/claims_demo?host=/tmp/pg data&port=5432",
        ),
        (
            "postgresql://admin:pw@db.example:6543/postgres?sslmode=require",
            {"database": "claims demo", "user": "reader", "password": "p@ss:w/rd"},
            "postgresql://reader:p%40ss%3Aw%2Frd@db.example:6543/claims%20demo?sslmode=require",
        ),
        (
            "postgres://h1:5432,h2:5433/?dbname=postgres&user=admin&password=pw&sslmode=prefer",
            {"database": "claims_demo", "user": "reader"},
            "postgres://reader@h1:5432,h2:5433/claims_demo?sslmode=prefer",
        ),
        (
            "postgresql:///postgres?host=/run/postgresql",
            {"database": "claims_demo", "user": "reader"},
            "postgresql://reader@/claims_demo?host=/run/postgresql",
        ),
    ],
)
def test_derive_dsn(dsn: str, kwargs: dict[str, str], expected: str) -> None:
    assert derive_dsn(dsn, **kwargs) == expected


def test_foreign_keys_have_no_orphans(demo_db: DemoDatabase) -> None:
    foreign_keys = value(
        demo_db.admin_dsn,
        "SELECT count(*) FROM pg_constraint"
        " WHERE contype = 'f' AND connamespace = 'public'::regnamespace",
    )
    orphans = fetch_sql(
        demo_db.admin_dsn,
        "SELECT"
        " (SELECT count(*) FROM policies p LEFT JOIN policyholders h USING (policyholder_id)"
        "  WHERE h.policyholder_id IS NULL),"
        " (SELECT count(*) FROM claims c LEFT JOIN policies p USING (policy_id)"
        "  WHERE p.policy_id IS NULL),"
        " (SELECT count(*) FROM claims c LEFT JOIN adjusters a USING (adjuster_id)"
        "  WHERE c.adjuster_id IS NOT NULL AND a.adjuster_id IS NULL),"
        " (SELECT count(*) FROM claim_events e LEFT JOIN claims c USING (claim_id)"
        "  WHERE c.claim_id IS NULL),"
        " (SELECT count(*) FROM payments y LEFT JOIN claims c USING (claim_id)"
        "  WHERE c.claim_id IS NULL),"
        " (SELECT count(*) FROM policyholders h WHERE NOT EXISTS"
        "  (SELECT FROM policies p WHERE p.policyholder_id = h.policyholder_id))",
    )[0]
    assert foreign_keys == 5
    assert tuple(orphans) == (0, 0, 0, 0, 0, 0)


# Each query counts claims that break one rule of the claim life cycle.
LIFE_CYCLE_VIOLATIONS = {
    "closed_at set iff denied, paid or closed": """
        SELECT count(*) FROM claims
        WHERE (closed_at IS NOT NULL) <> (status IN ('denied', 'paid', 'closed'))""",
    "adjuster set iff not submitted": """
        SELECT count(*) FROM claims WHERE (adjuster_id IS NULL) <> (status = 'submitted')""",
    "one payment for paid and reopened claims": """
        SELECT count(*) FROM claims c
        WHERE status IN ('paid', 'reopened')
          AND (SELECT count(*) FROM payments p WHERE p.claim_id = c.claim_id) <> 1""",
    "no payment before payment": """
        SELECT count(*) FROM claims c JOIN payments p USING (claim_id)
        WHERE c.status IN ('submitted', 'under_review', 'approved', 'denied')""",
    "closed claims paid iff approved": """
        SELECT count(*) FROM claims c
        WHERE status = 'closed'
          AND (amount_approved IS NOT NULL)
              <> EXISTS (SELECT FROM payments p WHERE p.claim_id = c.claim_id)""",
    "amount_approved set iff approved": """
        SELECT count(*) FROM claims c
        WHERE (amount_approved IS NOT NULL)
              <> (status IN ('approved', 'paid', 'reopened')
                  OR status = 'closed'
                     AND EXISTS (SELECT FROM payments p WHERE p.claim_id = c.claim_id))""",
    "payment amount is the approved amount": """
        SELECT count(*) FROM claims c JOIN payments p USING (claim_id)
        WHERE p.amount <> c.amount_approved OR p.paid_at < c.reported_at""",
    "2 to 6 events": """
        SELECT count(*) FROM claims c
        WHERE (SELECT count(*) FROM claim_events e WHERE e.claim_id = c.claim_id)
              NOT BETWEEN 2 AND 6""",
    "first event is the submission": """
        SELECT count(*) FROM claims c
        CROSS JOIN LATERAL (SELECT event_type, created_at FROM claim_events e
                            WHERE e.claim_id = c.claim_id ORDER BY event_id LIMIT 1) AS first
        WHERE first.event_type <> 'submitted' OR first.created_at <> c.reported_at""",
    "events in time order": """
        SELECT count(*) FROM claim_events e JOIN claim_events f
          ON f.claim_id = e.claim_id AND f.event_id = e.event_id + 1
        WHERE f.created_at < e.created_at""",
    "latest event matches the status": """
        SELECT count(*) FROM claims c
        CROSS JOIN LATERAL (SELECT event_type FROM claim_events e WHERE e.claim_id = c.claim_id
                            ORDER BY event_id DESC LIMIT 1) AS last
        WHERE c.status::text <> CASE last.event_type
            WHEN 'acknowledged' THEN 'submitted' WHEN 'review_started' THEN 'under_review'
            WHEN 'info_requested' THEN 'under_review' WHEN 'payment_issued' THEN 'paid'
            ELSE last.event_type END""",
    "death claims only, at most one, on life policies": """
        SELECT count(*) FROM claims c JOIN policies p USING (policy_id)
        WHERE (p.product = 'life') <> (c.loss_type = 'death')
           OR p.product = 'life'
              AND EXISTS (SELECT FROM claims d WHERE d.policy_id = c.policy_id
                          AND d.claim_id <> c.claim_id)""",
    "reported within the policy term": """
        SELECT count(*) FROM claims c JOIN policies p USING (policy_id)
        WHERE c.reported_at < p.start_date OR c.reported_at >= p.end_date + 1""",
    "nothing after the snapshot": """
        SELECT count(*) FROM claim_events WHERE created_at > '2026-06-30 23:59:59+00'""",
    "adjuster works in the policyholder's region": """
        SELECT count(DISTINCT h.state) - count(DISTINCT (h.state, a.region)) FROM claims c
        JOIN policies p USING (policy_id) JOIN policyholders h USING (policyholder_id)
        JOIN adjusters a USING (adjuster_id)""",
}


@pytest.mark.parametrize("rule", LIFE_CYCLE_VIOLATIONS)
def test_claims_follow_the_life_cycle(demo_db: DemoDatabase, rule: str) -> None:
    assert value(demo_db.admin_dsn, LIFE_CYCLE_VIOLATIONS[rule]) == 0


def test_every_status_occurs(demo_db: DemoDatabase) -> None:
    statuses = fetch_sql(
        demo_db.admin_dsn,
        "SELECT s FROM unnest(enum_range(NULL::claim_status)) AS s"
        " WHERE NOT EXISTS (SELECT FROM claims WHERE status = s)",
    )
    assert statuses == []


def test_every_table_and_column_has_a_comment(demo_db: DemoDatabase) -> None:
    undocumented = fetch_sql(
        demo_db.admin_dsn,
        "SELECT c.relname, a.attname FROM pg_class c"
        " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
        " WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'"
        " AND (obj_description(c.oid, 'pg_class') IS NULL"
        " OR col_description(c.oid, a.attnum) IS NULL)",
    )
    assert undocumented == []


def test_schema_docs_describe_exactly_the_demo_columns(demo_db: DemoDatabase) -> None:
    docs = yaml.safe_load(SCHEMA_DOCS.read_text())
    documented = {
        (table["name"], column["name"]) for table in docs["tables"] for column in table["columns"]
    }
    columns = fetch_sql(
        demo_db.admin_dsn,
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_schema = 'public'",
    )
    assert documented == {tuple(row) for row in columns}


def schema_docs_examples() -> list[dict[str, str]]:
    examples: list[dict[str, str]] = yaml.safe_load(SCHEMA_DOCS.read_text())["examples"]
    return examples


@pytest.mark.parametrize(
    "example", schema_docs_examples(), ids=lambda example: example["question"][:40]
)
def test_schema_docs_examples_run_as_the_reader(
    demo_db: DemoDatabase, example: dict[str, str]
) -> None:
    assert fetch_sql(demo_db.reader_dsn, example["sql"]) != []
