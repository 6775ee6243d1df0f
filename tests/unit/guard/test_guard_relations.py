"""relations.py alone and through check_sql: system relations, CTE scope, policy options."""

from __future__ import annotations

import pytest
from sqlglot import exp

from sqlgateway.errors import RejectedError
from sqlgateway.guard import GuardPolicy, check_sql
from sqlgateway.guard.parse import parse_tokens, screen_tokens, tokenize
from sqlgateway.guard.relations import CteScopes, check_relation, is_cte_reference


def tables_of(sql: str, policy: GuardPolicy | None = None) -> tuple[str, ...]:
    return check_sql(sql, policy or GuardPolicy()).tables


def refused(sql: str, policy: GuardPolicy | None = None) -> RejectedError:
    with pytest.raises(RejectedError) as caught:
        check_sql(sql, policy or GuardPolicy())
    return caught.value


@pytest.mark.parametrize(
    ("sql", "tables"),
    [
        ("SELECT * FROM claims", ("claims",)),
        ("SELECT * FROM public.claims", ("public.claims",)),
        (
            "SELECT * FROM Public.Claims c JOIN payments p USING (claim_id)",
            ("payments", "public.claims"),
        ),
        ('SELECT * FROM "Claims"', ("claims",)),
        ("SELECT * FROM claims a, claims b", ("claims",)),
        ("SELECT * FROM public.pg_authid", ("public.pg_authid",)),
        ("SELECT * FROM sales.orders", ("sales.orders",)),
        ("WITH c AS (SELECT * FROM claims) SELECT * FROM c, payments", ("claims", "payments")),
        ("SELECT (SELECT max(amount) FROM payments) FROM claims", ("claims", "payments")),
        ("SELECT * FROM generate_series(1, 2)", ()),
        ("VALUES (1)", ()),
    ],
)
def test_tables_read(sql: str, tables: tuple[str, ...]) -> None:
    assert tables_of(sql) == tables


@pytest.mark.parametrize(
    ("sql", "construct"),
    [
        ("SELECT * FROM pg_authid", "relation pg_authid"),
        ("SELECT * FROM PG_AUTHID", "relation pg_authid"),
        ('SELECT * FROM "PG_AUTHID"', "relation pg_authid"),
        ("SELECT * FROM pg_catalog.pg_class", "relation pg_catalog.pg_class"),
        ("SELECT * FROM information_schema.tables", "relation information_schema.tables"),
        ("SELECT * FROM pg_toast.pg_toast_1", "relation pg_toast.pg_toast_1"),
        ("SELECT * FROM pg_temp.t", "relation pg_temp.t"),
        ("SELECT * FROM pg_temp_7.t", "relation pg_temp_7.t"),
        ("SELECT * FROM pg_toast_temp_7.t", "relation pg_toast_temp_7.t"),
        ("SELECT * FROM pg_anything.t", "relation pg_anything.t"),
        ("SELECT * FROM otherdb.public.claims", "relation otherdb.public.claims"),
        ("SELECT * FROM a.b.c.d", "relation a.b.c.d"),
    ],
)
def test_system_and_cross_database_relations_are_refused(sql: str, construct: str) -> None:
    error = refused(sql)
    assert error.construct == construct
    assert error.hint


@pytest.mark.parametrize(
    "sql",
    [
        # a CTE named like a catalog is the CTE
        "WITH pg_authid AS (SELECT 1 AS x) SELECT * FROM pg_authid",
        # the outer CTE is visible in nested subqueries
        "WITH pg_x AS (SELECT 1 AS x) SELECT * FROM (SELECT * FROM pg_x) s",
        "WITH pg_x AS (SELECT 1 AS x) SELECT 1 WHERE EXISTS (SELECT * FROM pg_x)",
        # a later CTE sees the earlier ones
        "WITH pg_a AS (SELECT 1 AS x), b AS (SELECT * FROM pg_a) SELECT * FROM b",
        # with RECURSIVE a CTE sees itself and its later siblings
        "WITH RECURSIVE pg_r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM pg_r WHERE n < 3) "
        "SELECT * FROM pg_r",
        "WITH RECURSIVE a AS (SELECT * FROM pg_b), pg_b AS (SELECT 1 AS x) SELECT * FROM a",
        # CTEs of a set operation are visible in both branches
        "WITH pg_x AS (SELECT 1 AS x) SELECT * FROM pg_x UNION SELECT * FROM pg_x",
        # a CTE nested inside a CTE body
        "WITH a AS (WITH pg_b AS (SELECT 1 AS x) SELECT * FROM pg_b) SELECT * FROM a",
    ],
)
def test_cte_names_in_scope_are_not_relations(sql: str) -> None:
    assert tables_of(sql) == ()


