"""Notices of answers that ran: from the verdict and the cached catalog only."""

from __future__ import annotations

import dataclasses

import pytest
from demo_catalog import demo_catalog

from sqlgateway.guard import GuardPolicy, Verdict, check_sql
from sqlgateway.guard.literals import NULL_NOTE
from sqlgateway.hints.notices import (
    MAX_NOTICE_CHARS,
    answer_notices,
    empty_answer_notice,
    joined,
    needs_catalog,
)

CATALOG = demo_catalog()


def notices(sql: str) -> list[str]:
    return answer_notices(check_sql(sql, GuardPolicy()), CATALOG)


@pytest.mark.parametrize(
    ("sql", "said"),
    [
        (
            "SELECT count(*) FROM claims WHERE loss_type = 'flood'",
            "claims.loss_type = 'flood' matches no row: (loss_type is one of 'collision', "
            "'glass', 'theft', 'vandalism', 'liability', 'water_damage', 'storm', 'fire', "
            "'death', 'trip_cancellation', 'medical', 'baggage', 'delay')",
        ),
        (
            "SELECT 1 FROM claims WHERE claim_number = 'CLM-123'",
            "claims.claim_number = 'CLM-123' matches no row: did you mean 'CLM-0000123'? "
            "(claim_number values are matching ^CLM-[0-9]{7,}$ (e.g. 'CLM-0000001', "
            "'CLM-0000123'))",
        ),
        (
            "SELECT 1 FROM claims WHERE loss_type <> 'Fire'",
            "claims.loss_type <> 'Fire' is true for every row: did you mean 'fire'?",
        ),
        ("SELECT 1 FROM claims WHERE status NOT IN ('Paid', 'x')", "'Paid' → 'paid'"),
        (
            "SELECT 1 FROM claims WHERE loss_type IN ('car accident', 'collision')",
            "'car accident' in claims.loss_type IN (…) can never match",
        ),
        (
            "SELECT 1 FROM claims WHERE loss_type = 'auto'",
            "'auto' is a value of policies.product",
        ),
        ("SELECT 1 FROM claims WHERE loss_type LIKE 'Water%'", "use ILIKE"),
        (
            "SELECT 1 FROM claims c JOIN policies p USING (policy_id) WHERE p.product = 'Car'",
            "'auto'",
        ),
        ("SELECT 1 FROM policyholders WHERE city = 'new york'", "did you mean 'New York'?"),
        (
            "SELECT count(*) FROM claims WHERE UPPER(loss_type) = 'FLOOD'",
            "upper(claims.loss_type) = 'FLOOD' matches no row: (upper(loss_type) is one of "
            "'COLLISION', 'GLASS',",
        ),
        (
            "SELECT count(*) FROM claims WHERE lower(loss_type) = 'Water Damage'",
            "did you mean 'water_damage'?",
        ),
        ("SELECT 1 FROM adjusters WHERE upper(region) IN ('WEST', 'NorthEast')", "'NORTHEAST'"),
        (
            "SELECT count(*) FROM claims WHERE reported_at = '2025-03-04'",
            "claims.reported_at = '2025-03-04' matches only the instant 2025-03-04 00:00:00 "
            "(reported_at is a timestamp): for the whole day write reported_at >= '2025-03-04' "
            "AND reported_at < '2025-03-05'",
        ),
        (
            "SELECT * FROM payments p WHERE p.paid_at = '2024-12-31'",
            "paid_at >= '2024-12-31' AND paid_at < '2025-01-01'",
        ),
        (
            "SELECT count(*) FROM claims WHERE closed_at IN ('2025-03-04', '2025-3-5')",
            "for whole days write closed_at::date IN ('2025-03-04', '2025-3-5')",
        ),
        (
            "SELECT count(*) FROM claims WHERE reported_at BETWEEN '2025-01-01' AND '2025-01-31'",
            "stops at 2025-01-31 00:00:00 and leaves out the rest of that day (reported_at is a "
            "timestamp): to include it write reported_at >= '2025-01-01' AND reported_at < "
            "'2025-02-01'",
        ),
        (
            "SELECT count(*) FROM claim_events WHERE created_at <= '2024-02-29'",
            "to include it write created_at < '2024-03-01'",
        ),
        (
            "SELECT count(*) FROM claims WHERE details->>'channel' = 'Mobile'",
            "claims.details->>'channel' = 'Mobile' matches no row: did you mean 'mobile_app'? "
            "(details->>'channel' is one of 'mobile_app', 'web', 'phone', 'agent')",
        ),
        (
            "SELECT count(*) FROM claims c WHERE c.details -> 'vehicle' ->> 'make' = 'toyota'",
            "claims.details->'vehicle'->>'make' = 'toyota' matches no row: did you mean 'Toyota'?",
        ),
        ("SELECT 1 FROM claims WHERE details #>> '{vehicle,make}' = 'bmw'", "'BMW'"),
        ("SELECT 1 FROM claims WHERE details->>'room' IN ('attic', 'kitchen')", "'attic' in"),
        ("SELECT 1 FROM claims WHERE (details->>'room') LIKE 'Kit%'", "use ILIKE"),
        ("SELECT 1 FROM claims WHERE lower(details->>'destination') = 'Paris'", "'paris'"),
        (
            "SELECT count(*) FROM claims WHERE details->>'Channel' = 'web'",
            "details has no documented key 'Channel' (keys are case-sensitive), and ->> of a "
            "key that is not there is NULL, which matches no row: did you mean "
            "details->>'channel'?",
        ),
        (
            "SELECT count(*) FROM claims WHERE details->>'make' = 'Toyota'",
            "did you mean details->'vehicle'->>'make'?",
        ),
        ("SELECT 1 FROM claims WHERE details->>'chanel' IN ('web')", "details->>'channel'"),
        # a JSON boolean is 'true' or 'false' through ->>, whatever the model calls it
        (
            "SELECT count(*) FROM claims WHERE details->>'injuries' = 'yes'",
            "claims.details->>'injuries' = 'yes' matches no row: the key holds a JSON boolean, "
            "which ->> reads as 'true' or 'false' (lower case): write details->>'injuries' = "
            "'true', or (details->>'injuries')::boolean IS TRUE",
        ),
        (
            "SELECT sum(CASE WHEN details->>'emergency_repair' = 'TRUE' THEN 1 END) FROM claims",
            "details->>'emergency_repair' = 'true'",
        ),
        ("SELECT 1 FROM claims WHERE details->>'police_report' <> 'N'", "excludes nothing"),
        ("SELECT 1 FROM claims WHERE details->>'injuries' IN ('1', 'true')", "'1' in"),
        ("SELECT 1 FROM claims WHERE details->>'trip_days' = 'ten'", "JSON integer"),
        # keys as another form of the word, a JSON path, a dotted path, a function's path
        ("SELECT 1 FROM claims WHERE details->>'injured' = 'true'", "details->>'injuries'?"),
        (
            "SELECT details->>'channel' FROM claims WHERE details->>'$.channel' = 'web'",
            "->> takes a key's name, not a JSON path like '$.channel'",
        ),
        (
            "SELECT 1 FROM claims WHERE details->>'vehicle.make' = 'Kia'",
            "'vehicle.make' is a key with a dot in its name, not a path, and ->> of a key that "
            "is not there is NULL, which matches no row: did you mean details->'vehicle'->>'make'?",
        ),
        (
            "SELECT 1 FROM claims WHERE jsonb_extract_path_text(details, 'vehicle', 'Make') = 'Kia'",
            "did you mean details->'vehicle'->>'make'?",
        ),
        (
            "SELECT 1 FROM claims WHERE json_extract_path_text(details, 'room') = 'Kitchen'",
            "did you mean 'kitchen'?",
        ),
        # containment: keys, JSON types and values of the object
        (
            """SELECT count(*) FROM claims WHERE details @> '{"injuries": "true"}'""",
            """claims.details @> '{"injuries": "true"}' matches no row: injuries holds a JSON """
            """boolean, not the string "true"; write '{"injuries": true}'""",
        ),
        (
            """SELECT 1 FROM claims WHERE details @> '{"trip_days": "10"}'""",
            """write '{"trip_days": 10}'""",
        ),
        (
            """SELECT 1 FROM claims WHERE details @> '{"vehicle.make": "Kia"}'""",
            """did you mean '{"vehicle": {"make": "Kia"}}'?""",
        ),
        (
            """SELECT 1 FROM claims c WHERE c.details @> '{"Channel": "web"}'""",
            """did you mean '{"channel": "web"}'?""",
        ),
        (
            """SELECT 1 FROM claims WHERE details @> '{"vehicle": {"make": "kia"}}'""",
            "did you mean 'Kia'? (vehicle.make is one of 'Kia'",
        ),
    ],
)
def test_a_literal_outside_the_domain_is_noticed(sql: str, said: str) -> None:
    found = notices(sql)
    assert len(found) == 1 and said in found[0], found


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT count(*) FROM claims WHERE loss_type = 'water_damage' AND status = 'paid'",
        "SELECT 1 FROM claims WHERE claim_number = 'CLM-0000123'",
        "SELECT 1 FROM claims WHERE loss_type LIKE 'water%' OR loss_type ILIKE 'FIRE'",
        "SELECT 1 FROM claims WHERE description = 'anything at all'",  # no known domain
        "SELECT 1 FROM claims c JOIN policies p USING (policy_id) WHERE status = 'x'",  # ambiguous
        "SELECT 1 FROM policyholders WHERE email = 'x'",  # sensitive: no domain, no word
        "SELECT 1 FROM claims WHERE claim_id = 42",
        "SELECT 1 FROM claims WHERE loss_type <> 'unknown'",  # a defensive filter
        "SELECT 1 FROM claims WHERE upper(loss_type) = 'WATER_DAMAGE'",
        "SELECT 1 FROM claims WHERE lower(claim_number) = 'clm-123'",  # a pattern: case changed
        "SELECT 1 FROM claims WHERE reported_at::date = '2025-03-04'",  # cast: whole days
        "SELECT 1 FROM claims WHERE reported_at = '2025-03-04 10:15:00+00'",
        "SELECT 1 FROM claims WHERE reported_at >= '2025-03-04' AND reported_at < '2025-03-05'",
        "SELECT 1 FROM claims WHERE reported_at BETWEEN '2025-01-01' AND '2025-01-31 23:59:59'",
        "SELECT 1 FROM claims WHERE reported_at NOT BETWEEN '2025-01-01' AND '2025-01-31'",
        "SELECT 1 FROM claims WHERE reported_at <> '2025-03-04'",
        "SELECT 1 FROM policies WHERE start_date = '2025-03-04'",  # a date column
        "SELECT 1 FROM policies WHERE end_date BETWEEN '2025-01-01' AND '2025-01-31'",
        "SELECT 1 FROM claims WHERE reported_at = '2025-02-30'",  # PostgreSQL says why
        "SELECT 1 FROM claims WHERE details->>'channel' IN ('web', 'mobile_app')",
        "SELECT 1 FROM claims WHERE details->'vehicle'->>'make' = 'BMW'",
        "SELECT 1 FROM claims WHERE details #>> '{vehicle,make}' = 'Kia'",
        "SELECT 1 FROM claims WHERE upper(details->>'room') = 'KITCHEN'",
        "SELECT 1 FROM claims WHERE details->>'room' <> 'attic'",  # a defensive filter
        "SELECT 1 FROM claims WHERE details->>'owner' = 'x'",  # undocumented, nothing alike
        "SELECT 1 FROM claims WHERE details->>0 = 'x'",  # an index, not a key
        "SELECT 1 FROM claims WHERE (details->>'trip_days')::int = '5'",  # no domain
        "SELECT 1 FROM claims WHERE details->>'injuries' = 'true'",
        "SELECT 1 FROM claims WHERE details->>'police_report' IN ('true', 'false')",
        "SELECT 1 FROM claims WHERE lower(details->>'injuries') = 'true'",
        "SELECT 1 FROM claims WHERE details->>'trip_days' = '10'",
        "SELECT 1 FROM claims WHERE jsonb_extract_path_text(details, 'vehicle', 'make') = 'Kia'",
        """SELECT 1 FROM claims WHERE details @> '{"injuries": true, "channel": "web"}'""",
        """SELECT 1 FROM claims WHERE details @> '{"vehicle": {"make": "Kia"}}'""",
        """SELECT 1 FROM claims WHERE details @> '{"owner": "x"}'""",  # undocumented, not alike
        """SELECT 1 FROM claims WHERE details @> '{"injuries": [true]}'""",  # PostgreSQL's say
        """SELECT 1 FROM claims WHERE details @> '{not json'""",  # PostgreSQL says why
    ],
)
def test_correct_or_unknowable_comparisons_get_no_notice(sql: str) -> None:
    assert notices(sql) == []


