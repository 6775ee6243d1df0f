"""encode: PostgreSQL values → JSON within a character budget (pure, no database)."""

from __future__ import annotations

import datetime as dt
import decimal
import ipaddress
import uuid
from typing import Any

import orjson
import pytest

from sqlgateway.db.encode import (
    SUFFIX_RESERVE_CHARS,
    Column,
    ResultEncoder,
    clip_text,
    converter_for,
)


def encode(
    rows: list[list[Any]],
    types: list[tuple[str, str]],
    *,
    max_chars: int = 10_000,
    max_rows: int | None = None,
    max_cell_chars: int = 1_000,
    has_order_by: bool = True,
    nulls_first: tuple[int, str] | None = None,
    if_empty: str | None = None,
) -> dict[str, Any]:
    columns = [Column(f"c{i}", name) for i, (name, _) in enumerate(types)]
    converters = [converter_for(name, kind, max_cell_chars) for name, kind in types]
    encoder = ResultEncoder(
        columns,
        converters,
        max_chars=max_chars,
        max_rows=max_rows,
        has_order_by=has_order_by,
        nulls_first=nulls_first,
        if_empty=if_empty,
    )
    for row in rows:
        if not encoder.add(row):
            break
    result = encoder.finish(1.234)
    assert len(result.body) <= max_chars
    decoded: dict[str, Any] = orjson.loads(result.body)
    assert decoded["row_count"] == result.row_count == len(decoded["rows"])
    assert decoded["truncated"] is result.truncated
    return decoded


@pytest.mark.parametrize(
    ("type_name", "kind", "value", "expected"),
    [
        ("numeric", "scalar", "12345678901234567890.123456789", "12345678901234567890.123456789"),
        ("numeric", "scalar", "NaN", '"NaN"'),
        ("numeric", "scalar", "Infinity", '"Infinity"'),
        ("numeric", "scalar", "-Infinity", '"-Infinity"'),
        ("float8", "scalar", float("nan"), '"NaN"'),
        ("float8", "scalar", float("inf"), '"Infinity"'),
        ("float4", "scalar", float("-inf"), '"-Infinity"'),
        ("float8", "scalar", 1.5, "1.5"),
        ("int8", "scalar", 2**62, str(2**62)),
        ("bool", "scalar", True, "true"),
        ("text", "scalar", 'a "quoted" ünïcode', '"a \\"quoted\\" ünïcode"'),
        (
            "timestamptz",
            "scalar",
            dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=dt.UTC),
            '"2024-05-06T07:08:09.123456+00:00"',
        ),
        ("timestamp", "scalar", dt.datetime(2024, 5, 6, 7, 8, 9), '"2024-05-06T07:08:09"'),
        ("timestamptz", "scalar", dt.datetime.max.replace(tzinfo=dt.UTC), '"infinity"'),
        ("date", "scalar", dt.date(2024, 2, 29), '"2024-02-29"'),
        ("date", "scalar", dt.date.max, '"infinity"'),
        ("time", "scalar", dt.time(13, 14, 15), '"13:14:15"'),
        (
            "timetz",
            "scalar",
            dt.time(13, 14, 15, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            '"13:14:15+02:00"',
        ),
        ("interval", "scalar", "P1Y2M3DT4H5M6S", '"P1Y2M3DT4H5M6S"'),
        ("uuid", "scalar", uuid.UUID(int=1), '"00000000-0000-0000-0000-000000000001"'),
        ("bytea", "scalar", b"\x00\xff", '"\\\\x00ff"'),
        ("jsonb", "scalar", '{"a": [1, 2.50]}', '{"a": [1, 2.50]}'),
        ("json", "scalar", "[1, null]", "[1, null]"),
        ("inet", "scalar", ipaddress.ip_interface("10.0.0.1/24"), '"10.0.0.1/24"'),
        ("cidr", "scalar", ipaddress.ip_network("10.0.0.0/8"), '"10.0.0.0/8"'),
        ("claim_status", "enum", "approved", '"approved"'),
        ("int4[]", "array", [[1, 2], [3, None]], "[[1,2],[3,null]]"),
        ("float8[]", "array", [1.0, float("nan")], '[1.0,"NaN"]'),
        ("numeric[]", "array", ["1.10", "NaN"], '[1.10,"NaN"]'),
        ("numeric[]", "array", [decimal.Decimal("1.10")], "[1.10]"),
        ("text", "scalar", None, "null"),
        ("numeric", "scalar", None, "null"),
    ],
)
def test_each_type_encodes_losslessly(type_name: str, kind: str, value: Any, expected: str) -> None:
    decoded = encode([[value]], [(type_name, kind)])
    assert decoded["rows"] == [[orjson.loads(expected)]]
    if type_name == "numeric" and value and value[0].isdigit():
        # the digits themselves travel untouched (no float rounding on the way)
        assert b"[[" + value.encode() + b"]]" in _body([[value]], [(type_name, kind)])


