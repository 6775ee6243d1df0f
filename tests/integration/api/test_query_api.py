"""POST /query end to end: HTTP app → guard → real PostgreSQL → bounded JSON."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest
from conftest import TEST_API_KEY, ClientFactory, admin_fetch
from dbstate import snapshot
from starlette.testclient import TestClient

from sqlgateway.db.encode import SUFFIX_RESERVE_CHARS
from sqlgateway.demo.database import DemoDatabase
from sqlgateway.guard import GuardPolicy, Verdict


def query(client: TestClient, sql: str, **extra: Any) -> Any:
    return client.post("/query", json={"sql": sql, **extra})


def error_of(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert isinstance(error["code"], str) and isinstance(error["message"], str)
    return error


def test_point_lookup_returns_the_row_as_stored(client: TestClient, demo: DemoDatabase) -> None:
    response = query(
        client,
        "SELECT claim_id, claim_number, status, amount_claimed FROM claims WHERE claim_id = 42",
    )
    assert response.status_code == 200
    body = response.json()
    expected = admin_fetch(
        demo,
        "SELECT claim_id, claim_number, status::text, amount_claimed::text FROM claims "
        "WHERE claim_id = 42",
    )[0]
    assert body["columns"] == [
        {"name": "claim_id", "type": "int8"},
        {"name": "claim_number", "type": "text"},
        {"name": "status", "type": "claim_status"},
        {"name": "amount_claimed", "type": "numeric"},
    ]
    row = body["rows"][0]
    assert row[:3] == [expected[0], expected[1], expected[2]]
    # numeric travels as a JSON number with every digit PostgreSQL printed
    assert f",{expected[3]}]".encode() in response.content
    assert body["row_count"] == 1 and body["truncated"] is False and body["notice"] is None
    assert body["elapsed_ms"] >= 0


def test_select_star_on_the_big_table_is_truncated_to_whole_rows(
    client: TestClient, demo: DemoDatabase
) -> None:
    response = query(client, "SELECT * FROM claims")
    assert response.status_code == 200
    settings_limit = 95_000
    assert len(response.content) <= settings_limit
    body = response.json()
    assert body["truncated"] is True
    assert 0 < body["row_count"] == len(body["rows"])
    assert all(len(row) == len(body["columns"]) for row in body["rows"])
    assert "no ORDER BY" in body["notice"] and "arbitrary" in body["notice"]


def test_truncation_is_exact_at_the_limit(make_client: ClientFactory, demo: DemoDatabase) -> None:
    limit = 6_000
    client = make_client(max_response_chars=limit)
    sql = "SELECT claim_id, claim_number, description FROM claims ORDER BY claim_id"
    response = query(client, sql)
    body = response.json()
    assert body["truncated"] is True
    assert len(response.content) <= limit
    kept = body["row_count"]
    ids = [row[0] for row in body["rows"]]
    first_ids = [r[0] for r in admin_fetch(demo, "SELECT claim_id FROM claims ORDER BY claim_id")]
    assert ids == first_ids[:kept]  # whole rows, in order, none skipped
    next_row = query(client, f"{sql} LIMIT 1 OFFSET {kept}").json()["rows"][0]
    next_len = len(orjson.dumps(next_row)) + 1
    # one more row would not have fitted beside the reserved tail of the body
    assert limit - len(response.content) < next_len + SUFFIX_RESERVE_CHARS
    assert f"OFFSET {kept}" in body["notice"] and "arbitrary" not in body["notice"]


def test_max_rows_lowers_the_row_limit(client: TestClient) -> None:
    body = query(client, "SELECT claim_id FROM claims ORDER BY claim_id", max_rows=5).json()
    assert body["rows"] == [[1], [2], [3], [4], [5]]
    assert body["truncated"] is True
    assert "max_rows=5" in body["notice"]


def test_huge_cell_is_clipped_not_dropped(client: TestClient) -> None:
    body = query(client, "SELECT repeat('x', 200000) AS big, 1 AS one").json()
    assert body["row_count"] == 1
    big, one = body["rows"][0]
    assert one == 1
    assert big.startswith("xxxx") and "…[clipped" in big and big.endswith("/200000 chars]")


TYPED_ROW = """
SELECT 1234567890123456789.0123456789::numeric AS n,
       'NaN'::numeric AS n_nan, 'Infinity'::float8 AS f_inf, '-Infinity'::numeric AS n_ninf,
       1.5::float4 AS f4, 9007199254740993::int8 AS i8, true AS b,
       '2024-02-29 13:14:15.123456+00'::timestamptz AS tstz,
       '2024-02-29 13:14:15'::timestamp AS ts, 'infinity'::timestamptz AS ts_inf,
       '2024-02-29'::date AS d, '13:14:15'::time AS t, '13:14:15+02'::timetz AS ttz,
       '1 year 2 months 3 days 04:05:06'::interval AS iv,
       'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS u, '\\xdeadbeef'::bytea AS by,
       ARRAY[[1, 2], [3, NULL]]::int4[] AS arr, ARRAY[1.10, 2.5]::numeric[] AS narr,
       '{"a": [1, 2.50, "x"]}'::jsonb AS jb, '[1, null]'::json AS j,
       '10.0.0.1/24'::inet AS ip, '10.0.0.0/8'::cidr AS net,
       'approved'::claim_status AS en, int4range(1, 10) AS r, 'empty'::int4range AS r_empty,
       'ünïcødé ✓'::text AS txt, NULL::text AS nothing
