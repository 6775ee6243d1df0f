"""Other dialects' translations run on PostgreSQL and mean what the dialect meant: each is
checked by the guard, run by the read-only role on the demo database (claims.details is
jsonb), and its rows compared with those of the PostgreSQL a person would write."""

from __future__ import annotations

import asyncpg
import pytest
from conftest import fetch_sql

from sqlgateway.demo.database import DemoDatabase
from sqlgateway.guard import GuardPolicy, check_sql
from sqlgateway.guard.dialects import to_postgres

SOME = "claim_id <= 400"

# (dialect, attempt, what its translation writes, PostgreSQL with the same rows)
CASES = [
    # Oracle's clock plus a number of days
    ("oracle", "SELECT count(*) FROM claims WHERE reported_at >= SYSDATE - 365",
     "CURRENT_TIMESTAMP - INTERVAL '365 DAY'",
     "SELECT count(*) FROM claims WHERE reported_at >= now() - interval '365 days'"),
    # MySQL's TIMESTAMPDIFF: whole units, truncated toward zero
    ("mysql", f"SELECT claim_id, TIMESTAMPDIFF(DAY, reported_at, closed_at) FROM claims WHERE {SOME} ORDER BY claim_id",
     "TRUNC(EXTRACT(EPOCH FROM CAST(closed_at AS TIMESTAMP) - CAST(reported_at AS TIMESTAMP)) / 86400)",
     f"SELECT claim_id, trunc(extract(epoch FROM closed_at - reported_at) / 86400) FROM claims WHERE {SOME} ORDER BY claim_id"),
    ("mysql", f"SELECT claim_id, TIMESTAMPDIFF(HOUR, closed_at, reported_at) FROM claims WHERE {SOME} ORDER BY claim_id",
     "/ 3600)",
     f"SELECT claim_id, trunc(extract(epoch FROM reported_at - closed_at) / 3600) FROM claims WHERE {SOME} ORDER BY claim_id"),
    ("mysql", "SELECT policyholder_id, TIMESTAMPDIFF(YEAR, date_of_birth, DATE '2026-07-01') FROM policyholders WHERE policyholder_id <= 300 ORDER BY 1",
     "AGE(CAST('2026-07-01' AS DATE), date_of_birth)",
     "SELECT policyholder_id, date_part('year', age(date '2026-07-01', date_of_birth)) FROM policyholders WHERE policyholder_id <= 300 ORDER BY 1"),
    ("mysql", "SELECT policy_id, TIMESTAMPDIFF(MONTH, start_date, end_date) FROM policies WHERE policy_id <= 300 ORDER BY 1",
     "EXTRACT(MONTH FROM AGE(end_date, start_date))",
     "SELECT policy_id, (date_part('year', age(end_date, start_date)) * 12 + date_part('month', age(end_date, start_date))) FROM policies WHERE policy_id <= 300 ORDER BY 1"),
    ("mysql", f"SELECT count(*) FROM claims WHERE JSON_EXTRACT(details, '$.injuries') = true AND {SOME}",
     "CAST(details ->> 'injuries' AS BOOLEAN) = TRUE",
     f"SELECT count(*) FROM claims WHERE (details->'injuries')::boolean AND {SOME}"),
    ("mysql", f"SELECT count(*) FROM claims WHERE JSON_EXTRACT(details, '$.injuries') = false AND {SOME}",
     "CAST(details ->> 'injuries' AS BOOLEAN) = FALSE",
     f"SELECT count(*) FROM claims WHERE NOT (details->'injuries')::boolean AND {SOME}"),
    ("mysql", f"SELECT JSON_UNQUOTE(JSON_EXTRACT(details,'$.vehicle.make')) AS make FROM claims WHERE {SOME} ORDER BY claim_id",
     "details -> 'vehicle' ->> 'make' AS make",
     f"SELECT details #>> '{{vehicle,make}}' FROM claims WHERE {SOME} ORDER BY claim_id"),
    ("mysql", f"SELECT details->>'$.channel' FROM claims WHERE {SOME} ORDER BY claim_id",
     "details ->> 'channel'",
     f"SELECT details->>'channel' FROM claims WHERE {SOME} ORDER BY claim_id"),
    ("mysql", f"SELECT claim_id FROM claims WHERE JSON_EXTRACT(details, '$.channel') = 'web' AND {SOME} ORDER BY claim_id",
     "details ->> 'channel' = 'web'",
     f"SELECT claim_id FROM claims WHERE details @> '{{\"channel\": \"web\"}}' AND {SOME} ORDER BY claim_id"),
    ("mysql", f"SELECT claim_id FROM claims WHERE JSON_EXTRACT(details, '$.vehicle.model_year') >= 2020 AND {SOME} ORDER BY claim_id",
     "CAST(details -> 'vehicle' ->> 'model_year' AS DECIMAL) >= 2020",
     f"SELECT claim_id FROM claims WHERE (details #> '{{vehicle,model_year}}')::int >= 2020 AND {SOME} ORDER BY claim_id"),
    ("mysql", f"SELECT SUM(JSON_EXTRACT(details, '$.trip_days')) FROM claims WHERE {SOME}",
     "SUM(CAST(details ->> 'trip_days' AS DECIMAL))",
     f"SELECT sum((details->'trip_days')::numeric) FROM claims WHERE {SOME}"),
    ("mysql", "SELECT JSON_EXTRACT(j, '$.items[1]') FROM (SELECT CAST('{\"items\": [10, 20]}' AS JSON) AS j) AS t",
     "j -> 'items' -> 1",
     "SELECT '20'::json"),
    ("bigquery", f"SELECT JSON_EXTRACT_SCALAR(details, '$.channel') FROM claims WHERE {SOME} ORDER BY claim_id",
     "details ->> 'channel'",
     f"SELECT details->>'channel' FROM claims WHERE {SOME} ORDER BY claim_id"),
    ("bigquery", f"SELECT JSON_VALUE(details, '$.vehicle.make') FROM claims WHERE {SOME} ORDER BY claim_id",
     "details -> 'vehicle' ->> 'make'",
     f"SELECT details #>> '{{vehicle,make}}' FROM claims WHERE {SOME} ORDER BY claim_id"),
    ("snowflake", f"SELECT details:vehicle.make::string FROM claims WHERE {SOME} ORDER BY claim_id",
     "details -> 'vehicle' ->> 'make'",
     f"SELECT details #>> '{{vehicle,make}}' FROM claims WHERE {SOME} ORDER BY claim_id"),
    ("snowflake", f"SELECT count(*) FROM claims WHERE details:police_report = true AND {SOME}",
     "CAST(details ->> 'police_report' AS BOOLEAN) = TRUE",
     f"SELECT count(*) FROM claims WHERE details @> '{{\"police_report\": true}}' AND {SOME}"),
    ("snowflake", f"SELECT details:vehicle.model_year::int AS y FROM claims WHERE {SOME} ORDER BY claim_id",
     "CAST(details -> 'vehicle' ->> 'model_year' AS INT) AS y",
     f"SELECT (details #> '{{vehicle,model_year}}')::int FROM claims WHERE {SOME} ORDER BY claim_id"),
    ("snowflake", f"SELECT details['vehicle']['make']::string FROM claims WHERE {SOME} ORDER BY claim_id",
     "details -> 'vehicle' ->> 'make'",
     f"SELECT details #>> '{{vehicle,make}}' FROM claims WHERE {SOME} ORDER BY claim_id"),
    ("sqlite", f"SELECT json_extract(details,'$.vehicle.make') FROM claims WHERE {SOME} ORDER BY claim_id",
     "details -> 'vehicle' ->> 'make'",
     f"SELECT details #>> '{{vehicle,make}}' FROM claims WHERE {SOME} ORDER BY claim_id"),
    ("tsql", "SELECT TOP 5 JSON_VALUE(details,'$.channel') FROM claims ORDER BY claim_id",
     "details ->> 'channel'",
     "SELECT details->>'channel' FROM claims ORDER BY claim_id LIMIT 5"),
    ("tsql", f"SELECT JSON_QUERY(details,'$.vehicle') FROM claims WHERE {SOME} ORDER BY claim_id",
     "details -> 'vehicle'",
     f"SELECT details->'vehicle' FROM claims WHERE {SOME} ORDER BY claim_id"),
    ("oracle", f"SELECT JSON_VALUE(details, '$.channel') FROM claims WHERE {SOME} ORDER BY claim_id",
     "details ->> 'channel'",
     f"SELECT details->>'channel' FROM claims WHERE {SOME} ORDER BY claim_id"),
    ("duckdb", f"SELECT details->>'$.vehicle.make' FROM claims WHERE {SOME} ORDER BY claim_id",
     "details -> 'vehicle' ->> 'make'",
     f"SELECT details #>> '{{vehicle,make}}' FROM claims WHERE {SOME} ORDER BY claim_id"),
    ("oracle", "SELECT TRUNC(reported_at, 'MM') AS m, COUNT(*) FROM claims GROUP BY TRUNC(reported_at, 'MM') ORDER BY 1",
     "DATE_TRUNC('month', reported_at)",
     "SELECT date_trunc('month', reported_at), count(*) FROM claims GROUP BY 1 ORDER BY 1"),
    ("oracle", "SELECT TRUNC(reported_at, 'YYYY') AS y, COUNT(*) FROM claims GROUP BY TRUNC(reported_at, 'YYYY') ORDER BY 1",
     "DATE_TRUNC('year', reported_at)",
     "SELECT date_trunc('year', reported_at), count(*) FROM claims GROUP BY 1 ORDER BY 1"),
    ("oracle", f"SELECT TO_DATE(reported_at, 'YYYY-MM-DD') FROM claims WHERE {SOME} ORDER BY claim_id",
     "CAST(reported_at AS DATE)",
     f"SELECT reported_at::date FROM claims WHERE {SOME} ORDER BY claim_id"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("dialect", "attempt", "translation", "meant"), CASES, ids=[c[1][:60] for c in CASES]
)
def test_translation_runs_and_means_what_the_dialect_meant(
    demo: DemoDatabase, dialect: str, attempt: str, translation: str, meant: str
) -> None:
    translated = to_postgres(attempt, dialect)
    assert translation in translated
    verdict = check_sql(translated, GuardPolicy())
    rows = fetch_sql(demo.reader_dsn, verdict.sql)
    assert [tuple(row) for row in rows] == [tuple(row) for row in fetch_sql(demo.reader_dsn, meant)]
    assert any(value is not None for row in rows for value in row)  # a silent NULL is no answer


def test_json_extract_compared_with_a_boolean_fails_in_postgresql(demo: DemoDatabase) -> None:
    """Why JSON compared with a literal is read as text and cast: jsonb = boolean fails."""
    with pytest.raises(asyncpg.UndefinedFunctionError, match="jsonb = boolean"):
        fetch_sql(demo.reader_dsn, "SELECT count(*) FROM claims WHERE details -> 'injuries' = true")