def _body(rows: list[list[Any]], types: list[tuple[str, str]]) -> bytes:
    columns = [Column(f"c{i}", name) for i, (name, _) in enumerate(types)]
    converters = [converter_for(name, kind, 1000) for name, kind in types]
    encoder = ResultEncoder(columns, converters, max_chars=10_000, max_rows=None, has_order_by=True)
    for row in rows:
        encoder.add(row)
    return encoder.finish(0.5).body


def test_range_encodes_like_postgresql() -> None:
    from asyncpg import Range

    decoded = encode([[Range(1, 10), Range(empty=True)]], [("int4range", "range")] * 2)
    assert decoded["rows"] == [["[1,10)", "empty"]]


def test_truncation_keeps_whole_rows_and_fills_the_budget() -> None:
    row = ["x" * 50, 12345]
    rows = [row] * 1000
    limit = 5_000
    decoded = encode(rows, [("text", "scalar"), ("int4", "scalar")], max_chars=limit)
    assert decoded["truncated"] is True
    assert all(r == row for r in decoded["rows"])
    body_len = len(orjson.dumps(decoded))
    one_row = len(orjson.dumps(row)) + 1
    # exact at the limit: one more row would not have fitted next to the reserved suffix
    assert body_len <= limit
    assert limit - body_len < one_row + SUFFIX_RESERVE_CHARS
    assert "OFFSET" in decoded["notice"] and str(decoded["row_count"]) in decoded["notice"]


def test_no_truncation_when_everything_fits() -> None:
    decoded = encode([[1], [2], [3]], [("int4", "scalar")])
    assert decoded == {
        "columns": [{"name": "c0", "type": "int4"}],
        "rows": [[1], [2], [3]],
        "row_count": 3,
        "truncated": False,
        "notice": None,
        "elapsed_ms": 1.23,
    }


def test_a_null_first_in_a_desc_sort_is_said_and_fits_the_budget() -> None:
    types = [("text", "scalar"), ("numeric", "scalar")]
    rows = [["a", None], ["b", "9.5"]] + [["c" * 40, "1"]] * 500
    said = encode(rows, types, max_chars=3_000, nulls_first=(1, "total"))
    assert said["notice"].startswith(
        "The first row has no total: ORDER BY … DESC puts NULLs first in PostgreSQL; for the "
        "largest values first write ORDER BY … DESC NULLS LAST"
    )
    assert said["truncated"] is True and "OFFSET" in said["notice"]  # both, within the budget
    quiet = encode(rows[1:3], types, nulls_first=(1, "total"))  # the first row has a total
    assert quiet["notice"] is None
    unasked = encode(rows[:2], types)
    assert unasked["notice"] is None


def test_what_an_empty_answer_adds_is_said_only_when_it_is_empty() -> None:
    said = "Try ILIKE."
    assert encode([], [("int4", "scalar")], if_empty=said)["notice"] == said
    assert encode([[0]], [("int8", "scalar")], if_empty=said)["notice"] == said  # count(*) = 0
    assert encode([[3]], [("int8", "scalar")], if_empty=said)["notice"] is None
    assert encode([[0], [1]], [("int4", "scalar")], if_empty=said)["notice"] is None
    assert encode([[False]], [("bool", "scalar")], if_empty=said)["notice"] is None
    assert encode([[0, 0]], [("int4", "scalar")] * 2, if_empty=said)["notice"] is None


def test_max_rows_truncates_with_its_own_notice() -> None:
    decoded = encode([[i] for i in range(10)], [("int4", "scalar")], max_rows=3)
    assert decoded["rows"] == [[0], [1], [2]]
    assert decoded["truncated"] is True
    assert "max_rows=3" in decoded["notice"]


def test_exactly_max_rows_is_not_truncated() -> None:
    decoded = encode([[i] for i in range(3)], [("int4", "scalar")], max_rows=3)
    assert decoded["truncated"] is False