def test_not_in_a_subquery_of_a_nullable_column_is_noticed() -> None:
    sql = (
        "SELECT count(*) FROM adjusters WHERE adjuster_id NOT IN "
        "(SELECT adjuster_id FROM claims WHERE reported_at >= '2026-06-01')"
    )
    [notice] = notices(sql)
    assert notice.startswith(
        "NOT IN (SELECT adjuster_id FROM claims …) passes no row at all once the subquery "
        "returns a NULL, and claims.adjuster_id can be NULL: write NOT EXISTS"
    )
    # a column that cannot be NULL (or whose nullability is unknown) gets nothing
    not_null = dataclasses.replace(
        CATALOG,
        tables=tuple(
            dataclasses.replace(
                table,
                columns=tuple(dataclasses.replace(c, nullable=False) for c in table.columns),
            )
            for table in CATALOG.tables
        ),
    )
    assert answer_notices(check_sql(sql, GuardPolicy()), not_null) == []


def test_a_misspelt_key_read_outside_a_comparison_is_noticed() -> None:
    [notice] = notices("SELECT details->>'$.channel' AS channel, count(*) FROM claims GROUP BY 1")
    assert "->> takes a key's name, not a JSON path like '$.channel'" in notice
    assert "is NULL, on every row: did you mean details->>'channel'?" in notice
    [notice] = notices("SELECT jsonb_extract_path_text(details, 'vehicle', 'Make') FROM claims")
    assert "did you mean details->'vehicle'->>'make'?" in notice
    # once, though read twice; an object that holds documented keys is a fine read
    assert len(notices("SELECT details->>'Room' FROM claims ORDER BY details->>'Room'")) == 1
    assert notices("SELECT details->>'vehicle', details->>'channel' FROM claims") == []


