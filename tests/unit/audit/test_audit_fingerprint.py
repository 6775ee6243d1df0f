"""fingerprint: one shape per question, whatever its values, spacing, case and comments."""

from __future__ import annotations

import hashlib
import re
import time

import pytest

from sqlgateway.audit.fingerprint import MAX_NESTING, MAX_TOKENIZED_CHARS, fingerprint

SAME_SHAPE = [
    (
        "SELECT * FROM claims WHERE claim_id = 42",
        "select *\n  from   CLAIMS\twhere Claim_Id = 123456 -- point lookup",
    ),
    (
        "SELECT status, count(*) FROM claims WHERE opened_at > '2025-01-01' GROUP BY status",
        "/* report */ SELECT STATUS, COUNT( * ) FROM claims WHERE opened_at > '2026-06-30'"
        " group by status;",
    ),
    (
        "SELECT * FROM claims WHERE claim_id IN (1, 2)",
        "SELECT * FROM claims WHERE claim_id IN (7,8,9,10)",
    ),
    (
        "SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS v(id, label)",
        "SELECT * FROM (VALUES (10, 'x'), (20, 'y'), (30, 'z')) AS v(id, label)",
    ),
    ("SELECT x = ANY(ARRAY[1, 2, 3]) FROM t", "SELECT x = ANY(ARRAY[4,5]) FROM t"),
    ("SELECT * FROM t WHERE a = -3", "SELECT * FROM t WHERE a = 3"),
    ("SELECT * FROM t WHERE a = 1.5e3", "SELECT * FROM t WHERE a = 7"),
    ("SELECT x'ff', b'101', N'n', E'\\n', $$dollar$$", "SELECT X'00', B'0', n'm', e'x', $t$ t $t$"),
    ("SELECT * FROM t LIMIT 10 OFFSET 20", "SELECT * FROM t LIMIT 50 OFFSET 0"),
    ('SELECT "Mixed" FROM t', 'select "Mixed" from T'),
    (
        "SELECT interval '1 day', '2020-01-01'::date",
        "SELECT INTERVAL '2 hours', '1999-12-31'::DATE",
    ),
]

OTHER_SHAPE = [
    ("SELECT * FROM claims WHERE claim_id = 1", "SELECT * FROM policies WHERE claim_id = 1"),
    ("SELECT claim_id FROM claims", "SELECT status FROM claims"),
    ("SELECT * FROM claims WHERE a = 1", "SELECT * FROM claims WHERE a > 1"),
    ("SELECT * FROM claims WHERE a = 1", "SELECT * FROM claims WHERE a = 1 AND b = 2"),
    ("SELECT a FROM t ORDER BY a", "SELECT a FROM t ORDER BY a DESC"),
    ('SELECT "Mixed" FROM t', 'SELECT "mixed" FROM t'),
    ("SELECT * FROM t WHERE a IN (1)", "SELECT * FROM t WHERE a IN (1, 2)"),
    ("SELECT * FROM t WHERE a = $1", "SELECT * FROM t WHERE a = $2"),
    ("SELECT a - 1 FROM t", "SELECT a + 1 FROM t"),
    ("SELECT CASE WHEN a THEN 1 END - 1 FROM t", "SELECT CASE WHEN a THEN 1 END + 1 FROM t"),
    ("SELECT * FROM (VALUES (1, 2)) v", "SELECT * FROM (VALUES (1)) v"),
]


@pytest.mark.parametrize(("first", "second"), SAME_SHAPE)
def test_values_spacing_case_and_comments_do_not_change_the_fingerprint(
    first: str, second: str
) -> None:
    assert fingerprint(first) == fingerprint(second)


@pytest.mark.parametrize(("first", "second"), OTHER_SHAPE)
def test_other_tables_columns_and_structure_change_it(first: str, second: str) -> None:
    assert fingerprint(first)[0] != fingerprint(second)[0]


