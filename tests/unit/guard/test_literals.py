"""The guard's walk notes columns compared with string literals, and nothing else."""

from __future__ import annotations

import pytest

from sqlgateway.guard import GuardPolicy, check_sql
from sqlgateway.guard.literals import NULL_NOTE
from sqlgateway.guard.verdict import Comparison

POLICY = GuardPolicy()


def comparisons(sql: str) -> tuple[Comparison, ...]:
    return check_sql(sql, POLICY).comparisons


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        (
            "SELECT 1 FROM claims WHERE status = 'paid'",
            ("status", ("claims",), "=", ("paid",), False),
        ),
        (
            "SELECT 1 FROM claims WHERE 'paid' = status",
            ("status", ("claims",), "=", ("paid",), False),
        ),
        ("SELECT 1 FROM claims WHERE status <> 'x'", ("status", ("claims",), "<>", ("x",), False)),
        (
            "SELECT 1 FROM claims WHERE NOT status = 'x'",
            ("status", ("claims",), "<>", ("x",), False),
        ),
        (
            "SELECT 1 FROM claims WHERE status IN ('a', 'b')",
            ("status", ("claims",), "=", ("a", "b"), False),
        ),
        (
            "SELECT 1 FROM claims WHERE status NOT IN ('a')",
            ("status", ("claims",), "<>", ("a",), False),
        ),
        (
            "SELECT 1 FROM claims WHERE status = ANY (ARRAY['a', 'b'])",
            ("status", ("claims",), "=", ("a", "b"), False),
        ),
        (
            "SELECT 1 FROM claims WHERE loss_type LIKE 'f%'",
            ("loss_type", ("claims",), "like", ("f%",), False),
        ),
        (
            "SELECT 1 FROM claims WHERE loss_type NOT ILIKE 'f%'",
            ("loss_type", ("claims",), "ilike", ("f%",), True),
        ),
        (
            "SELECT 1 FROM claims WHERE status::text = 'x'",
            ("status", ("claims",), "=", ("x",), False, "", True),
        ),
        (
            "SELECT 1 FROM claims WHERE upper(loss_type) = 'FLOOD'",
            ("loss_type", ("claims",), "=", ("FLOOD",), False, "upper"),
        ),
        (
            "SELECT 1 FROM claims WHERE LOWER(status::text) IN ('paid')",
            ("status", ("claims",), "=", ("paid",), False, "lower", True),
        ),
        (
            "SELECT 1 FROM claims WHERE reported_at BETWEEN '2025-01-01' AND '2025-01-31'",
            ("reported_at", ("claims",), "between", ("2025-01-01", "2025-01-31"), False),
        ),
        (
            "SELECT 1 FROM claims WHERE reported_at NOT BETWEEN '2025-01-01' AND '2025-01-31'",
            ("reported_at", ("claims",), "between", ("2025-01-01", "2025-01-31"), True),
        ),
        (
            "SELECT 1 FROM claims WHERE reported_at <= '2025-01-31'",
            ("reported_at", ("claims",), "<=", ("2025-01-31",), False),
        ),
        (
            "SELECT 1 FROM claims WHERE status = 'x'::claim_status",
            ("status", ("claims",), "=", ("x",), False),
        ),
        ("SELECT 1 FROM claims WHERE status = $$x$$", ("status", ("claims",), "=", ("x",), False)),
        (
            "SELECT 1 FROM claims c WHERE c.status = 'x'",
            ("status", ("claims",), "=", ("x",), False),
        ),
        (
            "SELECT 1 FROM public.claims WHERE status = 'x'",
            ("status", ("public.claims",), "=", ("x",), False),
        ),
        (
            "SELECT 1 FROM claims c JOIN policies p USING (policy_id) WHERE status = 'x'",
            ("status", ("claims", "policies"), "=", ("x",), False),
        ),
        (
            "SELECT 1 FROM policies p WHERE EXISTS (SELECT 1 FROM claims c WHERE p.product = 'car')",
            ("product", ("policies",), "=", ("car",), False),
        ),
        (
            "SELECT 1 FROM claims WHERE details->>'channel' = 'web'",
            ("details", ("claims",), "=", ("web",), False, "", False, ("channel",)),
        ),
        (
            "SELECT 1 FROM claims c WHERE c.details->'vehicle'->>'make' IN ('a', 'b')",
            ("details", ("claims",), "=", ("a", "b"), False, "", False, ("vehicle", "make")),
        ),
        (
            "SELECT 1 FROM claims WHERE details #>> '{vehicle, make}' <> 'a'",
            ("details", ("claims",), "<>", ("a",), False, "", False, ("vehicle", "make")),
        ),
        (
            "SELECT 1 FROM claims WHERE lower(details ->> 'room') LIKE 'k%'",
            ("details", ("claims",), "like", ("k%",), False, "lower", False, ("room",)),
        ),
        (
            "SELECT 1 FROM claims WHERE (details->>'trip_days')::int = '5'",
            ("details", ("claims",), "=", ("5",), False, "", True, ("trip_days",)),
        ),
        (
            "SELECT 1 FROM claims WHERE jsonb_extract_path_text(details, 'vehicle', 'make') = 'a'",
            ("details", ("claims",), "=", ("a",), False, "", False, ("vehicle", "make")),
        ),
        (
            "SELECT 1 FROM adjusters a WHERE a.adjuster_id NOT IN (SELECT c.adjuster_id FROM "
            "claims c WHERE c.closed_at IS NULL)",
            ("adjuster_id", ("claims",), "not in select", (), False),
        ),
        (
            """SELECT 1 FROM claims c WHERE c.details @> '{"injuries": "true"}'""",
            ("details", ("claims",), "@>", ('{"injuries": "true"}',), False),
        ),
    ],
)
def test_comparisons_name_the_column_its_relations_and_the_values(
    sql: str, expected: tuple[object, ...]
) -> None:
    assert comparisons(sql) == (Comparison(*expected),)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("sql", "key"),
    [
        ("SELECT details->>'channel' FROM claims", ("channel",)),
        (
            "SELECT c.details->'vehicle'->>'make', count(*) FROM claims c GROUP BY 1",
            ("vehicle", "make"),
        ),
        (
            "SELECT jsonb_extract_path_text(details, 'vehicle', 'make') FROM claims",
            ("vehicle", "make"),
        ),
        (
            "SELECT 1 FROM claims ORDER BY details #>> '{vehicle,model_year}'",
            ("vehicle", "model_year"),
        ),
        ("SELECT details->>$$room$$ FROM claims", ("room",)),
        ("SELECT 1 FROM claims WHERE details->>'room' = other_column", ("room",)),  # no literal
    ],
)
def test_a_json_key_read_anywhere_is_noted(sql: str, key: tuple[str, ...]) -> None:
    assert comparisons(sql) == (Comparison("details", ("claims",), "->>", (), key=key),)