def test_unordered_truncation_warns_that_rows_are_arbitrary() -> None:
    rows = [["y" * 100]] * 200
    ordered = encode(rows, [("text", "scalar")], max_chars=3_000, has_order_by=True)
    unordered = encode(rows, [("text", "scalar")], max_chars=3_000, has_order_by=False)
    assert "arbitrary" not in ordered["notice"]
    assert "arbitrary" in unordered["notice"]


def test_huge_cell_is_clipped_with_marker_not_dropped() -> None:
    decoded = encode(
        [["z" * 50_000, 7]], [("text", "scalar"), ("int4", "scalar")], max_cell_chars=500
    )
    cell = decoded["rows"][0][0]
    assert cell.startswith("z" * 500)
    assert cell.endswith("…[clipped 500/50000 chars]")
    assert decoded["rows"][0][1] == 7


def test_first_row_larger_than_budget_is_squeezed_to_fit() -> None:
    # cells under max_cell_chars, but together far over the response budget
    row = ["a" * 900] * 20 + [{"k": "v" * 900}]
    types = [("text", "scalar")] * 20 + [("jsonb", "scalar")]
    row[-1] = orjson.dumps(row[-1]).decode()
    decoded = encode([row, row], types, max_chars=4_000, max_cell_chars=1_000)
    assert decoded["row_count"] == 1
    assert decoded["truncated"] is True
    assert all("clipped" in cell for cell in decoded["rows"][0])


def test_clip_text_leaves_short_text_alone() -> None:
    assert clip_text("short", 10) == "short"


def test_non_ascii_counts_bytes_so_characters_stay_under_the_limit() -> None:
    rows = [["€" * 100]] * 500
    decoded = encode(rows, [("text", "scalar")], max_chars=4_000)
    assert decoded["truncated"] is True
    assert len(orjson.dumps(decoded).decode()) <= 4_000


def test_suffix_reserve_covers_the_longest_suffix() -> None:
    encoder = ResultEncoder(
        [Column("c", "text")], [None], max_chars=100_000, max_rows=None, has_order_by=False
    )
    encoder.add(["x" * 10])
    encoder.overflow = True
    result = encoder.finish(99_999_999.99)
    suffix = result.body[result.body.index(b'],"row_count"') :]
    assert len(suffix) < SUFFIX_RESERVE_CHARS


def test_too_many_columns_for_the_budget_is_refused_not_crashed() -> None:
    from sqlgateway.errors import RejectedError

    columns = [Column(f"column_{i}", "text") for i in range(200)]
    with pytest.raises(RejectedError) as info:
        ResultEncoder(columns, [None] * 200, max_chars=2_000, max_rows=None, has_order_by=True)
    assert info.value.construct == "columns"


def test_executed_sql_leads_the_body_within_the_budget() -> None:
    sql = "SELECT x FROM t -- " + "y" * 500
    encoder = ResultEncoder(
        [Column("x", "text")],
        [None],
        max_chars=2_000,
        max_rows=None,
        has_order_by=True,
        executed_sql=sql,
    )
    while encoder.add(["z" * 50]):
        pass
    result = encoder.finish(1.0)
    assert len(result.body) <= 2_000
    assert result.body.startswith(b'{"sql":"SELECT x FROM t')
    assert orjson.loads(result.body)["sql"] == sql


def test_the_callers_notice_comes_first_and_fits_the_budget() -> None:
    notice = "claims.loss_type = 'flood' matches no row: " + "é" * 900
    for max_chars in (1_500, 3_000, 10_000):
        encoder = ResultEncoder(
            [Column("x", "text")],
            [None],
            max_chars=max_chars,
            max_rows=None,
            has_order_by=False,
            notice=notice,
        )
        while encoder.add(["z" * 40]):
            pass
        result = encoder.finish(1.0)
        assert len(result.body) <= max_chars
        said = orjson.loads(result.body)["notice"]
        assert said.startswith(notice[:20]) and " Returned " in said and "no ORDER BY" in said
        if max_chars == 10_000:
            assert said.startswith(notice + " Returned ")
    quiet = ResultEncoder(
        [Column("x", "text")], [None], max_chars=1_000, max_rows=None, has_order_by=True,
        notice="just this.",
    )  # fmt: skip
    quiet.add(["a"])
    assert orjson.loads(quiet.finish(1.0).body)["notice"] == "just this."
