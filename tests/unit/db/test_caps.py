"""caps: the SQL that caps every value server-side, and how capped rows reach the encoder
(pure: no database; tests/integration/db/test_caps.py runs the SQL)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from sqlgateway.db import caps_cache as caps_module
from sqlgateway.db.caps import (
    CELL_OVERHEAD_CHARS,
    MAX_COLUMNS,
    Budget,
    Cap,
    Caps,
    cap_for,
)
from sqlgateway.db.caps_cache import CapsCache, Remembered, shape_key
from sqlgateway.db.encode import Column, ResultEncoder, clip_text, converter_for

BUDGET = Budget(max_response_chars=95_000, max_cell_chars=10_000)


@dataclass(frozen=True)
class T:
    """A column type as asyncpg describes it."""

    name: str
    kind: str = "scalar"
    schema: str = "pg_catalog"
    oid: int = 0


@pytest.mark.parametrize(
    ("pg_type", "cap"),
    [
        (T("int4"), Cap.BOUNDED),
        (T("int8"), Cap.BOUNDED),
        (T("bool"), Cap.BOUNDED),
        (T("timestamptz"), Cap.BOUNDED),
        (T("uuid"), Cap.BOUNDED),
        (T("interval"), Cap.BOUNDED),
        (T("int4range", "range"), Cap.BOUNDED),
        (T("text"), Cap.TEXT),
        (T("varchar"), Cap.TEXT),
        (T("numeric"), Cap.TEXT),  # no typmod in the description: up to 147,000 digits
        (T("jsonb"), Cap.TEXT),
        (T("json"), Cap.TEXT),
        (T("xml"), Cap.TEXT),
        (T("tsvector"), Cap.TEXT),
        (T("claim_status", schema="public"), Cap.TEXT),  # any user-defined type but an enum
        (T("int4", schema="public"), Cap.TEXT),  # a user type named like a built-in
        (T("bytea"), Cap.BYTEA),
        (T("bpchar"), Cap.TYPED),  # a text cast would drop its padding
        (T("bit"), Cap.TYPED),
        (T("path"), Cap.TYPED),
        (T("int4[]", "array"), Cap.TYPED),
        (T("numrange", "range"), Cap.TYPED),
        (T("int4multirange", "multirange"), Cap.TYPED),
        (T("pair", "composite", "public"), Cap.TYPED),
        (T("record"), Cap.TYPED),
    ],
)
def test_only_fixed_size_built_in_types_pass_uncapped(pg_type: T, cap: Cap) -> None:
    assert cap_for(pg_type) is cap


def test_enums_pass_uncapped_once_known() -> None:
    status = T("claim_status", schema="public", oid=16583)
    assert cap_for(status, frozenset({16583})) is Cap.BOUNDED
    assert not Caps.of([T("int4"), status], BUDGET, enums=frozenset({16583})).wrapped


def test_a_statement_of_fixed_size_columns_runs_as_it_is() -> None:
    caps = Caps.of([T("int8"), T("date")], BUDGET)
    assert not caps.wrapped
    assert caps.described([20, 1082]) == (20, 1082)
    assert caps.sql("SELECT 1, current_date") == "SELECT 1, current_date"
    assert caps.statement_offset == 0


def test_the_wrapper_holds_the_statement_once_and_no_name_from_it() -> None:
    statement = 'SELECT claim_id AS "x"")) --", description AS "_k" FROM claims'
    caps = Caps.of([T("int8"), T("text")], BUDGET)
    sql = caps.sql(statement)
    assert sql.count(statement) == 1
    assert sql[caps.statement_offset :].startswith(statement)
    assert sql.startswith("WITH _sqlgateway_rows AS NOT MATERIALIZED (\n")
    # around the statement: only gateway-made names, numbers and built-in functions
    wrapper = sql.replace(statement, "")
    assert '"' not in wrapper and "--" not in wrapper and ";" not in wrapper
    assert wrapper.endswith(
        "SELECT c1, left(c2, 10000), ARRAY[length(c2)]\n"
        "FROM _sqlgateway_rows AS _sqlgateway_rows(c1, c2)"
    )


def test_each_kind_of_column_is_capped_its_own_way() -> None:
    types = [T("jsonb"), T("bytea"), T("int4[]", "array"), T("varchar")]
    sql = Caps.of(types, BUDGET).sql("S")
    assert "left((c1)::text, 10000)" in sql  # read as text anyway: its first characters
    assert "substring(c2 FROM 1 FOR 4999)" in sql  # \x + 2 × 4999 hex digits = 10,000
    assert "CASE WHEN length((c3)::text) <= 47500 THEN c3 END" in sql  # 190,000 / 4 columns
    assert "left(c4, 10000)" in sql
    assert "ARRAY[length((c1)::text), octet_length(c2), length((c3)::text), length(c4)]" in sql
    assert "ARRAY[CASE WHEN length((c3)::text) > 47500 THEN left((c3)::text, 10000) END]" in sql
    assert "OVER" not in sql


def test_many_columns_share_twice_the_budget() -> None:
    sql = Caps.of([T("text")] * 100, BUDGET).sql("S")
    assert "left(c100, 1900)" in sql


def test_the_many_row_wrapper_stops_values_after_twice_the_budget() -> None:
    caps = Caps.of([T("int4"), T("text")], BUDGET, many_rows=True)
    sql = caps.sql("S")
    assert "left(c2, 10000 * _k)" in sql
    assert "length(c2) AS _l2" in sql  # once a row, in a subquery of its own (OFFSET 0)
    assert (
        "CASE WHEN sum(least(coalesce(_l2, 0), 10000)) OVER (ROWS UNBOUNDED PRECEDING) "
        "> 190000 THEN 0 ELSE 1 END AS _k" in sql
    )
    assert caps.described([23, 25]) == (23, 25, 1007, 23)
    assert Caps.of([T("int4"), T("text")], BUDGET).described([23, 25]) == (23, 25, 1007)


def test_a_wrapper_wider_than_postgresql_allows_is_detected() -> None:
    assert Caps.of([T("text")] * (MAX_COLUMNS - 3), BUDGET).too_wide() is False
    assert Caps.of([T("text")] * (MAX_COLUMNS - 2), BUDGET).too_wide() is True
    assert Caps.of([T("int4")] * MAX_COLUMNS, BUDGET).too_wide() is False


def _encoder(types: list[T], max_chars: int = 95_000) -> ResultEncoder:
    columns = [Column(f"c{i}", t.name) for i, t in enumerate(types)]
    converters = [converter_for(t.name, t.kind, BUDGET.max_cell_chars) for t in types]
    return ResultEncoder(columns, converters, max_chars=max_chars, max_rows=None, has_order_by=True)


def _rows(encoder: ResultEncoder) -> list[list[Any]]:
    rows: list[list[Any]] = orjson.loads(encoder.finish(1.0).body)["rows"]
    return rows


def test_clipped_values_get_the_marker_the_encoder_writes_for_whole_ones() -> None:
    types = [T("int4"), T("text"), T("jsonb"), T("bytea"), T("int4[]", "array")]
    caps = Caps.of(types, BUDGET)
    text, blob = "x" * 20_000, b"\xab" * 9_000
    json_head = '{"a": "' + "y" * 9_993
    record = (7, text[:10_000], json_head, blob[:4_999], None)
    lengths = [len(text), 123_456, len(blob), 200_000]
    heads = ["{" + "1," * 4_999 + "1"]
    encoder = _encoder(types, max_chars=200_000)
    assert caps.feed(encoder, [(*record, lengths, heads)])
    [row] = _rows(encoder)
    assert row[0] == 7
    assert row[1] == clip_text(text, 10_000)  # the same as if all 20,000 had come
    assert row[2] == json_head + "…[clipped 10000/123456 chars]"
    assert row[3] == clip_text("\\x" + blob.hex(), 10_000)
    assert row[4].startswith("{1,1,") and row[4].endswith("…[clipped 10000/200000 chars]")


def test_text_over_the_byte_size_but_not_the_character_count_arrives_whole() -> None:
    caps = Caps.of([T("text")], BUDGET)
    text = "é" * 8_000
    encoder = _encoder([T("text")])
    assert caps.feed(encoder, [(text, [8_000])])
    assert _rows(encoder) == [[text]]


def test_values_that_fit_pass_through_the_column_converter() -> None:
    types = [T("numeric"), T("jsonb"), T("int4[]", "array")]
    caps = Caps.of(types, BUDGET)
    encoder = _encoder(types)
    assert caps.feed(encoder, [("1.50", '{"a": 1}', [1, None], [8, 7], [None])])
    assert b'[[1.50,{"a": 1},[1,null]]]' in encoder.finish(1.0).body


def test_a_row_past_the_result_budget_ends_the_result() -> None:
    caps = Caps.of([T("int4"), T("text")], BUDGET, many_rows=True)
    encoder = _encoder([T("int4"), T("text")])
    batch = [(1, "a", [1], 1), (2, "", [90_000], 0), (3, "c", [1], 0)]
    assert caps.feed(encoder, batch) is False
    result = encoder.finish(1.0)
    assert result.truncated and result.row_count == 1


def test_unwrapped_rows_go_to_the_encoder_as_they_are() -> None:
    caps = Caps.of([T("int4")], BUDGET)
    encoder = _encoder([T("int4")])
    assert caps.feed(encoder, [(1,), (2,)])
    assert _rows(encoder) == [[1], [2]]


def test_round_trips_hold_rows_at_their_full_capped_size() -> None:
    claims_like = [T("int8"), T("text"), T("numeric"), T("timestamptz"), T("jsonb")]
    few = Caps.of(claims_like, BUDGET)  # the numeric goes as it is: at most 147,457 characters
    row = CELL_OVERHEAD_CHARS * 6 + 20 + 36 + 147_457 + 2 * 10_000
    assert few.rows_per_batch(500) == 8 * 95_000 // row == 4
    assert "c3" in few.sql("S") and "(c3)::text" not in few.sql("S")
    many = Caps.of(claims_like, BUDGET, many_rows=True)  # bounded by the running sum
    assert many.rows_per_batch(500) == 500
    assert "(c3)::text AS _t3" in many.sql("S") and "left(_t3, 10000 * _k)" in many.sql("S")
    six = Caps.of([T("numeric")] * 6, BUDGET)  # 6 × 147,457 > 760,000: capped
    assert "left((c6)::text, 10000)" in six.sql("S")
    wide = [T("regclass")] * 1_000
    expected = 8 * 95_000 // (1_000 * 260 + CELL_OVERHEAD_CHARS * 1_001)
    assert Caps.of(wide, BUDGET).rows_per_batch(500) == expected == 2


def test_shapes_differ_in_their_integers_only() -> None:
    one = shape_key("SELECT * FROM claims WHERE claim_id = 42 LIMIT 5", None)
    assert one == shape_key("SELECT * FROM claims WHERE claim_id = 7 LIMIT 10", None)
    assert one != shape_key("SELECT * FROM claims WHERE claim_id = 42 LIMIT 5", "reader")
    assert shape_key("SELECT c1 FROM t1", None) != shape_key("SELECT c2 FROM t1", None)


def _remembered(n: int) -> Remembered:
    types = [T("text", oid=25)] * n
    caps = Caps.of(types, BUDGET)
    return Remembered.of(caps, types, [Column(f"c{i}", "text") for i in range(n)], [None] * n)


def test_the_cache_forgets_the_least_recently_used_shape() -> None:
    cache = CapsCache(max_entries=2)
    entries = [_remembered(n) for n in (1, 2, 3)]
    cache.put("a", entries[0])
    cache.put("b", entries[1])
    assert cache.get("a") is entries[0]
    cache.put("c", entries[2])
    assert cache.get("b") is None and cache.get("a") is entries[0]
    cache.forget("a")
    assert cache.get("a") is None


def test_a_shape_that_returned_many_rows_gets_the_running_sum(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cache = CapsCache()
    cache.put("a", _remembered(2))
    cache.many_rows("a")
    entry = cache.get("a")
    assert entry is not None and entry.caps.many_rows
    assert entry.described == (25, 25, 1007, 23)
    assert entry.fresh()
    monkeypatch.setattr(caps_module, "RECHECK_S", 0.0)
    assert not entry.fresh()
