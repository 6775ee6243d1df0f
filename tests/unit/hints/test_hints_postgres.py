"""The usual PostgreSQL mistakes, each with its fix: rules by SQLSTATE, on PostgreSQL's
messages (as PostgreSQL 13–18 write them) and the SQL that ran."""

from __future__ import annotations

import pytest
from demo_catalog import demo_catalog
from demo_catalog import refusal_hints as hints

from sqlgateway.errors import QueryError
from sqlgateway.hints.failure import Failure
from sqlgateway.hints.postgres import postgres_hints

CATALOG = demo_catalog()


@pytest.mark.parametrize(
    ("sql", "sqlstate", "message", "at", "tables", "expected"),
    [
        (
            "SELECT * FROM claims WHERE status = \"approved\"", "42703",
            'column "approved" does not exist', '"approved"', (), "single quotes: 'approved'",
        ),
        (
            'SELECT * FROM claims WHERE "Status" = \'paid\'', "42703",
            'column "Status" does not exist', '"Status"', (), "write status",
        ),
        (
            "SELECT amount_claimed * 2 AS d FROM claims WHERE d > 1", "42703",
            'column "d" does not exist', "d > 1", (), "repeat the expression (amount_claimed * 2)",
        ),
        (
            "SELECT loss_type, count(*) AS n FROM claims GROUP BY loss_type HAVING n > 1",
            "42703", 'column "n" does not exist', "n > 1", (), "in HAVING",
        ),
        (
            "SELECT 1 FROM claims WHERE status IN (submitted)", "42703",
            'column "submitted" does not exist', "submitted)", (), "'submitted'",
        ),
        (
            "SELECT c.stauts FROM claims AS c", "42703", "column c.stauts does not exist",
            "c.stauts", (), "did you mean c.status?",
        ),
        (
            "SELECT details.channel FROM claims", "42P01",
            'missing FROM-clause entry for table "details"', "details", (), "details->>'channel'",
        ),
        (
            "SELECT details.vehicle.make FROM claims", "42P01",
            'missing FROM-clause entry for table "vehicle"', "details", (),
            "details->'vehicle'->>'make'",
        ),
        (
            "SELECT policies.product FROM claims AS c", "42P01",
            'missing FROM-clause entry for table "policies"', "policies", (), "JOIN policies",
        ),
        (
            "SELECT x.claim_id FROM claims AS c", "42P01",
            'missing FROM-clause entry for table "x"', "x.", (), "its aliases are c",
        ),
        (
            "SELECT * FROM customers", "42P01", 'relation "customers" does not exist',
            "customers", (), "did you mean policyholders",
        ),
        (
            "SELECT claim_id FROM claims AS c JOIN payments AS p ON p.claim_id = c.claim_id",
            "42702", 'column reference "claim_id" is ambiguous', "claim_id", ("claims", "payments"),
            "c.claim_id or p.claim_id",
        ),
        (
            "SELECT 1 FROM claims WHERE reported_at > now() - 30", "42883",
            "operator does not exist: timestamp with time zone - integer", "- 30", (),
            "- interval '30 days'",
        ),
        (
            "SELECT 1 FROM claims WHERE closed_at - reported_at > 7", "42883",
            "operator does not exist: interval > integer", "> 7", (), "interval '7 days'",
        ),
        (
            "SELECT * FROM claims WHERE claim_number = 123", "42883",
            "operator does not exist: text = integer", "= 123", (), "claim_number = 'CLM-0000123'",
        ),
        (
            "SELECT 1 FROM claims WHERE details ->> 'injuries' = TRUE", "42883",
            "operator does not exist: text = boolean", "= TRUE", (),
            "(details ->> 'injuries')::boolean = TRUE",
        ),
        (
            "SELECT 1 FROM claims WHERE details ->> 'trip_days' > 10", "42883",
            "operator does not exist: text > integer", "> 10", (), "::int > 10",
        ),
        (
            "SELECT 1 FROM claims WHERE (details ->> 'model_year') > 2015", "42883",
            "operator does not exist: text > integer", "> 2015", (),
            "details->'vehicle'->>'model_year'",
        ),
        (
            "SELECT 1 FROM claims WHERE details -> 'vehicle' -> 'make' = 'Toyota'", "22P02",
            'invalid input syntax for type json (Token "Toyota" is invalid.)', "'Toyota'", (),
            "details->'vehicle'->>'make' = 'Toyota'",
        ),
        (
            "SELECT * FROM claims WHERE ROWNUM <= 5", "42703", 'column "rownum" does not exist',
            "ROWNUM", (), "PostgreSQL has no rownum",
        ),
        (
            "SELECT 1 FROM claims WHERE details ->> 'vehicle' ->> 'make' = 'x'", "42883",
            "operator does not exist: text ->> unknown", "->> 'make'", (), "use -> for every key",
        ),
        (
            "SELECT 1 FROM claims WHERE status LIKE 'a%'", "42883",
            "operator does not exist: claim_status ~~ unknown", "LIKE", (), "status::text LIKE",
        ),
        (
            "SELECT 1 FROM claims WHERE status = ANY(ARRAY['a'])", "42883",
            "operator does not exist: claim_status = text", "=", (), "is an enum",
        ),
        (
            "SELECT claim_number + '-' FROM claims", "42883",
            "operator does not exist: text + unknown", "+", (), "||",
        ),
        (
            "SELECT round(avg(amount_claimed::float), 2) FROM claims", "42883",
            "function round(double precision, integer) does not exist", "round", (), "::numeric",
        ),
        (
            "SELECT status, amount_claimed FROM claims GROUP BY status", "42803",
            'column "claims.amount_claimed" must appear in the GROUP BY clause or be used in an '
            "aggregate function", "amount_claimed", (), "add claims.amount_claimed to GROUP BY",
        ),
        (
            "SELECT 1 FROM claims WHERE count(*) > 1", "42803",
            "aggregate functions are not allowed in WHERE", "count", (), "HAVING",
        ),
        (
            "SELECT 1 FROM claims WHERE row_number() OVER () < 5", "42P20",
            "window functions are not allowed in WHERE", "row_number", (), "subquery",
        ),
        (
            "SELECT 1 FROM claims WHERE status = 'Approved'", "22P02",
            'invalid input value for enum claim_status: "Approved"', "'Approved'", (),
            "did you mean 'approved'?",
        ),
        (
            "SELECT 1 FROM claims WHERE status = 'open'", "22P02",
            'invalid input value for enum claim_status: "open"', "'open'", (),
            "Open claims are those with status submitted",
        ),
        (
            "SELECT 'CLM-' + claim_id FROM claims", "22P02",
            'invalid input syntax for type bigint: "CLM-"', "'CLM-'", (), "||",
        ),
        (
            "SELECT * FROM claims WHERE claim_id = 'CLM-0000123'", "22P02",
            'invalid input syntax for type bigint: "CLM-0000123"', "'CLM", (),
            "value of claims.claim_number",
        ),
        (
            "SELECT coalesce(amount_approved, 'none') FROM claims", "22P02",
            'invalid input syntax for type numeric: "none"', "'none'", (), "coalesce(x::text",
        ),
        (
            "SELECT max(details ->> ('trip_days' + 0)) FROM claims", "22P02",
            'invalid input syntax for type integer: "trip_days"', "'trip", (),
            "(details->>'trip_days')::numeric",
        ),
        (
            "SELECT 1 FROM claims WHERE details @> '{a: 1}'", "22P02",
            'invalid input syntax for type json (Token "a" is invalid.)', "'{", (),
            "double-quoted keys",
        ),
        (
            "SELECT 1 FROM claims WHERE ARRAY[status] = 'paid'", "22P02",
            'malformed array literal: "paid"', "'paid'", (), "T-SQL quoting",
        ),
        (
            "SELECT 1 FROM claims WHERE reported_at > '2025'", "22007",
            'invalid input syntax for type timestamp with time zone: "2025"', "'2025'", (),
            "'YYYY-MM-DD'",
        ),
        (
            "SELECT 1 FROM claims WHERE closed_at = ''", "22007",
            'invalid input syntax for type timestamp with time zone: ""', "''", (), "IS NULL",
        ),
        (
            "SELECT (SELECT claim_id FROM claims)", "21000",
            "more than one row returned by a subquery used as an expression", None, (), "IN (",
        ),
        ("SELECT 1 / 0", "22012", "division by zero", None, (), "NULLIF"),
        (
            "SELECT DISTINCT status FROM claims ORDER BY reported_at", "42P10",
            "for SELECT DISTINCT, ORDER BY expressions must appear in select list",
            "reported_at", (), "select list",
        ),
        (
            "SELECT CASE WHEN true THEN 'a' ELSE 1 END", "42804",
            "CASE types text and integer cannot be matched", None, (), "cast every branch",
        ),
    ],
)  # fmt: skip
def test_the_fix_is_named(
    sql: str, sqlstate: str, message: str, at: str | None, tables: tuple[str, ...], expected: str
) -> None:
    said = hints(sql, sqlstate, message, at, *tables)
    assert expected in said, said