def test_a_like_pattern_with_star_wildcards_names_percent() -> None:
    [notice] = notices("SELECT count(*) FROM claims WHERE description LIKE '*fire*'")
    assert notice == (
        "claims.description LIKE '*fire*': LIKE's wildcards are % (any characters) and _ (one "
        "character), not *: write description LIKE '%fire%'"
    )
    assert notices("SELECT 1 FROM claims WHERE description LIKE '%5*%'") == []  # a literal *


def test_an_empty_answer_to_a_case_sensitive_like_on_free_text_names_ilike() -> None:
    def if_empty(sql: str) -> str | None:
        return empty_answer_notice(check_sql(sql, GuardPolicy()), CATALOG)

    assert if_empty("SELECT count(*) FROM claims WHERE description LIKE '%burst pipe%'") == (
        "claims.description LIKE '%burst pipe%' found nothing, and LIKE is case-sensitive: if "
        "the text may be written in another case, write description ILIKE '%burst pipe%'."
    )
    for sql in (
        "SELECT 1 FROM claims WHERE description ILIKE '%pipe%'",  # already insensitive
        "SELECT 1 FROM claims WHERE lower(description) LIKE '%pipe%'",
        "SELECT 1 FROM claims WHERE description NOT LIKE '%pipe%'",
        "SELECT 1 FROM claims WHERE description LIKE '%2025%'",  # no letters: no case
        "SELECT 1 FROM claims WHERE loss_type LIKE 'Water%'",  # known values: noticed before
    ):
        assert if_empty(sql) is None, sql
    assert (
        empty_answer_notice(
            check_sql("SELECT 1 FROM claims WHERE description LIKE 'a'", GuardPolicy()), None
        )
        is None
    )