"""


def test_every_common_type_encodes(client: TestClient) -> None:
    response = query(client, TYPED_ROW)
    assert response.status_code == 200, response.text
    body = response.json()
    names = [c["name"] for c in body["columns"]]
    row = dict(zip(names, body["rows"][0], strict=True))
    assert b"1234567890123456789.0123456789" in response.content
    assert row["n_nan"] == "NaN" and row["f_inf"] == "Infinity" and row["n_ninf"] == "-Infinity"
    assert row["f4"] == 1.5 and row["i8"] == 9007199254740993 and row["b"] is True
    assert row["tstz"] == "2024-02-29T13:14:15.123456+00:00"
    assert row["ts"] == "2024-02-29T13:14:15"
    assert row["ts_inf"] == "infinity"
    assert row["d"] == "2024-02-29" and row["t"] == "13:14:15" and row["ttz"] == "13:14:15+02:00"
    assert row["iv"] == "P1Y2M3DT4H5M6S"
    assert row["u"] == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
    assert row["by"] == "\\xdeadbeef"
    assert row["arr"] == [[1, 2], [3, None]]
    assert b"[1.10,2.5]" in response.content
    assert row["jb"] == {"a": [1, 2.5, "x"]} and row["j"] == [1, None]
    assert row["ip"] == "10.0.0.1/24" and row["net"] == "10.0.0.0/8"
    assert row["en"] == "approved"
    assert row["r"] == "[1,10)" and row["r_empty"] == "empty"
    assert row["txt"] == "ünïcødé ✓" and row["nothing"] is None
    types = {c["name"]: c["type"] for c in body["columns"]}
    assert types["arr"] == "int4[]" and types["en"] == "claim_status" and types["jb"] == "jsonb"


WRITES = [
    "DELETE FROM claims",
    "UPDATE claims SET status = 'paid'",
    "INSERT INTO adjusters (adjuster_id, full_name, email, region) VALUES (999, 'x', 'x', 'x')",
    "DROP TABLE payments",
    "TRUNCATE claims",
    "WITH gone AS (DELETE FROM claims RETURNING *) SELECT count(*) FROM gone",
    "SELECT * INTO claims_copy FROM claims",
    "SELECT * FROM claims WHERE claim_id = 1 FOR UPDATE",
    "SELECT 1; DELETE FROM claims",
    "COMMIT; DROP TABLE claims",
    "SELECT set_config('default_transaction_read_only', 'off', false)",
    "SET TRANSACTION READ WRITE",
    "CREATE TABLE evil (id int)",
    "GRANT ALL ON claims TO PUBLIC",
]


def test_writes_are_rejected_and_the_database_is_unchanged(
    client: TestClient, demo: DemoDatabase
) -> None:
    before = snapshot(demo.admin_dsn)
    for sql in WRITES:
        response = query(client, sql)
        assert response.status_code == 400, sql
        assert error_of(response)["code"] == "rejected", sql
    assert snapshot(demo.admin_dsn) == before


def _no_guard(sql: str, policy: GuardPolicy) -> Verdict:
    """The test-only seam: everything passes the parser layer untouched."""
    return Verdict(sql=sql, tables=(), functions=(), has_order_by=False, has_limit=False)


def test_read_only_transaction_stops_writes_even_without_the_guard(
    make_client: ClientFactory, demo: DemoDatabase
) -> None:
    client = make_client(guard=_no_guard)
    before = snapshot(demo.admin_dsn)
    for sql in (
        "DELETE FROM claims",
        "UPDATE policies SET status = 'lapsed'",
        "CREATE TABLE t (a int)",
    ):
        response = query(client, sql)
        assert response.status_code == 400, sql
        assert error_of(response)["code"] in {"rejected", "query_error"}
    assert snapshot(demo.admin_dsn) == before


def _pool_connections_healthy(client: TestClient) -> None:
    for _ in range(6):  # more than the pool size: every pooled connection answers
        response = query(client, "SELECT 1 AS one")
        assert response.status_code == 200 and response.json()["rows"] == [[1]]


def test_statement_timeout_cancels_the_query_and_the_pool_stays_healthy(
    make_client: ClientFactory, demo: DemoDatabase
) -> None:
    client = make_client(statement_timeout_ms=300, request_deadline_ms=5_000, guard=_no_guard)
    started = time.monotonic()
    response = query(client, "SELECT pg_sleep(20)")
    assert response.status_code == 504
    error = error_of(response)
    assert error["code"] == "timeout" and "SQLGATEWAY_STATEMENT_TIMEOUT_MS=300" in error["message"]
    assert time.monotonic() - started < 15  # answered long before the sleep would end
    still_sleeping = admin_fetch(
        demo, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(20)%'"
    )[0][0]
    assert still_sleeping == 0
    _pool_connections_healthy(client)


def test_expensive_query_hits_the_timeout_through_the_real_guard(
    make_client: ClientFactory,
) -> None:
    client = make_client(statement_timeout_ms=200, request_deadline_ms=5_000, max_plan_cost=0)
    response = query(client, "SELECT count(*) FROM generate_series(1, 1000000000)")
    assert response.status_code == 504 and error_of(response)["code"] == "timeout"
    _pool_connections_healthy(client)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT count(*) FROM generate_series(1, 1000000000)",
        "SELECT count(*) FROM claims a, claims b, claims c",
        "SELECT a.claim_id FROM claims a, claims b ORDER BY a.description",
    ],
)
def test_cost_guard_refuses_bombs_before_they_run(client: TestClient, sql: str) -> None:
    response = query(client, sql)
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "rejected" and "estimated" in error["message"]
    assert "WHERE" in error["hint"]


def test_cost_guard_lets_truncated_scans_through(client: TestClient) -> None:
    # a cartesian product is cheap to stream until the response is full
    response = query(client, "SELECT a.claim_id, b.claim_id FROM claims a, claims b")
    assert response.status_code == 200 and response.json()["truncated"] is True


def test_oversize_request_is_refused_before_it_is_read(make_client: ClientFactory) -> None:
    client = make_client(max_request_chars=1_000)
    response = query(client, "SELECT '" + "x" * 2_000 + "'")
    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"


def test_oversize_chunked_request_is_refused(make_client: ClientFactory) -> None:
    client = make_client(max_request_chars=1_000)

    def chunks() -> Any:
        yield b'{"sql": "SELECT \''
        for _ in range(10):
            yield b"x" * 500
        yield b"'\"}"

    response = client.post("/query", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"not json", 400),
        (b"{}", 422),
        (b'{"sql": 42}', 422),
        (b'{"sql": ""}', 422),
        (b'["SELECT 1"]', 422),
        (b'{"sql": "SELECT 1", "max_rows": 0}', 422),
        (b'{"sql": "SELECT 1", "unknown": 1}', 422),
    ],
)
def test_invalid_requests_get_invalid_request(client: TestClient, body: bytes, status: int) -> None:
    response = client.post("/query", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == status
    assert error_of(response)["code"] == "invalid_request"


def test_syntax_error_has_a_position(client: TestClient) -> None:
    response = query(client, "SELECT claim_id\nFROM claims WHERE (claim_id = 1")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "syntax_error"
    assert isinstance(error.get("position"), int)
    assert error["line"] == 2 and isinstance(error["column"], int)
    assert "^" in error["message"]


def test_refusal_names_the_construct_in_its_own_field(client: TestClient) -> None:
    error = error_of(query(client, "SELECT pg_sleep(1)"))
    assert error["code"] == "rejected"
    assert "pg_sleep" in error["construct"]


def test_query_error_carries_sqlstate_position_and_excerpt(client: TestClient) -> None:
    response = query(client, "SELECT claim_statuss FROM claims")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "query_error"
    assert error["sqlstate"] == "42703"
    assert error["position"] == 8
    assert "claim_statuss" in error["message"] and "^" in error["message"]


def test_missing_or_wrong_key_is_unauthorized(client: TestClient) -> None:
    for headers in (
        {"Authorization": ""},
        {"Authorization": "Bearer nope"},
        {"Authorization": "Basic x"},
    ):
        response = client.post("/query", json={"sql": "SELECT 1"}, headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert error_of(response)["code"] == "unauthorized"
        assert TEST_API_KEY not in response.text


def test_unreachable_database_is_unavailable_without_leaking_the_url(
    make_client: ClientFactory,
) -> None:
    url = "postgresql://someone:s3cret-pw@127.0.0.1:1/nowhere"
    client = make_client(database_url=url)
    response = query(client, "SELECT 1")
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) >= 1
    assert error_of(response)["code"] == "unavailable"
    assert "s3cret-pw" not in response.text and "someone" not in response.text


def test_unknown_path_and_method_get_the_error_shape(client: TestClient) -> None:
    assert error_of(client.get("/nope"))["code"] == "not_found"
    response = client.get("/query")
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"


def test_healthz_needs_no_key(demo: DemoDatabase, client: TestClient) -> None:
    response = client.get("/healthz", headers={"Authorization": ""})
    assert response.status_code == 200 and response.json() == {"status": "ok"}


@pytest.mark.parametrize(
    ("sql", "code"),
    [
        # found by the defence-in-depth run: these reach the executor only without the guard
        ("SELECT $1", "query_error"),  # the driver refuses (no arguments): not an outage
        ("REFRESH MATERIALIZED VIEW claims_by_status", "rejected"),  # EXPLAIN says utility
    ],
)
def test_what_slips_past_a_missing_guard_still_gets_a_clean_error(
    make_client: ClientFactory, sql: str, code: str
) -> None:
    client = make_client(guard=_no_guard)
    response = query(client, sql)
    assert response.status_code == 400, response.text
    assert error_of(response)["code"] == code
    _pool_connections_healthy(client)


def test_a_translation_sqlglot_cannot_finish_is_a_refusal_not_a_500(client: TestClient) -> None:
    # T-SQL's DATEDIFF needs a unit: sqlglot's transform raised TypeError (a 500, on both the
    # named dialect's way and the hint's guess at one)
    sql = "SELECT claim_number, DATEDIFF(closed_at, reported_at) FROM claims LIMIT 10"
    named = query(client, sql, dialect="tsql")
    assert named.status_code == 400, named.text
    assert error_of(named)["code"] == "rejected"
    guessed = query(client, sql)
    assert guessed.status_code == 400, guessed.text
    assert '"dialect": "mysql"' in error_of(guessed)["hint"]


def test_a_bug_in_a_hint_or_a_notice_costs_the_advice_not_the_answer(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> list[str]:
        raise RuntimeError("a hint rule's bug")

    monkeypatch.setattr("sqlgateway.query.hints_for", broken)
    monkeypatch.setattr("sqlgateway.query.answer_notices", broken)
    refused = query(client, "SELECT ISNULL(amount_approved, 0) FROM claims")
    assert refused.status_code == 400, refused.text
    assert error_of(refused)["code"] == "rejected"
    answered = query(client, "SELECT count(*) AS n FROM claims WHERE details->>'channel' = 'fax'")
    assert answered.status_code == 200, answered.text
    assert answered.json()["rows"] == [[0]]
