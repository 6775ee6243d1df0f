"""caps on a real database: what the wrapped SQL returns is what the statement returns, values
that fit keep their exact encoding, larger ones arrive clipped with their true length, the
wrapper cannot be escaped, and a remembered wrapper follows schema changes."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import asyncpg
import orjson
import pytest
from conftest import (
    TEST_READER,
    admin_fetch,
    execute_sql,
    load_corpus,
    make_settings,
)

from sqlgateway.db import caps_cache as caps_module
from sqlgateway.db.caps import Budget, Caps
from sqlgateway.db.encode import Column, ResultEncoder, converter_for
from sqlgateway.db.executor import Database, QueryPlan, _describe_type
from sqlgateway.demo.database import DemoDatabase
from sqlgateway.errors import QueryError

T = TypeVar("T")
SCHEMA = "caps_test"


def run_with(demo: DemoDatabase, use: Callable[[Database], Awaitable[T]], **settings: Any) -> T:
    """`use(database)` with a Database of its own on the test database."""

    async def go() -> T:
        database = await Database.connect(demo.reader_dsn, make_settings(demo, **settings))
        try:
            return await use(database)
        finally:
            await database.close()

    return asyncio.run(go())


async def answer(database: Database, sql: str, **plan: Any) -> dict[str, Any]:
    result = await database.run(QueryPlan(sql, has_order_by="ORDER BY" in sql, **plan))
    body: dict[str, Any] = orjson.loads(result.body)
    return body


@pytest.fixture(scope="module")
def odd_tables(demo: DemoDatabase) -> Iterator[None]:
    """Tables whose names and column names look like the wrapper's own."""
    execute_sql(
        demo.admin_dsn,
        f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE",
        f"CREATE SCHEMA {SCHEMA}",
        f'CREATE TABLE {SCHEMA}."_sqlgateway_rows" (c1 text, "_k" text, "a""b" text, '
        '"SELECT" int, "c2)) --" text)',
        f"""INSERT INTO {SCHEMA}."_sqlgateway_rows" VALUES
            ('one', 'two', 'three', 4, repeat('5', 20000)), (NULL, NULL, NULL, NULL, NULL)""",
        f"CREATE TABLE {SCHEMA}.victim (id int)",
        f"CREATE TABLE {SCHEMA}.shifting (id int PRIMARY KEY, note text)",
        f"INSERT INTO {SCHEMA}.shifting SELECT g, 'note ' || g FROM generate_series(1, 9) g",
        f"GRANT USAGE ON SCHEMA {SCHEMA} TO {TEST_READER}",
        f"GRANT SELECT ON ALL TABLES IN SCHEMA {SCHEMA} TO {TEST_READER}",
    )
    yield
    execute_sql(demo.admin_dsn, f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")


# --- what the wrapper returns ----------------------------------------------------------------


async def unwrapped(database: Database, sql: str) -> dict[str, Any]:
    """The body the encoder makes of `sql`'s rows as PostgreSQL sends them, no caps."""
    async with database.pool.acquire() as conn, conn.transaction(readonly=True):
        statement = await conn.prepare(sql)
        attributes = statement.get_attributes()
        types = [_describe_type(a) for a in attributes]
        encoder = ResultEncoder(
            [Column(a.name, t) for a, (t, _) in zip(attributes, types, strict=True)],
            [converter_for(t, kind, 10_000) for t, kind in types],
            max_chars=95_000,
            max_rows=None,
            has_order_by="ORDER BY" in sql,
        )
        for record in await statement.fetch():
            if not encoder.add(record):
                break
    body: dict[str, Any] = orjson.loads(encoder.finish(0.0).body)
    return body


#: Answers that change between two transactions (the clock, random numbers).
_VOLATILE = re.compile(r"now\(|current_time|localtime|random|clock_|gen_random|timeofday", re.I)
COMPARED = [
    *(e["sql"] for e in load_corpus("accepted") if not _VOLATILE.search(e["sql"])),
    "SELECT 1234567890123456789.0123456789::numeric AS n, 'NaN'::numeric AS nan, "
    "'{\"a\": [1, 2.50, \"x\"]}'::jsonb AS jb, '[1, null]'::json AS j, '\\xdeadbeef'::bytea AS b, "
    "ARRAY[[1, 2], [3, NULL]]::int4[] AS arr, ARRAY[1.10, 2.5]::numeric[] AS narr, "
    "int4range(1, 10) AS r, ROW(1, 'a', NULL) AS rec, "
    "'ünïcødé ✓'::text AS t, 'é'::char(3) AS ch, 'a b'::tsvector AS ts",
    "SELECT c.*, e.note FROM claims c JOIN claim_events e USING (claim_id) ORDER BY e.event_id LIMIT 40",
    "SELECT repeat(description, 200) AS long, description FROM claims ORDER BY claim_id LIMIT 3",
    "SELECT json_agg(c ORDER BY c.claim_id) FROM (SELECT * FROM claims ORDER BY claim_id LIMIT 20) c",
    "SELECT status, array_agg(claim_id ORDER BY claim_id) FROM claims WHERE claim_id < 300 "
    "GROUP BY status ORDER BY status",
]


def test_what_fits_is_encoded_exactly_as_without_caps(demo: DemoDatabase) -> None:
    async def compare(database: Database) -> int:
        compared = 0
        for sql in COMPARED:
            wrapped, plain = await answer(database, sql), await unwrapped(database, sql)
            assert wrapped["columns"] == plain["columns"], sql
            if wrapped["truncated"] or plain["truncated"]:
                continue  # which rows an unordered query returns first is not defined
            assert wrapped.pop("elapsed_ms") is not None and plain.pop("elapsed_ms") == 0.0
            assert wrapped == plain, sql
            compared += 1
        return compared

    assert run_with(demo, compare) >= 45  # of 66 (the others fill the response: columns only)


@pytest.mark.parametrize(
    ("sql", "measured"),
    [
        ("SELECT repeat('é', 50000) AS v", "length(repeat('é', 50000))"),
        ("SELECT decode(repeat('ab', 60000), 'hex') AS v", "2 + 2 * 60000"),
        (
            "SELECT json_agg(c) AS v FROM claims c",
            "length((SELECT json_agg(c) FROM claims c)::text)",
        ),
        (
            "SELECT array_agg(description) AS v FROM claims",
            "length((SELECT array_agg(description) FROM claims)::text)",
        ),
        (
            "SELECT ROW(string_agg(description, ' '), 1) AS v FROM claims",
            "length((SELECT ROW(string_agg(description, ' '), 1) FROM claims)::text)",
        ),
        ("SELECT repeat('v', 40000)::varchar AS v", "40000"),
    ],
)
def test_a_larger_value_arrives_clipped_with_its_true_length(
    demo: DemoDatabase, sql: str, measured: str
) -> None:
    body = run_with(demo, lambda database: answer(database, sql))
    [[value]] = body["rows"]
    total = admin_fetch(demo, f"SELECT {measured}")[0][0]
    assert value.endswith(f"…[clipped 10000/{total} chars]")
    assert len(value) == 10_000 + len(f"…[clipped 10000/{total} chars]")


def test_a_numeric_keeps_every_digit(demo: DemoDatabase) -> None:
    """numeric is at most 147,457 characters: in rows fetched a few at a time it goes as it is."""

    async def go(database: Database) -> bytes:
        result = await database.run(QueryPlan("SELECT 10::numeric ^ 20000 AS v", False))
        return result.body

    body = run_with(demo, go)
    digits = admin_fetch(demo, "SELECT (10::numeric ^ 20000)::text")[0][0]
    assert len(digits) > 20_000 and f"[[{digits}]]".encode() in body


def test_text_longer_in_bytes_than_the_cap_but_not_in_characters_arrives_whole(
    demo: DemoDatabase,
) -> None:
    body = run_with(demo, lambda database: answer(database, "SELECT repeat('é', 8000) AS v"))
    assert body["rows"] == [["é" * 8000]]


def test_round_trips_of_full_size_rows_end_where_the_response_does(demo: DemoDatabase) -> None:
    sql = "SELECT event_id, repeat(note, 3000) AS wide FROM claim_events ORDER BY event_id"
    body = run_with(demo, lambda database: answer(database, sql))
    assert body["truncated"] and 0 < body["row_count"] < 20
    ids = [row[0] for row in body["rows"]]
    first = admin_fetch(demo, f"SELECT event_id FROM claim_events ORDER BY 1 LIMIT {len(ids)}")
    assert ids == [row[0] for row in first]
    assert all(row[1].endswith(" chars]") for row in body["rows"])


def test_the_running_sum_stops_values_after_twice_the_budget(demo: DemoDatabase) -> None:
    statement = "SELECT repeat(note, 3000) AS wide FROM claim_events ORDER BY event_id LIMIT 40"

    async def go() -> list[Any]:
        conn = await asyncpg.connect(demo.reader_dsn)
        try:
            types = [a.type for a in (await conn.prepare(statement)).get_attributes()]
            caps = Caps.of(types, Budget(95_000, 10_000), many_rows=True)
            return list(await (await conn.prepare(caps.sql(statement))).fetch())
        finally:
            await conn.close()

    rows = asyncio.run(go())
    sent = [len(row[0]) for row in rows]
    assert sent == [10_000] * 19 + [0] * 21  # 19 × 10,000 ≤ 190,000 < 20 × 10,000
    assert [row[-1] for row in rows] == [1] * 19 + [0] * 21
    assert all(row[1][0] > 10_000 for row in rows)  # the lengths still come


# --- the wrapper cannot be escaped -----------------------------------------------------------


def test_names_from_the_query_never_reach_the_wrapper(demo: DemoDatabase, odd_tables: None) -> None:
    sql = (
        f'SELECT 1 AS "x""; DROP TABLE {SCHEMA}.victim; --", '
        "repeat('y', 20000) AS \"c1)) AS s; SELECT 1 --\", 2 AS _k, 3 AS c1, 4 AS c1, "
        '5 AS "?column?", 6, 7, \'a\' AS "_sqlgateway_rows"'
    )
    body = run_with(demo, lambda database: answer(database, sql))
    assert [c["name"] for c in body["columns"]] == [
        f'x"; DROP TABLE {SCHEMA}.victim; --',
        "c1)) AS s; SELECT 1 --",
        "_k",
        "c1",
        "c1",
        "?column?",
        "?column?",
        "?column?",
        "_sqlgateway_rows",
    ]
    [row] = body["rows"]
    assert row[0] == 1 and row[1].endswith("…[clipped 10000/20000 chars]")
    assert row[2:] == [2, 3, 4, 5, 6, 7, "a"]
    assert admin_fetch(demo, f"SELECT count(*) FROM {SCHEMA}.victim")[0][0] == 0  # still there


def test_tables_and_ctes_named_like_the_wrapper_are_read_as_they_are(
    demo: DemoDatabase, odd_tables: None
) -> None:
    star = f'SELECT * FROM {SCHEMA}."_sqlgateway_rows" ORDER BY "SELECT"'
    cte = (
        "WITH _sqlgateway_rows AS (SELECT repeat('z', 20000) AS c1) SELECT * FROM _sqlgateway_rows"
    )

    async def both(database: Database) -> tuple[dict[str, Any], dict[str, Any]]:
        return await answer(database, star), await answer(database, cte)

    table, shadowing = run_with(demo, both)
    assert [c["name"] for c in table["columns"]] == ["c1", "_k", 'a"b', "SELECT", "c2)) --"]
    assert table["rows"][0][:4] == ["one", "two", "three", 4]
    assert table["rows"][0][4].endswith("…[clipped 10000/20000 chars]")
    assert table["rows"][1] == [None, None, None, None, None]
    assert shadowing["rows"][0][0].endswith("…[clipped 10000/20000 chars]")


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT description FROM claims WHERE claim_id < 4 UNION ALL SELECT 'extra' ORDER BY 1 DESC",
        "SELECT claim_number FROM claims EXCEPT SELECT claim_number FROM claims WHERE claim_id > 3 ORDER BY 1",
        "(SELECT note FROM claim_events ORDER BY event_id LIMIT 2) UNION (SELECT 'x') ORDER BY 1",
        "VALUES (2, 'b'), (1, 'a'), (3, NULL) ORDER BY 1 DESC",
        "VALUES ('unordered', 1), ('values', 2)",
        "TABLE adjusters ORDER BY adjuster_id DESC LIMIT 3",
        "SELECT claim_id, description FROM claims ORDER BY claim_id DESC LIMIT 5 OFFSET 2",
        "SELECT DISTINCT ON (status) status, description, claim_id FROM claims ORDER BY status, claim_id",
        "SELECT status, claim_number FROM claims ORDER BY status FETCH FIRST 3 ROWS WITH TIES",
        "WITH RECURSIVE r(n, s) AS (SELECT 1, 'a' UNION ALL SELECT n + 1, s || 'a' FROM r WHERE n < 5) "
        "SELECT s, n FROM r ORDER BY n DESC",
        "SELECT p.product, string_agg(c.claim_number, ',' ORDER BY c.claim_id) FROM claims c "
        "JOIN policies p USING (policy_id) WHERE c.claim_id < 40 GROUP BY 1 ORDER BY 1",
    ],
)
def test_set_operations_values_and_ordering_keep_their_meaning(
    demo: DemoDatabase, sql: str
) -> None:
    body = run_with(demo, lambda database: answer(database, sql))
    expected = [list(row) for row in admin_fetch(demo, sql)]
    if "ORDER BY" in sql:
        assert body["rows"] == expected
    else:
        assert sorted(map(repr, body["rows"])) == sorted(map(repr, expected))
    assert body["columns"][0]["type"] in ("text", "int4", "claim_status", "int8")