def test_errors_without_a_rule_get_none() -> None:
    assert hints("SELECT 1", "57014", "canceling statement due to statement timeout") == ""
    assert hints("SELECT 1", "99999", "whatever") == ""


def test_messages_in_another_language_get_no_wrong_hint() -> None:
    said = hints(
        "SELECT 1 FROM claims WHERE x = 1", "42883", "el operador no existe: text = integer"
    )
    assert said == ""


def test_long_sql_is_not_parsed_again() -> None:
    sql = "SELECT " + " + ".join(["1"] * 10_000) + ' FROM claims WHERE status = "x"'
    error = QueryError('column "x" does not exist', sqlstate="42703", position=len(sql) - 2)
    failure = Failure(error, sql, CATALOG, [])
    assert failure.tree is None
    assert "single quotes" in " ".join(postgres_hints(failure))


def _column_missing(sql: str, name: str, *tables: str) -> str:
    """The hints for PostgreSQL's 42703 on the first `name` (as written) in `sql`."""
    return hints(sql, "42703", f'column "{name.lower()}" does not exist', name, *tables)


@pytest.mark.parametrize(
    ("sql", "name", "tables", "expected"),
    [
        ("SELECT date_trunc(month, reported_at), count(*) FROM claims GROUP BY 1", "month", (),
         "date_trunc('month', reported_at)"),
        ("SELECT DATE_TRUNC(MONTH, reported_at) FROM claims", "MONTH", (),
         "DATE_TRUNC('month', reported_at)"),
        ("SELECT date_trunc(Week, paid_at), sum(amount) FROM payments GROUP BY 1", "Week",
         ("payments",), "date_trunc('week', paid_at)"),
        ("SELECT date_trunc(quarter, start_date) AS q FROM policies", "quarter", ("policies",),
         "date_trunc('quarter', start_date)"),
        ("SELECT date_trunc(months, created_at) FROM claim_events", "months", ("claim_events",),
         "date_trunc('month', created_at)"),
        ("SELECT date_trunc(reported_at, month) FROM claims", "month", (),
         "date_trunc('month', reported_at)"),
        ("SELECT date_trunc(day, reported_at AT TIME ZONE 'UTC') FROM claims", "day", (),
         "date_trunc('day', reported_at AT TIME ZONE 'UTC')"),
        ("SELECT count(*) FROM claims WHERE date_trunc(year, reported_at) = '2025-01-01'",
         "year", (), "date_trunc('year', reported_at)"),
        ("SELECT date_trunc(hours, c.reported_at) FROM claims AS c", "hours", (),
         "date_trunc('hour', c.reported_at)"),
        ("SELECT date_part(Epoch, closed_at - reported_at) FROM claims", "Epoch", (),
         "date_part('epoch', closed_at - reported_at)"),
        ("SELECT date_part(isodow, paid_at) FROM payments", "isodow", ("payments",),
         "date_part('isodow', paid_at)"),
        ("SELECT max(date_part(centuries, start_date)) FROM policies", "centuries", ("policies",),
         "date_part('century', start_date)"),
        ("SELECT to_char(reported_at, YYYY) FROM claims", "YYYY", (),
         "to_char(reported_at, 'YYYY')"),
        ("SELECT to_char(paid_at, Month) FROM payments", "Month", ("payments",),
         "to_char(paid_at, 'Month')"),
        ("SELECT to_char(reported_at, YYYY-MM) AS m FROM claims", "YYYY", (),
         "to_char(reported_at, 'YYYY-MM')"),
        ("SELECT to_char(reported_at, YYYY - MM - DD) AS m FROM claims", "YYYY", (),
         "to_char(reported_at, 'YYYY-MM-DD')"),
        ("SELECT to_char(created_at, day) FROM claim_events", "day", ("claim_events",),
         "to_char(created_at, 'day')"),
        ("SELECT month, count(*) FROM claims GROUP BY month", "month", (),
         "date_trunc('month', reported_at)"),
    ],
)  # fmt: skip
def test_a_date_unit_or_format_written_as_a_name_is_a_string(
    sql: str, name: str, tables: tuple[str, ...], expected: str
) -> None:
    said = _column_missing(sql, name, *tables)
    assert expected in said, said
    assert "is a string" in said or "are strings" in said, said