def test_a_key_compared_with_literals_is_noted_once() -> None:
    [noted] = comparisons("SELECT 1 FROM claims WHERE upper(details->>'room') = 'KITCHEN'")
    assert noted.operator == "="


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1 FROM claims WHERE claim_id = 5",  # integers are the cache's to swap
        "SELECT 1 FROM claims WHERE amount_claimed > 1.5",
        "SELECT 1 FROM claims WHERE btrim(status::text) = 'paid'",  # a function of the column
        "SELECT 1 FROM claims WHERE upper(lower(loss_type)) = 'X'",  # more than one
        "SELECT 1 FROM claims WHERE upper(loss_type, 2) = 'X'",
        "SELECT 1 FROM claims WHERE '2025-01-31' <= reported_at",  # a lower bound
        "SELECT 1 FROM claims WHERE reported_at BETWEEN '2025-01-01' AND now()",
        "SELECT 1 FROM claims WHERE status IN (SELECT 'x')",
        "SELECT 1 FROM claims WHERE status IN ('a', loss_type)",
        "SELECT 1 FROM claims WHERE description LIKE '%a\\%b%'",  # backslash: written as E''
        "SELECT 1 FROM claims WHERE 'x' LIKE description",
        "WITH x AS (SELECT status FROM claims) SELECT 1 FROM x WHERE status = 'y'",
        "SELECT 1 FROM (SELECT status FROM claims) s WHERE s.status = 'y'",
        "SELECT 1 FROM claims c WHERE z.status = 'y'",
        "SELECT 'a' = 'b'",
        "SELECT 1 FROM claims WHERE reported_at > 'today'",  # orderings: no domain to check
        "SELECT 1 FROM claims WHERE details->>0 = 'x'",  # an array index, not a key
        "SELECT 1 FROM claims WHERE details->'a'->1->>'b' = 'x'",
        "SELECT 1 FROM claims WHERE details #>> '{a,1}' = 'x'",
        "SELECT 1 FROM claims WHERE details->>(description) = 'x'",  # not a constant key
        "SELECT 1 FROM claims WHERE details->'channel' = '\"web\"'",  # json, not text
        "SELECT 1 FROM claims WHERE jsonb_extract_path_text(details, description) = 'x'",
        "SELECT 1 FROM claims WHERE jsonb_extract_path(details, 'channel') = '\"web\"'",
        "SELECT 1 FROM claims WHERE details @> '[1]'",  # an array: no key to read
        "SELECT 1 FROM adjusters WHERE adjuster_id IN (SELECT adjuster_id FROM claims)",
        "SELECT 1 FROM adjusters WHERE adjuster_id NOT IN (SELECT adjuster_id FROM claims "
        "WHERE adjuster_id IS NOT NULL)",  # the NULLs are kept out
        "SELECT 1 FROM adjusters WHERE adjuster_id NOT IN (SELECT adjuster_id FROM claims "
        "WHERE NOT adjuster_id IS NULL)",
        "SELECT 1 FROM adjusters WHERE adjuster_id NOT IN (SELECT max(adjuster_id) FROM claims)",
        "WITH x AS (SELECT adjuster_id FROM claims) "
        "SELECT 1 FROM adjusters WHERE adjuster_id NOT IN (SELECT adjuster_id FROM x)",  # a CTE
        """SELECT 1 FROM claims WHERE details->'vehicle' @> '{"make": "Kia"}'""",
        "SELECT 1 FROM claims WHERE ARRAY['a'] @> ARRAY[status::text]",
    ],
)
def test_what_cannot_be_checked_against_a_column_is_not_noted(sql: str) -> None:
    assert comparisons(sql) == ()


def test_equality_with_null_is_noted() -> None:
    assert check_sql("SELECT 1 FROM claims WHERE adjuster_id = NULL", POLICY).notes == (NULL_NOTE,)
    assert check_sql("SELECT 1 FROM claims WHERE NULL <> adjuster_id", POLICY).notes == (NULL_NOTE,)
    assert check_sql("SELECT 1 FROM claims WHERE adjuster_id IS NULL", POLICY).notes == ()


def test_notes_do_not_change_what_runs() -> None:
    plain = check_sql("SELECT claim_id FROM claims WHERE status = 'x'", POLICY)
    assert plain.sql == "SELECT claim_id FROM claims WHERE status = 'x'"
    assert plain.tables == ("claims",) and plain.functions == ()