def test_parameters_pass_through_the_wrapper(demo: DemoDatabase) -> None:
    """Named queries bind $n parameters: the wrapper holds the statement once, unchanged."""
    statement = "SELECT $1::text AS word, repeat($1::text, $2::int) AS big"

    async def go() -> list[Any]:
        conn = await asyncpg.connect(demo.reader_dsn)
        try:
            types = [a.type for a in (await conn.prepare(statement)).get_attributes()]
            caps = Caps.of(types, Budget(95_000, 10_000))
            row = await (await conn.prepare(caps.sql(statement))).fetchrow("ab", 20_000)
            return list(row)
        finally:
            await conn.close()

    assert asyncio.run(go()) == ["ab", "ab" * 5000, [2, 40_000]]


def test_more_columns_than_the_wrapper_can_hold_is_a_clear_error(demo: DemoDatabase) -> None:
    sql = "SELECT " + ", ".join(f"'v' AS c{i}" for i in range(1664))
    with pytest.raises(QueryError) as caught:
        run_with(demo, lambda database: answer(database, sql))
    assert "select fewer columns" in (caught.value.hint or "")


# --- remembered wrappers ---------------------------------------------------------------------


@pytest.fixture
def prepared(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The SQL of every statement the executor prepares (the real driver does the work)."""
    seen: list[str] = []
    real = asyncpg.connection.Connection.prepare

    async def counting(self: asyncpg.Connection, query: str, *args: Any, **kwargs: Any) -> Any:
        seen.append(query)
        return await real(self, query, *args, **kwargs)

    monkeypatch.setattr(asyncpg.connection.Connection, "prepare", counting)
    return seen


def test_a_shape_seen_before_is_prepared_once_wrapped(
    demo: DemoDatabase, prepared: list[str]
) -> None:
    async def lookups(database: Database) -> list[list[str]]:
        rounds = []
        for sql in (
            "SELECT * FROM claims WHERE claim_id = 1",
            "SELECT * FROM claims WHERE claim_id = 2",
            "SELECT * FROM claims WHERE claim_id = 3",
            "SELECT claim_id, reported_at FROM claims WHERE claim_id = 4",
            "SELECT claim_id, reported_at FROM claims WHERE claim_id = 5",
        ):
            prepared.clear()
            body = await answer(database, sql, streams_rows=True)
            assert body["row_count"] == 1
            rounds.append(list(prepared))
        return rounds

    first, second, third, bounded, again = run_with(demo, lookups)
    assert [s.startswith("WITH _sqlgateway_rows") for s in first] == [False, True]
    assert [s.startswith("WITH _sqlgateway_rows") for s in second] == [True]
    assert [s.startswith("WITH _sqlgateway_rows") for s in third] == [True]
    assert bounded == ["SELECT claim_id, reported_at FROM claims WHERE claim_id = 4"]
    assert again == ["SELECT claim_id, reported_at FROM claims WHERE claim_id = 5"]  # once


def _follow_changes(
    demo: DemoDatabase, table: str, changes: list[str], pause_s: float = 0.0
) -> None:
    """After each change, a lookup of `table` answers what PostgreSQL answers."""

    async def follow(database: Database) -> None:
        admin = await asyncpg.connect(demo.admin_dsn)
        try:
            for i, change in enumerate([None, *changes]):
                if change is not None:
                    await admin.execute(change)
                    await asyncio.sleep(pause_s)
                sql = f"SELECT * FROM {table} WHERE id::int = {i + 1}"
                body = await answer(database, sql)
                expected = await admin.fetchrow(sql)
                assert [c["name"] for c in body["columns"]] == list(expected.keys()), change
                [row] = body["rows"]
                for value, wanted in zip(row, expected.values(), strict=True):
                    if isinstance(wanted, bytes) and len(wanted) > 4_999:
                        assert value.endswith(f"[clipped 10000/{2 + 2 * len(wanted)} chars]")
                    elif isinstance(wanted, bytes):
                        assert value == "\\x" + wanted.hex(), change
                    else:
                        assert value == wanted, change
        finally:
            await admin.close()

    run_with(demo, follow)


def test_changes_that_break_a_remembered_wrapper_show_at_once(
    demo: DemoDatabase, odd_tables: None, prepared: list[str]
) -> None:
    table = f"{SCHEMA}.breaking"
    execute_sql(
        demo.admin_dsn,
        f"CREATE TABLE {table} (id int, note text, extra text DEFAULT 'x')",
        f"INSERT INTO {table} (id, note) SELECT g, 'note ' || g FROM generate_series(1, 9) g",
        f"GRANT SELECT ON {table} TO {TEST_READER}",
    )
    _follow_changes(
        demo,
        table,
        [
            f"ALTER TABLE {table} DROP COLUMN extra",  # fewer columns than the wrapper names
            f"ALTER TABLE {table} ALTER COLUMN id TYPE bigint",  # a fixed-size type changes
            f"ALTER TABLE {table} ALTER COLUMN id TYPE text",  # no longer fixed-size
            f"ALTER TABLE {table} ALTER COLUMN note TYPE bytea USING convert_to(note, 'UTF8')",
            f"ALTER TABLE {table} ALTER COLUMN note TYPE text USING encode(note, 'escape')",
        ],
    )
    assert sum(s.startswith("WITH _sqlgateway_rows") for s in prepared) >= 3


def test_other_changes_show_once_the_remembered_wrapper_is_rechecked(
    demo: DemoDatabase, odd_tables: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A column added or renamed does not break the wrapper: it shows when the statement is
    described again, RECHECK_S after it was last (10 s; 0.2 s here)."""
    monkeypatch.setattr(caps_module, "RECHECK_S", 0.2)
    table = f"{SCHEMA}.shifting"
    _follow_changes(
        demo,
        table,
        [
            f"ALTER TABLE {table} ADD COLUMN extra text DEFAULT 'added'",
            f"ALTER TABLE {table} RENAME COLUMN note TO remark",
            f"ALTER TABLE {table} ALTER COLUMN remark TYPE int USING length(remark)",
            f"ALTER TABLE {table} ALTER COLUMN id TYPE text",
            f"ALTER TABLE {table} DROP COLUMN extra",
            f"ALTER TABLE {table} ADD COLUMN blob bytea DEFAULT decode(repeat('ab', 9000), 'hex')",
        ],
        pause_s=0.25,
    )


def test_a_shape_that_returns_many_rows_switches_to_the_running_sum(
    demo: DemoDatabase, prepared: list[str]
) -> None:
    sql = "SELECT claim_id, description FROM claims ORDER BY claim_id"

    async def twice(database: Database) -> list[dict[str, Any]]:
        return [await answer(database, sql) for _ in range(2)]

    first, second = run_with(demo, twice)
    wrapped = [s for s in prepared if s.startswith("WITH _sqlgateway_rows")]
    assert "OVER" not in wrapped[0] and "OVER (ROWS UNBOUNDED PRECEDING)" in wrapped[-1]
    first.pop("elapsed_ms"), second.pop("elapsed_ms")
    assert first == second and first["truncated"] and first["row_count"] > 1000


def test_the_executed_statement_starts_with_the_approved_one(demo: DemoDatabase) -> None:
    """Errors point into the model's SQL, not into the wrapper."""

    async def go(database: Database) -> None:
        await answer(database, "SELECT description FROM claims WHERE claim_id = 1")
        with pytest.raises(QueryError) as caught:
            await answer(database, "SELECT description FROM claims WHERE claim_id = 1 + nope")
        assert (
            caught.value.position == len("SELECT description FROM claims WHERE claim_id = 1 + ") + 1
        )

    run_with(demo, go)


def test_clipped_markers_are_the_only_change(demo: DemoDatabase) -> None:
    """A wrapped answer differs from PostgreSQL's own only where it says so."""
    sql = "SELECT claim_id, repeat(description, 400) AS long FROM claims ORDER BY claim_id LIMIT 2"
    body = run_with(demo, lambda database: answer(database, sql))
    for (claim_id, long), expected in zip(body["rows"], admin_fetch(demo, sql), strict=True):
        assert claim_id == expected[0]
        head, marker = long.split("…", 1)
        assert expected[1].startswith(head) and len(head) == 10_000
        assert re.fullmatch(rf"\[clipped 10000/{len(expected[1])} chars\]", marker)