def test_true_and_false_point_to_no_boolean_key() -> None:
    # 'true' is what ->> reads from every boolean key: it says nothing about the column meant
    [notice] = notices("SELECT 1 FROM policies WHERE status = 'true'")
    assert notice.startswith("policies.status = 'true' matches no row") and "details" not in notice


def test_the_other_notices() -> None:
    assert notices("SELECT 1 FROM claims WHERE adjuster_id = NULL") == [NULL_NOTE]
    assert (
        notices(
            "SELECT count(*) FROM claims "
            "WHERE reported_at > timestamptz '2026-07-01' - 30 * '1 day'::interval"
        )
        == []
    )
    plain = check_sql("SELECT count(*) FROM claims WHERE claim_id = 1", GuardPolicy())
    assert not needs_catalog(plain) and answer_notices(plain, CATALOG) == []
    omitted = dataclasses.replace(plain, omitted=("policyholders.email",))
    assert "policyholders.email" in answer_notices(omitted, None)[0]


def test_at_most_three_comparisons_and_a_bounded_notice() -> None:
    sql = "SELECT 1 FROM claims WHERE " + " OR ".join(f"loss_type = 'x{i}'" for i in range(10))
    found = notices(sql)
    assert len(found) == 3
    text = joined(found * 10)
    assert text is not None and len(text) <= MAX_NOTICE_CHARS and text.endswith("…")
    assert joined([]) is None