def test_a_unit_that_is_not_in_a_date_function_gets_no_unit_fix_in_one() -> None:
    said = _column_missing("SELECT round(amount, cents) FROM payments", "cents", "payments")
    assert "'cents'" not in said, said
    said = _column_missing("SELECT lower(second) FROM claims", "second")
    assert "lower('second')" not in said, said


@pytest.mark.parametrize(
    ("sql", "sqlstate", "message", "at", "tables", "expected"),
    [
        ("SELECT count(*) FROM claims WHERE status = ANY('approved','paid')", "42601",
         'syntax error at or near ","', ",'paid'", (),
         "status = ANY (ARRAY['approved', 'paid']), or status IN ('approved', 'paid')"),
        ("SELECT count(*) FROM claims WHERE loss_type = ANY ('fire', 'storm', 'theft')", "42601",
         'syntax error at or near ","', ", 'storm'", (),
         "loss_type IN ('fire', 'storm', 'theft')"),
        ("SELECT count(*) FROM claims c WHERE c.claim_id = any(1, 2, 3)", "42601",
         'syntax error at or near ","', ", 2", (), "c.claim_id = ANY (ARRAY[1, 2, 3])"),
        ("SELECT count(*) FROM payments WHERE method = ANY('ach', 'wire')", "42601",
         'syntax error at or near ","', ", 'wire'", ("payments",), "method IN ('ach', 'wire')"),
        ("SELECT count(*) FROM claims WHERE status = ANY(('approved','paid'))", "42809",
         "op ANY/ALL (array) requires array on right side", "ANY", (),
         "status = ANY (ARRAY['approved', 'paid'])"),
        ("SELECT count(*) FROM claims WHERE status IN ARRAY['approved','paid']", "42601",
         'syntax error at or near "ARRAY"', "ARRAY", (),
         "status IN ('approved', 'paid')"),
        ("SELECT count(*) FROM claims WHERE status = 'approved' OR 'paid'", "22P02",
         'invalid input syntax for type boolean: "paid"', "'paid'", (),
         "each side of OR is a condition: status = 'approved' OR status = 'paid', or "
         "status IN ('approved', 'paid')"),
        ("SELECT count(*) FROM claims WHERE status = 'approved' OR 'paid' OR 'closed'", "22P02",
         'invalid input syntax for type boolean: "paid"', "'paid'", (),
         "status IN ('approved', 'paid', 'closed')"),
        ("SELECT count(*) FROM policies WHERE product = 'auto' or 'home'", "22P02",
         'invalid input syntax for type boolean: "home"', "'home'", ("policies",),
         "product = 'auto' OR product = 'home'"),
        ("SELECT count(*) FROM claims WHERE loss_type = 'storm' AND 'fire'", "22P02",
         'invalid input syntax for type boolean: "fire"', "'fire'", (),
         "loss_type IN ('storm', 'fire')"),
        ("SELECT count(*) FROM claims WHERE status <> 'paid' AND 'closed'", "22P02",
         'invalid input syntax for type boolean: "closed"', "'closed'", (),
         "status NOT IN ('paid', 'closed')"),
        ("SELECT count(*) FROM claims WHERE description LIKE '%pipe%' OR '%leak%'", "22P02",
         'invalid input syntax for type boolean: "%leak%"', "'%leak%'", (),
         "description LIKE '%pipe%' OR description LIKE '%leak%'"),
        ("SELECT count(*) FROM claims WHERE status = ('approved' OR 'paid')", "22P02",
         'invalid input syntax for type boolean: "approved"', "'approved'", (),
         "status IN ('approved', 'paid')"),
        ("SELECT count(*) FROM claims WHERE reported_at > '2025-01-01' AND status = 'paid' OR "
         "'closed'", "22P02", 'invalid input syntax for type boolean: "closed"', "'closed'", (),
         "status = 'paid' OR status = 'closed'"),
        ("SELECT count(*) FROM claims WHERE claim_id = 1 OR 2", "42804",
         "argument of OR must be type boolean, not type integer", "2", (),
         "claim_id = 1 OR claim_id = 2, or claim_id IN (1, 2)"),
    ],
)  # fmt: skip
def test_several_values_where_a_condition_or_an_array_belongs(
    sql: str, sqlstate: str, message: str, at: str, tables: tuple[str, ...], expected: str
) -> None:
    said = hints(sql, sqlstate, message, at, *tables)
    assert expected in said, said
    assert "compare with true" not in said, said


