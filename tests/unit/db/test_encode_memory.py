"""encode: what the encoder holds while it fills a response is about the response's size."""

from __future__ import annotations

import tracemalloc

from sqlgateway.db.encode import Column, ResultEncoder

BUDGET = 95_000


def test_many_short_rows_hold_about_their_own_size() -> None:
    """orjson's bytes keep a 4 KiB buffer however short the row: kept one by one, the
    13,000 one-number rows a response holds took 54 MB."""
    encoder = ResultEncoder(
        [Column("n", "int4")], [None], max_chars=BUDGET, max_rows=None, has_order_by=True
    )
    tracemalloc.start()
    try:
        rows = 0
        while encoder.add([rows]):
            rows += 1
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rows > 10_000
    assert held < 4 * BUDGET
    assert len(encoder.finish(1.0).body) <= BUDGET


def test_squeezing_a_wide_first_row_holds_about_its_own_size() -> None:
    """Squeezed cell by cell, 1,600 cells took 4 KiB each (6.5 MB) in orjson's buffers."""
    columns, budget = 1_600, 400_000
    encoder = ResultEncoder(
        [Column(f"c{i}", "text") for i in range(columns)],
        [None] * columns,
        max_chars=budget,
        max_rows=None,
        has_order_by=True,
    )
    row = ["x" * 300] * columns  # 480,000 characters: squeezed to fit
    tracemalloc.start()
    try:
        assert encoder.add(row)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 10 * columns * 300  # 3.5 MB; 9.5 MB with orjson's buffers kept
    assert "…[clipped " in encoder.finish(1.0).body.decode()