def test_without_a_catalog_only_the_verdict_speaks() -> None:
    verdict: Verdict = check_sql("SELECT [status] FROM claims WHERE loss_type = 'x'", GuardPolicy())
    assert answer_notices(verdict, None) == list(verdict.notes)


@pytest.mark.parametrize(
    ("sql", "called"),
    [
        ("SELECT count(*) FROM claims WHERE reported_at > now() - interval '30 days'", "now()"),
        ("SELECT count(*) FROM payments WHERE paid_at::date = CURRENT_DATE - 1", "CURRENT_DATE"),
        ("SELECT claim_number, localtimestamp - reported_at FROM claims LIMIT 3", "LOCALTIMESTAMP"),
    ],
)
def test_a_query_reading_the_clock_gets_the_conventions_about_it(sql: str, called: str) -> None:
    found = notices(sql)
    assert len(found) == 1, found
    assert found[0].startswith(f"{called} reads the server's clock; conventions: Snapshot:")
    assert "timestamptz '2026-07-01 00:00:00+00', not now()" in found[0]


def test_clock_conventions_only_when_the_clock_is_read_and_a_convention_names_it() -> None:
    fixed = "SELECT count(*) FROM claims WHERE reported_at > timestamptz '2026-07-01' - interval '30 days'"
    assert notices(fixed) == []
    assert notices("SELECT now(), current_date") == []  # reads no data
    assert not needs_catalog(check_sql("SELECT now()", GuardPolicy()))
    verdict = check_sql("SELECT max(paid_at) < now() FROM payments", GuardPolicy())
    assert needs_catalog(verdict) and answer_notices(verdict, None) == []
    assert len(answer_notices(verdict, CATALOG)) == 1
    silent = dataclasses.replace(CATALOG, conventions=("Amounts are in US dollars today.",))
    assert answer_notices(verdict, silent) == []