def test_a_boolean_compared_with_a_string_keeps_the_boolean_hint() -> None:
    said = hints(
        "SELECT 1 FROM claims WHERE (amount_approved IS NULL) = 'no'", "22P02",
        'invalid input syntax for type boolean: "no"', "'no'",
    )  # fmt: skip
    assert "compare with true" in said, said


@pytest.mark.parametrize(
    ("sql", "message", "expected"),
    [
        (
            "SELECT 1 FROM claims WHERE reported_at LIKE '2025%'",
            "operator does not exist: timestamp with time zone ~~ unknown",
            "reported_at >= '2025-01-01' AND reported_at < '2026-01-01'",
        ),
        (
            "SELECT 1 FROM claims WHERE reported_at LIKE '2024-12%'",
            "operator does not exist: timestamp with time zone ~~ unknown",
            "reported_at >= '2024-12-01' AND reported_at < '2025-01-01'",
        ),
        (
            "SELECT 1 FROM claims WHERE reported_at LIKE '2024-02-29%'",
            "operator does not exist: timestamp with time zone ~~ unknown",
            "reported_at >= '2024-02-29' AND reported_at < '2024-03-01'",
        ),
        (
            "SELECT 1 FROM claims WHERE reported_at NOT LIKE '2025%'",
            "operator does not exist: timestamp with time zone !~~ unknown",
            "reported_at < '2025-01-01' OR reported_at >= '2026-01-01'",
        ),
        (
            "SELECT 1 FROM claims WHERE reported_at LIKE '2025-13%'",  # not a date: no range
            "operator does not exist: timestamp with time zone ~~ unknown",
            "to_char(reported_at, 'YYYY-MM-DD') LIKE '2025-13%'",
        ),
        (
            "SELECT 1 FROM claims WHERE reported_at LIKE '2025-06-1%'",  # days 10 to 19
            "operator does not exist: timestamp with time zone ~~ unknown",
            "to_char(reported_at, 'YYYY-MM-DD') LIKE '2025-06-1%'",
        ),
        (
            "SELECT 1 FROM claims WHERE reported_at LIKE '%-03-%'",
            "operator does not exist: timestamp with time zone ~~ unknown",
            "to_char(reported_at, 'YYYY-MM-DD') LIKE '%-03-%'",
        ),
        (
            "SELECT 1 FROM claims AS c WHERE c.claim_id LIKE '12%'",
            "operator does not exist: bigint ~~ unknown",
            "c.claim_id::text LIKE '12%'",
        ),
        (
            "SELECT 1 FROM claims WHERE status ILIKE 'UNDER%'",
            "operator does not exist: claim_status ~~* unknown",
            "status IN ('under_review'), or cast it, status::text ILIKE 'UNDER%'",
        ),
        (
            "SELECT 1 FROM claims WHERE status NOT LIKE '%ed'",
            "operator does not exist: claim_status !~~ unknown",
            "status NOT IN ('submitted', 'approved', 'denied', 'closed', 'reopened')",
        ),
        (
            "SELECT 1 FROM claims WHERE status LIKE 'pend%'",
            "operator does not exist: claim_status ~~ unknown",
            "no label matches 'pend%': it takes one of 'submitted'",
        ),
        (
            # the LIKE PostgreSQL refused is the one on the timestamp, not the text column's
            "SELECT 1 FROM claims WHERE claim_number LIKE 'CLM%' AND reported_at LIKE '2025%'",
            "operator does not exist: timestamp with time zone ~~ unknown",
            "reported_at >= '2025-01-01'",
        ),
    ],
)
def test_like_on_a_value_that_is_not_text_names_its_fix(
    sql: str, message: str, expected: str
) -> None:
    assert expected in hints(sql, "42883", message, "LIKE")


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT 1 FROM claims WHERE status IS 'paid'", "status = 'paid'"),
        ("SELECT 1 FROM claims WHERE status IS NOT 'paid'", "status <> 'paid'"),
        ("SELECT 1 FROM claims AS c WHERE c.status IS 'paid'", "c.status = 'paid'"),
        ("SELECT 1 FROM claims WHERE claim_id IS 7", "claim_id = 7"),
        ("SELECT 1 FROM claims WHERE is_fraud_suspected IS 'true'", "is_fraud_suspected IS TRUE"),
        ("SELECT 1 FROM claims WHERE is_fraud_suspected IS NOT 'f'", "IS NOT FALSE"),
    ],
)
def test_is_with_a_value_says_compare_it_with_equals(sql: str, expected: str) -> None:
    assert expected in hints(sql, "42601", "syntax error at or near", " IS ")


def test_is_null_and_is_true_need_no_hint() -> None:
    sql = "SELECT 1 FROM claims WHERE closed_at IS NULL AND is_fraud_suspected IS TRUE AND ("
    assert hints(sql, "42601", "syntax error at end of input") == ""
