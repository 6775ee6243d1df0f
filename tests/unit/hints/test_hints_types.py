"""Hints for values of the wrong type (hints/types.py): each names the attempt's own fix, on
PostgreSQL's messages as PostgreSQL 13–18 write them and the SQL that ran."""

from __future__ import annotations

import pytest
from demo_catalog import refusal_hints as hints


@pytest.mark.parametrize(
    ("sql", "sqlstate", "message", "at", "expected"),
    [
        # :: binds tighter than ->>: the key's name is what was cast
        (
            "SELECT AVG(details ->> CAST('trip_days' AS INT)) FROM claims",
            "22P02", 'invalid input syntax for type integer: "trip_days"', "'trip_days'",
            "put the access in parentheses, (details->>'trip_days')::int",
        ),
        (
            "SELECT SUM(c.details ->> CAST('beneficiaries' AS BIGINT)) FROM claims AS c",
            "22P02", 'invalid input syntax for type bigint: "beneficiaries"', "'beneficiaries'",
            "(c.details->>'beneficiaries')::bigint",
        ),
        # a JSON boolean cast to a number
        (
            "SELECT COUNT(*) FROM claims WHERE CAST((details ->> 'police_report') AS INT) = 1",
            "22P02", 'invalid input syntax for type integer: "false"', None,
            "details->>'police_report' holds JSON booleans ('false'), not numbers: cast it to "
            "boolean, (details->>'police_report')::boolean",
        ),
        # a key that holds numbers on some rows only
        (
            "SELECT SUM(CAST(details ->> 'room' AS NUMERIC)) FROM claims",
            "22P02", 'invalid input syntax for type numeric: "kitchen"', None,
            "CASE WHEN details->>'room' ~ '^-?[0-9.]+$' THEN (details->>'room')::numeric END",
        ),
        # booleans are not 1 and 0
        (
            "SELECT COUNT(*) FROM claims WHERE CAST((details ->> 'emergency_repair') AS BOOLEAN) = 1",
            "42883", "operator does not exist: boolean = integer", "= 1",
            "a boolean is TRUE or FALSE, not 1 or 0",
        ),
        # date - date is a number of days
        (
            "SELECT COUNT(*) FROM policies WHERE end_date - start_date > INTERVAL '30 DAYS'",
            "42883", "operator does not exist: integer > interval", "> INTERVAL",
            "date - date is a number of days in PostgreSQL, not an interval: compare it with a "
            "number, e.g. end_date - start_date > 30",
        ),
        # Oracle's date functions on a timestamp
        (
            "SELECT TRUNC(reported_at, 'MM') AS month FROM claims",
            "42883", "function trunc(timestamp with time zone, unknown) does not exist", "TRUNC",
            "date_trunc('month', reported_at)",
        ),
        (
            "SELECT TO_DATE(c.reported_at, 'YYYY-MM-DD') AS d FROM claims AS c",
            "42883", "function to_date(timestamp with time zone, unknown) does not exist",
            "TO_DATE", "c.reported_at is already a date or time: write c.reported_at::date",
        ),
        (
            "SELECT round(closed_at) FROM claims",
            "42883", "function round(timestamp with time zone) does not exist", "round",
            "date_trunc('day', closed_at)",
        ),
    ],
)  # fmt: skip
def test_the_fix_is_named(
    sql: str, sqlstate: str, message: str, at: str | None, expected: str
) -> None:
    assert expected in hints(sql, sqlstate, message, at, "claims", "policies")


def test_a_number_that_is_not_one_still_gets_the_generic_fix() -> None:
    said = hints(
        "SELECT 1 FROM claims WHERE claim_id = 'abc'",
        "22P02", 'invalid input syntax for type bigint: "abc"', "'abc'",
    )  # fmt: skip
    assert "'abc' is not a number (bigint)" in said


def test_functions_on_other_types_keep_the_cast_hint() -> None:
    said = hints(
        "SELECT trunc(description, 2) FROM claims",
        "42883", "function trunc(text, integer) does not exist", "trunc",
    )  # fmt: skip
    assert said.startswith("cast the arguments of trunc()")


def test_a_json_key_where_a_condition_belongs_names_the_cast() -> None:
    said = hints(
        "SELECT COUNT(*) FROM claims WHERE details ->> 'injuries'",
        "42804", "argument of WHERE must be type boolean, not type text", "details",
    )  # fmt: skip
    assert said.startswith(
        "details->>'injuries' is text, not a condition: for a JSON boolean write "
        "(details->>'injuries')::boolean"
    )
    plain = hints(
        "SELECT COUNT(*) FROM claims WHERE description",
        "42804", "argument of WHERE must be type boolean, not type text", "description",
    )  # fmt: skip
    assert plain.startswith("WHERE, HAVING and ON need a condition")


def test_json_compared_with_a_string_names_arrows_and_the_key_s_values() -> None:
    said = hints(
        "SELECT COUNT(*) FROM claims WHERE details -> 'channel' = 'online'",
        "22P02", 'invalid input syntax for type json', "'online'",
    )  # fmt: skip
    assert said.startswith(
        "-> gives json, which a string is not: use ->> for the last key to compare text, "
        "details->>'channel' = 'online'; and 'online' is not one of its values: "
        "(channel is one of 'web', 'mobile_app', 'phone', 'agent')"
    )
    fine = hints(
        "SELECT COUNT(*) FROM claims WHERE details -> 'channel' = 'web'",
        "22P02", 'invalid input syntax for type json', "'web'",
    )  # fmt: skip
    assert fine.endswith("details->>'channel' = 'web'")
