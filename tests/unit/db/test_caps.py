"""caps: the SQL that caps every value server-side, and how capped rows reach the encoder
(pure: no database; tests/integration/db/test_caps.py runs the SQL)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from sqlgateway.db.caps import (
    CELL_OVERHEAD_CHARS,
    MAX_COLUMNS,
    Budget,
    Cap,
    Caps,
    CapsCache,
    cap_for,
    rows_per_batch,
    shape_key,
)
from sqlgateway.db.encode import Column, ResultEncoder, clip_text, converter_for

BUDGET = Budget(max_response_chars=95_000, max_cell_chars=10_000)


@dataclass(frozen=True)
class T:
    """A column type as asyncpg describes it."""

    name: str
    kind: str = "scalar"
    schema: str = "pg_catalog"


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
        (T("bpchar"), Cap.TEXT),
        (T("bytea"), Cap.BYTEA),
        (T("numeric"), Cap.SCALAR),  # no typmod in the description: up to 147,000 digits
        (T("jsonb"), Cap.SCALAR),
        (T("json"), Cap.SCALAR),
        (T("xml"), Cap.SCALAR),
        (T("tsvector"), Cap.SCALAR),
        (T("claim_status", schema="public"), Cap.SCALAR),  # an enum, or anything else
        (T("int4", schema="public"), Cap.SCALAR),  # a user type named like a built-in
        (T("int4[]", "array"), Cap.STRUCTURED),
        (T("numrange", "range"), Cap.STRUCTURED),
        (T("int4multirange", "multirange"), Cap.STRUCTURED),
        (T("pair", "composite", "public"), Cap.STRUCTURED),
        (T("record"), Cap.STRUCTURED),
    ],
)
def test_only_fixed_size_built_in_types_pass_uncapped(pg_type: T, cap: Cap) -> None:
    assert cap_for(pg_type) is cap


def test_a_statement_of_fixed_size_columns_runs_as_it_is() -> None:
    caps = Caps.of([T("int8"), T("date")], BUDGET)
    assert not caps.wrapped
    assert caps.sql("SELECT 1, current_date") == "SELECT 1, current_date"
    assert caps.statement_offset == 0


def test_the_wrapper_holds_the_statement_once_and_no_name_from_it() -> None:
    statement = 'SELECT claim_id AS "x"")) --", description AS "_over" FROM claims'
    caps = Caps.of([T("int8"), T("text")], BUDGET)
    sql = caps.sql(statement)
    assert sql.count(statement) == 1
    assert sql[caps.statement_offset :].startswith(statement)
    assert sql.startswith("WITH _sqlgateway_rows AS NOT MATERIALIZED (\n")
    # around the statement: only gateway-made names, numbers and built-in functions
    wrapper = sql.replace(statement, "")
    assert '"' not in wrapper and "--" not in wrapper and ";" not in wrapper
    assert "_sqlgateway_rows(c1, c2)" in wrapper
    assert "octet_length(c2) <= 10000 THEN c2 END" in wrapper
    assert "substr(c2, 1, 10000)" in wrapper
    assert "> 190000 AS _over" in wrapper


def test_limits_follow_the_budget_and_share_the_row() -> None:
    one = Caps.of([T("text"), T("int4[]", "array")], BUDGET).sql("S")
    assert "octet_length(c1) <= 10000" in one
    assert "length((c2)::text) <= 95000" in one  # structured values pass up to the budget
    assert "substr((c2)::text, 1, 10000)" in one
    many = Caps.of([T("text")] * 100, BUDGET).sql("S")
    assert "octet_length(c100) <= 1900 THEN" in many  # 190,000 shared by 100 columns
    assert "substr(c100, 1, 1900)" in many
    bytea = Caps.of([T("bytea")], BUDGET).sql("S")
    assert "octet_length(c1) <= 4999 THEN" in bytea  # \x + 2 × 4999 hex digits = 10,000
    assert "substring(c1 FROM 1 FOR 4999)" in bytea


def test_a_wrapper_wider_than_postgresql_allows_is_detected() -> None:
    assert Caps.of([T("text")] * (MAX_COLUMNS - 1), BUDGET).too_wide() is False
    assert Caps.of([T("text")] * MAX_COLUMNS, BUDGET).too_wide() is True
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
    clips = [
        f"{len(text)}:{text[:10_000]}",
        '123456:{"a": "' + "y" * 9_994,
        f"{2 + 2 * len(blob)}:{blob[:4_999].hex()}",
        "200000:{" + "1," * 4_999 + "1",
    ]
    encoder = _encoder(types, max_chars=200_000)
    assert caps.feed(encoder, [(7, None, None, None, None, clips)])
    [row] = _rows(encoder)
    assert row[0] == 7
    assert row[1] == clip_text(text, 10_000)  # the same as if all 20,000 had come
    assert row[2].endswith("…[clipped 10000/123456 chars]")
    assert row[3] == clip_text("\\x" + blob.hex(), 10_000)
    assert row[4].startswith("{1,1,") and row[4].endswith("…[clipped 10000/200000 chars]")


def test_text_over_the_byte_cap_but_not_the_character_cap_arrives_whole() -> None:
    caps = Caps.of([T("text")], BUDGET)
    text = "é" * 8_000  # 16,000 bytes: over the cap in bytes, not in characters
    encoder = _encoder([T("text")])
    assert caps.feed(encoder, [(None, [f"8000:{text}"])])
    assert _rows(encoder) == [[text]]


def test_values_that_fit_pass_through_the_column_converter() -> None:
    types = [T("numeric"), T("jsonb"), T("int4[]", "array")]
    caps = Caps.of(types, BUDGET)
    encoder = _encoder(types)
    assert caps.feed(encoder, [("1.50", '{"a": 1}', [1, None], [None, None, None])])
    result = encoder.finish(1.0)
    assert b'[[1.50,{"a": 1},[1,null]]]' in result.body


def test_a_row_past_the_result_budget_ends_the_result() -> None:
    caps = Caps.of([T("int4"), T("text")], BUDGET)
    encoder = _encoder([T("int4"), T("text")])
    batch = [(1, "a", [None]), (2, None, []), (3, "c", [None])]
    assert caps.feed(encoder, batch) is False
    result = encoder.finish(1.0)
    assert result.truncated and result.row_count == 1


def test_unwrapped_rows_go_to_the_encoder_as_they_are() -> None:
    caps = Caps.of([T("int4")], BUDGET)
    encoder = _encoder([T("int4")])
    assert caps.feed(encoder, [(1,), (2,)])
    assert _rows(encoder) == [[1], [2]]


def test_batches_shrink_only_for_wide_fixed_size_rows() -> None:
    claims_like = [T("int8"), T("text"), T("numeric"), T("timestamptz"), T("jsonb")]
    assert rows_per_batch(claims_like, BUDGET, 500) == 500
    wide = [T("regclass")] * 1_000
    expected = 8 * 95_000 // (1_000 * 260 + CELL_OVERHEAD_CHARS * 1_001)
    assert rows_per_batch(wide, BUDGET, 500) == expected == 2
    assert rows_per_batch([T("int4")] * MAX_COLUMNS, BUDGET, 500) == 7


def test_shapes_differ_in_their_integers_only() -> None:
    one = shape_key("SELECT * FROM claims WHERE claim_id = 42 LIMIT 5", None)
    assert one == shape_key("SELECT * FROM claims WHERE claim_id = 7 LIMIT 10", None)
    assert one != shape_key("SELECT * FROM claims WHERE claim_id = 42 LIMIT 5", "reader")
    assert shape_key("SELECT c1 FROM t1", None) != shape_key("SELECT c2 FROM t1", None)


def test_the_cache_forgets_the_least_recently_used_shape() -> None:
    cache = CapsCache(max_entries=2)
    caps = [Caps.of([T("text")] * n, BUDGET) for n in (1, 2, 3)]
    cache.put("a", caps[0])
    cache.put("b", caps[1])
    assert cache.get("a") is caps[0]
    cache.put("c", caps[2])
    assert cache.get("b") is None and cache.get("a") is caps[0]
    cache.forget("a")
    assert cache.get("a") is None
