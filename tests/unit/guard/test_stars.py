"""* over a table with sensitive columns is written out without them, in the checked tree."""

from __future__ import annotations

import pytest

from sqlgateway.errors import RejectedError
from sqlgateway.guard import GuardPolicy, check_sql
from sqlgateway.guard.policy import StarColumns
from sqlgateway.guard.sensitive import check_sensitive

HOLDERS = StarColumns("public.policyholders", ("policyholder_id", "full_name", "city"), ("email",))
POLICY = GuardPolicy(star_columns=(HOLDERS,))
COLUMNS = {
    "public.policyholders": ["policyholder_id", "full_name", "email", "city"],
    "public.policies": ["policy_id", "policyholder_id", "product"],
}
SENSITIVE = {"public.policyholders.email"}


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        (
            "SELECT * FROM policyholders",
            'SELECT "policyholders"."policyholder_id", "policyholders"."full_name", '
            '"policyholders"."city" FROM policyholders',
        ),
        (
            "SELECT h.*, 1 AS one FROM policyholders AS h",
            'SELECT "h"."policyholder_id", "h"."full_name", "h"."city", 1 AS one '
            "FROM policyholders AS h",
        ),
        (
            "SELECT * FROM policies AS p JOIN policyholders AS h USING (policyholder_id)",
            'SELECT "p".*, "h"."full_name", "h"."city" FROM policies AS p JOIN policyholders '
            "AS h USING (policyholder_id)",
        ),
        (
            "TABLE public.policyholders",
            'SELECT "policyholders"."policyholder_id", "policyholders"."full_name", '
            '"policyholders"."city" FROM public.policyholders',
        ),
    ],
)
def test_stars_are_written_out(sql: str, expected: str) -> None:
    verdict = check_sql(sql, POLICY)
    assert verdict.sql == expected
    assert verdict.omitted == ("policyholders.email",) and verdict.stars
    check_sensitive(verdict.sql, COLUMNS, SENSITIVE)  # what runs reads no sensitive column


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM (SELECT * FROM policyholders) AS s",
        "WITH x AS (SELECT * FROM policyholders) SELECT * FROM x",
        "SELECT * FROM policyholders WHERE policyholder_id IN (SELECT policyholder_id FROM policies)",
    ],
)
def test_stars_in_subqueries_and_ctes_are_written_out(sql: str) -> None:
    verdict = check_sql(sql, POLICY)
    assert "email" not in verdict.sql and verdict.omitted
    check_sensitive(verdict.sql, COLUMNS, SENSITIVE)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM policies",  # no sensitive column
        "SELECT p.* FROM policies AS p JOIN policyholders AS h USING (policyholder_id)",
        "SELECT count(*) FROM policyholders",
        "WITH policyholders AS (SELECT 1 AS x) SELECT * FROM policyholders",  # a CTE
    ],
)
def test_other_stars_stay(sql: str) -> None:
    verdict = check_sql(sql, POLICY)
    assert verdict.omitted == () and verdict.sql == check_sql(sql, GuardPolicy()).sql


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM policies NATURAL JOIN policyholders",  # * merges same-named columns
        "SELECT * FROM policyholders AS h(a, b, c)",  # the aliases rename by position
        "SELECT *, email FROM policyholders",
        "SELECT * FROM policyholders ORDER BY email",
        "SELECT to_jsonb(h.*) FROM policyholders AS h",
    ],
)
def test_what_cannot_be_written_out_faithfully_is_still_refused(sql: str) -> None:
    verdict = check_sql(sql, POLICY)
    with pytest.raises(RejectedError) as refused:
        check_sensitive(verdict.sql, COLUMNS, SENSITIVE)
    assert refused.value.construct == "sensitive column"


def test_without_star_columns_nothing_changes() -> None:
    assert check_sql("SELECT * FROM policyholders", GuardPolicy()).sql == (
        "SELECT * FROM policyholders"
    )


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * EXCEPT (city) FROM policyholders",  # written out, it dropped the EXCEPT
        "SELECT h.* EXCEPT (city) FROM policyholders AS h",
        "SELECT * EXCLUDE (product) FROM policies",
        "SELECT * REPLACE (1 AS product) FROM policies",
    ],
)
def test_other_dialects_star_modifiers_are_refused(sql: str) -> None:
    for policy in (POLICY, GuardPolicy()):
        with pytest.raises(RejectedError) as refused:
            check_sql(sql, policy)
        assert refused.value.construct == "star modifier"
