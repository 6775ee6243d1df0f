"""What other databases read and PostgreSQL does not, each with its PostgreSQL spelling in
the attempt's own names (hints/syntax.py), and the name hints postgres.py gives on the same
path: an alias inside ORDER BY, a WITH item without RECURSIVE, a column qualified by an
alias. Messages, SQLSTATEs and positions are PostgreSQL 18's for the SQL the guard renders."""

from __future__ import annotations

import pytest
from demo_catalog import demo_catalog
from demo_catalog import refusal_hints as hints

CATALOG = demo_catalog()


def near(token: str) -> str:
    return f'syntax error at or near "{token}"'


CASES = [
    # MySQL's WITH ROLLUP / WITH CUBE
    ("SELECT method, SUM(amount) FROM payments GROUP BY method WITH ROLLUP", "42601",
     near("WITH"), "WITH ROLLUP", ("payments",), ["GROUP BY ROLLUP (method)"]),
    ("SELECT method, SUM(amount) FROM payments GROUP BY method WITH CUBE", "42601",
     near("WITH"), "WITH CUBE", ("payments",), ["GROUP BY CUBE (method)"]),
    ("SELECT loss_type, status, COUNT(*) FROM claims GROUP BY loss_type, status WITH ROLLUP",
     "42601", near("WITH"), "WITH", (), ["GROUP BY ROLLUP (loss_type, status)"]),
    # GROUP BY ALL
    ("SELECT loss_type, COUNT(*) FROM claims GROUP BY ALL", "42601",
     "syntax error at end of input", None, (), ["GROUP BY loss_type", "GROUP BY 1"]),
    ("SELECT date_trunc('month', paid_at) AS m, method, SUM(amount) FROM payments GROUP BY ALL",
     "42601", "syntax error at end of input", None, ("payments",),
     ["GROUP BY DATE_TRUNC('MONTH', paid_at), method", "GROUP BY 1, 2"]),
    ("SELECT COUNT(*) FROM claims GROUP BY ALL", "42601", "syntax error at end of input", None,
     (), ["leave it out"]),
    # SELECT * EXCEPT / EXCLUDE (the guard renders EXCLUDE as EXCEPT)
    ("SELECT * EXCEPT (details, description) FROM claims LIMIT 5", "42601", near("details"),
     "details", (), ["SELECT claim_id, policy_id, adjuster_id, claim_number, status, "
                     "loss_type, amount_claimed, amount_approved, reported_at, closed_at FROM"]),
    ("SELECT c.* EXCEPT (details) FROM claims AS c LIMIT 5", "42601", near("details"),
     "details", (), ["c.claim_id", "c.description FROM"]),
    # types written as functions
    ("SELECT COUNT(*) FROM claims WHERE reported_at >= TIMESTAMP('2025-01-01')", "42601",
     near("'2025-01-01'"), "'2025", (),
     ["TIMESTAMP '2025-01-01'", "'2025-01-01'::timestamptz"]),
    ("SELECT COUNT(*) FROM claims WHERE CAST(reported_at AS TIME) >= TIME('10:00')", "42601",
     near("'10:00'"), "'10:00'", (), ["TIME '10:00'", "'10:00'::time"]),
    ("SELECT COUNT(*) FROM claims WHERE reported_at >= TIMESTAMP(closed_at)", "42601",
     near("closed_at"), "closed_at)", (), ["closed_at::timestamptz"]),
    ("SELECT COUNT(*) FROM claims WHERE reported_at >= CURRENT_TIMESTAMP - INTERVAL", "42703",
     'column "interval" does not exist', "INTERVAL", (), ["INTERVAL '30 days'"]),
    # DISTINCT ON without parentheses, as the guard renders it
    ("SELECT DISTINCT ON (claim_id AS claim_id) event_type FROM claim_events "
     "ORDER BY claim_id, event_id DESC", "42601", near("AS"), "AS", ("claim_events",),
     ["SELECT DISTINCT ON (claim_id) claim_id, event_type"]),
    # Windows time zone names
    ("SELECT reported_at AT TIME ZONE 'Eastern Standard Time' FROM claims", "22023",
     'time zone "Eastern Standard Time" not recognized', None, (), ["'America/New_York'"]),
    ("SELECT timezone('Central Europe Standard Time', reported_at) FROM claims", "22023",
     'time zone "Central Europe Standard Time" not recognized', None, (), ["'Europe/Budapest'"]),
    ("SELECT reported_at AT TIME ZONE 'Pacific Daylight Time' FROM claims", "22023",
     'time zone "Pacific Daylight Time" not recognized', None, (), ["'America/Los_Angeles'"]),
    ("SELECT reported_at AT TIME ZONE 'Tokyo Standard Time' FROM claims", "22023",
     'time zone "Tokyo Standard Time" not recognized', None, (), ["'Asia/Tokyo'"]),
    ("SELECT reported_at AT TIME ZONE 'America/NewYork' FROM claims", "22023",
     'time zone "America/NewYork" not recognized', None, (), ["'America/New_York'"]),
    ("SELECT reported_at AT TIME ZONE 'Mars Standard Time' FROM claims", "22023",
     'time zone "Mars Standard Time" not recognized', None, (),
     ["'America/New_York'", "'Europe/Berlin'", "'UTC'"]),
    # an ordered-set aggregate over a window
    ("SELECT loss_type, PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY amount_claimed) "
     "OVER (PARTITION BY loss_type) FROM claims", "0A000",
     "OVER is not supported for ordered-set aggregate percentile_cont", "PERCENTILE", (),
     ["SELECT loss_type, PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY amount_claimed) AS p "
      "FROM claims GROUP BY loss_type", "USING (loss_type)"]),
    ("SELECT claim_id, PERCENTILE_DISC(0.9) WITHIN GROUP (ORDER BY amount_claimed) OVER () "
     "FROM claims", "0A000", "OVER is not supported for ordered-set aggregate percentile_disc",
     "PERCENTILE", (), ["(SELECT PERCENTILE_DISC(0.9) WITHIN GROUP (ORDER BY amount_claimed) "
                        "FROM claims)"]),
    # a WITH item that refers to itself, or to a later one
    ("WITH months AS (SELECT CAST('2025-01-01' AS DATE) AS m UNION ALL SELECT m + INTERVAL "
     "'1 MONTH' FROM months WHERE m < CAST('2025-12-01' AS DATE)) SELECT m FROM months",
     "42P01", 'relation "months" does not exist (There is a WITH item named "months", but it '
     "cannot be referenced from this part of the query.)", "months WHERE", (),
     ["WITH RECURSIVE months AS ("]),
    ("WITH RECURSIVE months AS (SELECT CAST('2025-01-01' AS DATE) AS m UNION ALL SELECT m + "
     "INTERVAL '1 MONTH' FROM months WHERE m < CAST('2025-12-01' AS DATE)) SELECT m FROM months",
     "42804", 'recursive query "months" column 1 has type date in non-recursive term but type '
     "timestamp without time zone overall", "CAST(", (),
     ["SELECT CAST(CAST('2025-01-01' AS DATE) AS timestamp without time zone) AS m"]),
    ("WITH a AS (SELECT * FROM b), b AS (SELECT 1 AS x) SELECT * FROM a", "42P01",
     'relation "b" does not exist (There is a WITH item named "b", but it cannot be '
     "referenced from this part of the query.)", "b)", (), ["move b AS (…) before"]),
    # an output alias inside an ORDER BY expression
    ("SELECT adjuster_id, SUM(amount_approved) AS total, COUNT(*) AS n FROM claims GROUP BY "
     "adjuster_id ORDER BY total / n DESC", "42703", 'column "total" does not exist',
     "total /", (), ["ORDER BY SUM(amount_approved) / COUNT(*) DESC"]),
    ("SELECT loss_type, COUNT(*) AS n FROM claims GROUP BY loss_type ORDER BY n * 2 DESC, "
     "loss_type", "42703", 'column "n" does not exist', "n * 2", (),
     ["ORDER BY COUNT(*) * 2 DESC, loss_type"]),
    # a column qualified by the alias of a table read: that table's own columns first
    ("SELECT a.last_name, COUNT(*) FROM claims AS c JOIN adjusters AS a USING (adjuster_id) "
     "GROUP BY a.last_name", "42703", "column a.last_name does not exist", "a.last_name",
     ("claims", "adjusters"), ["a is adjusters, which has no column last_name: did you mean "
                              "a.full_name?"]),
    ("SELECT c.claimnumber FROM claims AS c", "42703", "column c.claimnumber does not exist",
     "c.claimnumber", (), ["did you mean c.claim_number?"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("sql", "sqlstate", "message", "at", "tables", "expected"),
    CASES,
    ids=[case[0][:60] for case in CASES],
)
def test_the_postgresql_spelling_is_named(
    sql: str, sqlstate: str, message: str, at: str | None, tables: tuple[str, ...],
    expected: list[str],
) -> None:  # fmt: skip
    said = hints(sql, sqlstate, message, at, *tables)
    for fix in expected:
        assert fix in said, said
    assert len(said) <= 1_000, said


def test_a_qualified_column_names_its_own_table_before_others() -> None:
    said = hints(
        "SELECT a.last_name FROM claims AS c JOIN adjusters AS a USING (adjuster_id)", "42703",
        "column a.last_name does not exist", "a.last_name", "claims", "adjusters",
    )  # fmt: skip
    assert said.index("a.full_name") < said.index("policyholders"), said


def test_a_recursive_with_item_gets_no_table_list() -> None:
    said = hints(*CASES[21][:4], *CASES[21][4])  # type: ignore[misc]
    assert "tables:" not in said and "payments" not in said, said


def test_star_except_never_lists_a_sensitive_column() -> None:
    said = hints(
        "SELECT * EXCEPT (state) FROM policyholders", "42601", near("state"), "state",
        "policyholders",
    )  # fmt: skip
    assert "full_name" in said, said
    sensitive = [c.name for t in CATALOG.tables for c in t.columns if c.sensitive]
    assert sensitive, "the demo has sensitive columns"
    assert not any(name in said for name in sensitive), said


def test_star_except_over_a_wide_table_is_bounded() -> None:
    wide = ", ".join(f"c{i}" for i in range(400))
    said = hints(
        f"SELECT * EXCEPT ({wide}) FROM claims", "42601", near("c0"), "c0",
    )  # fmt: skip
    assert len(said) < 1_000


def test_other_syntax_errors_get_no_hint_from_these_rules() -> None:
    assert hints("SELECT FROM WHERE", "42601", near("WHERE"), "WHERE") == ""
    assert hints("SELECT 1", "0A000", "FOR UPDATE is not allowed with GROUP BY clause", None) == ""
    assert hints("SELECT 1", "22023", "invalid value for parameter", None) == ""
    rows_table = hints(
        "SELECT * FROM monthz", "42P01", 'relation "monthz" does not exist', "monthz",
    )  # fmt: skip
    assert "tables:" in rows_table
