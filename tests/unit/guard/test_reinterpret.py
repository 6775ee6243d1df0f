"""Text sqlglot reads otherwise than PostgreSQL would: noted, never changed."""

from __future__ import annotations

import pytest

from sqlgateway.guard import GuardPolicy, check_sql
from sqlgateway.guard.reinterpret import BRACKETS_NOTE, LIMIT_NOTE

POLICY = GuardPolicy()


@pytest.mark.parametrize(
    ("sql", "notes"),
    [
        ("SELECT [status] FROM claims", (BRACKETS_NOTE,)),
        ("SELECT claim_id FROM claims GROUP BY [status], claim_id", (BRACKETS_NOTE,)),
        ("SELECT claim_id FROM claims LIMIT 10, 20", (LIMIT_NOTE,)),
        ("SELECT [status] FROM claims LIMIT 1, 2", (BRACKETS_NOTE, LIMIT_NOTE)),
        ("SELECT ARRAY[1, 2], (ARRAY[1])[1], '{1}'::int[] FROM claims", ()),
        ("SELECT details -> 'x' FROM claims LIMIT 10 OFFSET 20", ()),
        ("SELECT 'a [b]' FROM claims WHERE description = 'limit 1, 2'", ()),
    ],
)
def test_reinterpretations_are_noted(sql: str, notes: tuple[str, ...]) -> None:
    assert check_sql(sql, POLICY).notes == notes


def test_notes_name_no_literal_so_a_cached_shape_keeps_them_true() -> None:
    for note in (BRACKETS_NOTE, LIMIT_NOTE):
        assert not any(char.isdigit() for char in note)