@pytest.mark.parametrize(
    "sql",
    [
        # without RECURSIVE, a CTE body does not see itself: this reads the catalog
        "WITH pg_authid AS (SELECT * FROM pg_authid) SELECT * FROM pg_authid",
        # nor later siblings
        "WITH a AS (SELECT * FROM pg_b), pg_b AS (SELECT 1 AS x) SELECT * FROM a",
        # a CTE inside a subquery is not visible outside it
        "SELECT * FROM (WITH pg_authid AS (SELECT 1) SELECT * FROM pg_authid) s, pg_authid",
        "SELECT * FROM (WITH pg_x AS (SELECT 1) SELECT 1) s WHERE EXISTS (SELECT * FROM pg_x)",
        # a CTE of one branch is not visible in another query
        "(WITH pg_x AS (SELECT 1) SELECT * FROM pg_x) UNION (SELECT * FROM pg_x)",
        # quoted names fold differently: "PG_AUTHID" is not pg_authid
        'WITH "PG_AUTHID" AS (SELECT 1) SELECT * FROM pg_authid',
        # a qualified name never refers to a CTE
        "WITH pg_class AS (SELECT 1) SELECT * FROM pg_catalog.pg_class",
    ],
)
def test_relations_outside_cte_scope_are_checked(sql: str) -> None:
    assert refused(sql).construct.startswith("relation ")


def test_is_cte_reference_alone() -> None:
    sql = "WITH x AS (SELECT 1) SELECT * FROM x, y"
    tree = parse_tokens(screen_tokens(tokenize(sql), sql), sql)
    x, y = (table for table in tree.find_all(exp.Table) if table.name in ("x", "y"))
    assert is_cte_reference(x, "x", CteScopes())
    assert not is_cte_reference(y, "y", CteScopes())


def test_check_relation_alone() -> None:
    table = exp.to_table("public.claims")
    assert check_relation(table, GuardPolicy()) == "public.claims"
    with pytest.raises(RejectedError):
        check_relation(exp.to_table("pg_catalog.pg_proc"), GuardPolicy())


def test_allowed_system_relations() -> None:
    policy = GuardPolicy(
        allowed_system_relations=frozenset({"pg_catalog.pg_class", "information_schema.tables"})
    )
    assert tables_of("SELECT relname FROM pg_class", policy) == ("pg_class",)
    assert tables_of("SELECT * FROM pg_catalog.pg_class", policy) == ("pg_catalog.pg_class",)
    assert tables_of("SELECT * FROM information_schema.tables", policy) == (
        "information_schema.tables",
    )
    assert refused("SELECT * FROM pg_authid", policy).construct == "relation pg_authid"
    assert refused("SELECT * FROM information_schema.columns", policy)


def test_allowed_schemas() -> None:
    policy = GuardPolicy(allowed_schemas=frozenset({"public", "Sales"}))
    assert tables_of("SELECT * FROM claims", policy) == ("claims",)
    assert tables_of("SELECT * FROM sales.orders", policy) == ("sales.orders",)
    assert refused("SELECT * FROM hr.salaries", policy).construct == "relation hr.salaries"
    assert refused('SELECT * FROM "SALES".orders', policy)
    only_sales = GuardPolicy(allowed_schemas=frozenset({"sales"}))
    assert refused("SELECT * FROM claims", only_sales).construct == "relation claims"


def test_allowed_tables() -> None:
    policy = GuardPolicy(allowed_tables=frozenset({"public.claims", "public.payments"}))
    assert tables_of("SELECT * FROM claims JOIN public.payments USING (claim_id)", policy) == (
        "claims",
        "public.payments",
    )
    assert refused("SELECT * FROM policyholders", policy).construct == "relation policyholders"
    assert refused('SELECT * FROM "CLAIMS"', policy)
    assert refused("SELECT * FROM other.claims", policy)


def test_allowed_tables_and_schemas_combine() -> None:
    policy = GuardPolicy(
        allowed_schemas=frozenset({"public"}), allowed_tables=frozenset({"sales.orders"})
    )
    assert refused("SELECT * FROM sales.orders", policy)
    assert refused("SELECT * FROM claims", policy)


def test_cte_names_are_exempt_from_table_policy() -> None:
    policy = GuardPolicy(allowed_tables=frozenset({"public.claims"}))
    verdict = check_sql("WITH recent AS (SELECT * FROM claims) SELECT * FROM recent", policy)
    assert verdict.tables == ("claims",)
