"""The sensitive-column check: refused wherever referenced, allowed when left out."""

from __future__ import annotations

import pytest

from sqlgateway.errors import RejectedError
from sqlgateway.guard.sensitive import check_sensitive, reads_sensitive_table

COLUMNS = {
    "public.policyholders": ["policyholder_id", "full_name", "email", "date_of_birth", "city"],
    "public.policies": ["policy_id", "policyholder_id", "product"],
    "adjusters": ["adjuster_id", "full_name", "email"],
}
SENSITIVE = {"public.policyholders.email"}

REFUSED = [
    "SELECT email FROM policyholders",
    "SELECT EMAIL FROM policyholders",
    'SELECT "email" FROM policyholders',
    "SELECT h.email FROM policyholders h",
    "SELECT public.policyholders.email FROM public.policyholders",
    "SELECT * FROM policyholders",
    "SELECT h.* FROM policyholders h",
    "SELECT * FROM policies NATURAL JOIN policyholders",
    "SELECT * FROM policies p JOIN policyholders h USING (policyholder_id)",
    "TABLE policyholders",
    "SELECT full_name FROM policyholders WHERE email LIKE 'a%'",
    "SELECT 1 FROM policyholders ORDER BY email",
    "SELECT full_name FROM policyholders GROUP BY 1 HAVING count(email) > 1",
    "SELECT count(DISTINCT email) FROM policyholders",
    "SELECT (SELECT max(email) FROM policyholders)",
    "SELECT x.e FROM (SELECT email AS e FROM policyholders) x",
    "WITH x AS (SELECT * FROM policyholders) SELECT full_name FROM x",
    "WITH x AS (SELECT email FROM policyholders) SELECT count(*) FROM x",
    "SELECT full_name FROM policyholders UNION SELECT email FROM policyholders",
    "SELECT p.policy_id FROM policies p WHERE EXISTS "
    "(SELECT 1 FROM policyholders h WHERE h.policyholder_id = p.policyholder_id AND h.email <> '')",
    "SELECT h.full_name FROM policyholders h, LATERAL (SELECT h.email AS e) x",
    # whole-row references carry every column
    "SELECT h FROM policyholders h",
    "SELECT to_jsonb(policyholders) FROM policyholders",
    "SELECT row_to_json(h.*) FROM policyholders h",
    "SELECT (h).email FROM policyholders h",
    # column aliases rename by position: c is email
    "SELECT c FROM policyholders h(a, b, c)",
    "SELECT h.c FROM policyholders AS h(a, b, c)",
    "SELECT * FROM policyholders h(a, b, c)",
    "SELECT p.policy_id FROM policies p JOIN policyholders h(x, y, z) USING (x)",
    # a star the qualifier cannot expand (unknown relation next to it)
    "SELECT * FROM unknown_t, policyholders",
    # ORDER BY a table's name is its whole row, unless it is an output column's name alone
    "SELECT city FROM policyholders ORDER BY policyholders",
    "SELECT city, 1 AS policyholders FROM policyholders ORDER BY (policyholders)",
    "SELECT city, 1 AS policyholders FROM policyholders ORDER BY policyholders || ''",
    "SELECT city, 1 AS policyholders FROM policyholders GROUP BY policyholders",
    "SELECT policyholders AS policyholders FROM policyholders ORDER BY policyholders",
    "SELECT city, count(*) AS n FROM policyholders h GROUP BY city ORDER BY h",
]

ALLOWED = [
    "SELECT full_name, date_of_birth FROM policyholders",
    "SELECT count(*) FROM policyholders",
    "SELECT p.* FROM policies p JOIN policyholders h USING (policyholder_id)",
    "SELECT email FROM adjusters",
    "SELECT a.email FROM adjusters a JOIN policyholders h ON h.full_name = a.full_name",
    "SELECT email FROM adjusters UNION ALL SELECT full_name FROM policyholders",
    "WITH x AS (SELECT policyholder_id FROM policyholders) SELECT * FROM x",
    "SELECT * FROM policies",
    "SELECT 1",
    "SELECT full_nam FROM policyholders",  # unknown column: PostgreSQL reports it
    # an output column named like the table: ORDER BY reads the output column first
    "SELECT city, count(*) AS policyholders FROM policyholders GROUP BY city "
    "ORDER BY policyholders DESC LIMIT 10",
    "SELECT city, count(*) AS policyholders FROM policyholders GROUP BY city ORDER BY 2 DESC",
    "SELECT count(*) AS h FROM policyholders h ORDER BY h",
]


@pytest.mark.parametrize("sql", REFUSED)
def test_references_to_a_sensitive_column_are_refused(sql: str) -> None:
    with pytest.raises(RejectedError) as info:
        check_sensitive(sql, COLUMNS, SENSITIVE)
    assert info.value.construct == "sensitive column"
    assert "sensitive" in info.value.message and "policyholders" in (info.value.hint or "")


@pytest.mark.parametrize("sql", ALLOWED)
def test_queries_that_leave_them_out_pass(sql: str) -> None:
    check_sensitive(sql, COLUMNS, SENSITIVE)


def test_the_message_names_the_column() -> None:
    with pytest.raises(RejectedError, match=r"column policyholders\.email is sensitive"):
        check_sensitive("SELECT * FROM policyholders", COLUMNS, SENSITIVE)


def test_a_documented_column_missing_from_the_catalog_still_counts() -> None:
    with pytest.raises(RejectedError, match="ssn"):
        check_sensitive("SELECT ssn FROM policyholders", COLUMNS, {"policyholders.ssn"})


def test_unverifiable_queries_on_sensitive_tables_are_refused() -> None:
    # an unknown column makes qualification fail; a star next to it could hide email
    with pytest.raises(RejectedError, match="cannot verify"):
        check_sensitive("SELECT h.nope, h.* FROM policyholders h", COLUMNS, SENSITIVE)


def test_nothing_is_parsed_without_sensitive_columns() -> None:
    check_sensitive("this is not SQL", COLUMNS, set())


@pytest.mark.parametrize(
    ("tables", "expected"),
    [
        (("policyholders",), True),
        (("public.policyholders",), True),
        (("claims", "policies"), False),
        (("other.policyholders",), False),
        ((), False),
    ],
)
def test_which_statements_need_the_check(tables: tuple[str, ...], expected: bool) -> None:
    assert reads_sensitive_table(tables, SENSITIVE) is expected


def test_a_quoted_table_name_in_capitals_still_needs_the_check() -> None:
    # verdict tables are lower-cased; docs may name "Customers"
    assert reads_sensitive_table(["public.customers"], {"public.Customers.email"})
    assert reads_sensitive_table(["customers"], {"public.Customers.email"})
