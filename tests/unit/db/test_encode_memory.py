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