@pytest.mark.parametrize(
    ("sql", "normalized"),
    [
        (
            "select * from claims where claim_id in (1, 2, 3) -- hi",
            "SELECT * FROM claims WHERE claim_id IN (?, ...)",
        ),
        (
            "SELECT count(*), sum(x) FROM t WHERE d > '2020-01-01'::date AND e = $1 LIMIT 10;",
            "SELECT count(*), sum(x) FROM t WHERE d > ?::DATE AND e = $1 LIMIT ?",
        ),
        (
            'SELECT "My"."T".a FROM "My"."T" AS t',
            'SELECT "My"."T".a FROM "My"."T" AS t',
        ),
        (
            "SELECT * FROM (VALUES (1, 'a'), (2, 'b'), (3, 'c')) AS v(id, label)",
            "SELECT * FROM (VALUES (?, ?), ...) AS v(id, label)",
        ),
        (
            "SELECT * FROM t WHERE (a, b) IN ((1, 2), (3, 4)) AND c IN (1, 2, $1, 3)",
            "SELECT * FROM t WHERE (a, b) IN ((?, ?), ...) AND c IN (?, ..., $1, ?)",
        ),
        (
            "SELECT a FROM t WHERE a IN (SELECT b FROM u WHERE c IN (1, 2))",
            "SELECT a FROM t WHERE a IN (SELECT b FROM u WHERE c IN (?, ...))",
        ),
        ("SELECT ARRAY[[1, 2], [3, 4]]", "SELECT ARRAY[[?, ...], ...]"),
        ("SELECT a FROM t WHERE a IN (b, c)", "SELECT a FROM t WHERE a IN (b, c)"),
    ],
)
def test_normalized_text(sql: str, normalized: str) -> None:
    assert fingerprint(sql)[1] == normalized


def test_the_fingerprint_is_16_hex_digits_of_the_normalized_text() -> None:
    digest, normalized = fingerprint("SELECT 1")
    assert re.fullmatch(r"[0-9a-f]{16}", digest)
    assert digest == hashlib.sha256(normalized.encode()).hexdigest()[:16]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 'unterminated",
        "SELECT " + "(" * (MAX_NESTING + 5) + "1" + ")" * (MAX_NESTING + 5),
        "SELECT 'x' " + " " * MAX_TOKENIZED_CHARS,
    ],
)
def test_what_cannot_be_tokenized_falls_back_to_collapsed_lower_case_text(sql: str) -> None:
    digest, normalized = fingerprint(sql)
    assert normalized == " ".join(sql.lower().split())
    assert fingerprint(sql.upper().replace(" ", "   "))[0] == digest


def test_a_100_kb_query_costs_little() -> None:
    sql = "SELECT a, b FROM t WHERE id IN (" + ", ".join(map(str, range(16_000))) + ") AND x = 'y'"
    wide = "SELECT " + ", ".join(f"col_{i} + 'text{i}'" for i in range(5_000)) + " FROM t"
    assert len(sql) > 100_000 and len(wide) > 100_000
    started = time.perf_counter()
    assert fingerprint(sql)[1] == "SELECT a, b FROM t WHERE id IN (?, ...) AND x = ?"
    fingerprint(wide)
    assert time.perf_counter() - started < 2.0  # about 0.15 s on a laptop


def test_empty_text_has_a_fingerprint() -> None:
    assert fingerprint("")[1] == ""
    assert fingerprint("   ") == fingerprint("")


def test_the_shape_cache_never_merges_what_differs() -> None:
    """Integers are masked before the cache: names, parameters, decimals and quoted names
    that hold digits must still tell queries apart."""
    same = [
        ("SELECT * FROM claims WHERE claim_id = 5", "SELECT * FROM claims WHERE claim_id = 77"),
        ("SELECT a FROM t LIMIT 10 OFFSET 20", "SELECT a FROM t LIMIT 1 OFFSET 2"),
    ]
    different = [
        ("SELECT * FROM t1", "SELECT * FROM t2"),
        ("SELECT $1", "SELECT $2"),
        ('SELECT "col 1" FROM t', 'SELECT "col 2" FROM t'),
        ("SELECT a::numeric(10, 2) FROM t", "SELECT a::text FROM t"),
    ]
    for left, right in same:
        assert fingerprint(left) == fingerprint(right)
    for left, right in different:
        assert fingerprint(left)[0] != fingerprint(right)[0], (left, right)
    # a text the tokenizer cannot split falls back on the original text, not the masked one
    assert fingerprint("SELECT 'open 1")[1] == "select 'open 1"
