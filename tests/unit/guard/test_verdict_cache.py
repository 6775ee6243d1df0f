"""verdict_cache: a verdict found by shape is exactly the verdict the guard would give."""

from __future__ import annotations

import dataclasses
import re

import pytest
from conftest import load_corpus
from hypothesis import given, settings
from hypothesis import strategies as st

from sqlgateway.errors import GuardError, RejectedError
from sqlgateway.guard import GuardPolicy, Verdict, check_sql
from sqlgateway.guard.policy import StarColumns
from sqlgateway.guard.verdict_cache import StarVerdicts, VerdictCache

ACCEPTED = [e["sql"] for e in load_corpus("accepted")]
REFUSED = [e["sql"] for e in load_corpus("refused")]
WITH_INTEGERS = [sql for sql in ACCEPTED if re.search(r"(?<![\w.'])[0-9]+(?![\w.'])", sql)]


def guard(sql: str) -> Verdict:
    return check_sql(sql, GuardPolicy())


def test_a_point_lookup_with_another_id_is_a_hit_with_the_new_id() -> None:
    cache = VerdictCache(guard, 10)
    first = cache("SELECT * FROM claims WHERE claim_id = 123456")
    second = cache("select *   from claims where claim_id = 42")
    assert (cache.misses, cache.hits) == (1, 1)
    assert first.sql.endswith("= 123456")
    assert second == guard("SELECT * FROM claims WHERE claim_id = 42")


def test_other_literals_are_part_of_the_shape() -> None:
    cache = VerdictCache(guard, 10)
    cache("SELECT * FROM claims WHERE claim_number = 'CLM-0000001'")
    cache("SELECT * FROM claims WHERE claim_number = 'CLM-0000002'")
    cache("SELECT * FROM claims WHERE amount_claimed > 1.5")
    cache("SELECT * FROM claims WHERE amount_claimed > 2.5")
    assert cache.hits == 0


@pytest.mark.parametrize("sql", REFUSED)
def test_refusals_are_never_remembered(sql: str) -> None:
    cache = VerdictCache(guard, 10)
    for _ in range(2):
        with pytest.raises(GuardError):
            cache(sql)
    assert cache.hits == 0


def test_a_refused_shape_stays_refused_after_an_accepted_one() -> None:
    cache = VerdictCache(guard, 10)
    cache("SELECT claim_id FROM claims WHERE claim_id = 1")
    with pytest.raises(RejectedError):
        cache("SELECT claim_id FROM claims WHERE claim_id = 1; DELETE FROM claims")


def test_least_recently_used_shapes_are_evicted() -> None:
    cache = VerdictCache(guard, 2)
    for column in ("claim_id", "policy_id", "adjuster_id", "claim_id"):
        cache(f"SELECT {column} FROM claims WHERE claim_id = 1")
    assert cache.hits == 0 and cache.misses == 4


@settings(max_examples=200, deadline=None)
@given(
    sql=st.sampled_from(WITH_INTEGERS),
    numbers=st.lists(st.integers(min_value=0, max_value=10**12), min_size=1, max_size=8),
)
def test_a_hit_equals_a_fresh_verdict(sql: str, numbers: list[int]) -> None:
    cache = VerdictCache(guard, 10)
    cache(sql)
    replacements = iter(numbers * 20)
    variant = re.sub(r"(?<![\w.'])[0-9]+(?![\w.'])", lambda m: str(next(replacements)), sql)
    try:
        expected = guard(variant)
    except GuardError:
        with pytest.raises(GuardError):
            cache(variant)
        return
    assert cache(variant) == expected


def test_reordered_integers_are_put_back_where_rendering_moved_them() -> None:
    # sqlglot writes OFFSET … LIMIT … as LIMIT … OFFSET …; with equal values that reordering
    # is invisible in the query itself (a splice in written order once gave LIMIT 100 OFFSET
    # 10), so the cache learns it from a probe with distinct integers
    cache = VerdictCache(guard, 10)
    cache("SELECT claim_id FROM claims ORDER BY claim_id OFFSET 5 LIMIT 5")
    sql = "SELECT claim_id FROM claims ORDER BY claim_id OFFSET 100 LIMIT 10"
    assert cache(sql) == guard(sql)
    assert cache(sql).sql.endswith("LIMIT 10 OFFSET 100")
    assert (cache.misses, cache.hits) == (1, 2)
    # with distinct values the query shows the reordering itself
    cache = VerdictCache(guard, 10)
    cache("SELECT claim_id FROM claims ORDER BY claim_id OFFSET 7 LIMIT 3")
    other = "SELECT claim_id FROM claims ORDER BY claim_id OFFSET 1 LIMIT 2"
    assert cache(other) == guard(other)
    assert cache(other).sql.endswith("LIMIT 2 OFFSET 1")
    assert (cache.misses, cache.hits) == (1, 2)


def test_repeated_integers_are_learnt_from_one_probe() -> None:
    checked: list[str] = []

    def counting_guard(sql: str) -> Verdict:
        checked.append(sql)
        return guard(sql)

    cache = VerdictCache(counting_guard, 10)
    first = "SELECT claim_id FROM claims WHERE adjuster_id = 0 OR coalesce(adjuster_id, 0) = 0"
    assert cache(first) == guard(first)
    assert len(checked) == 2 and "734100000000000001" in checked[1]  # the probe
    second = "SELECT claim_id FROM claims WHERE adjuster_id = 7 OR coalesce(adjuster_id, 8) = 9"
    assert cache(second) == guard(second)
    assert len(checked) == 2 and cache.hits == 1


def test_a_shape_the_probe_disagrees_with_is_checked_every_time() -> None:
    checked: list[str] = []

    def refusing_probes(sql: str) -> Verdict:
        checked.append(sql)
        if "7341" in sql:
            raise RejectedError("no", construct="test", hint="test")
        return guard(sql)

    cache = VerdictCache(refusing_probes, 10)
    texts = [
        f"SELECT claim_id FROM claims WHERE claim_id = {n} OR policy_id = {n}" for n in (1, 2, 3)
    ]
    for sql in texts:
        assert cache(sql) == guard(sql)
    assert checked[0] == texts[0] and checked[2:] == texts[1:]  # one probe, then each text
    assert cache.hits == 0 and cache.misses == 3


def test_a_template_that_does_not_give_back_the_guards_sql_is_not_used() -> None:
    def value_dependent(sql: str) -> Verdict:
        # a renderer whose output depends on the integers beyond writing them back
        verdict = guard(sql)
        total = sum(int(n) for n in re.findall(r"\b[0-9]+\b", sql))
        return dataclasses.replace(verdict, sql=f"{verdict.sql} AND '{total}' <> ''")

    cache = VerdictCache(value_dependent, 10)
    for n in (10, 20):
        sql = f"SELECT claim_id FROM claims WHERE claim_id = {n} OR policy_id = {n}"
        assert cache(sql).sql.endswith(f"'{2 * n}' <> ''")
    assert cache.hits == 0


def test_comparisons_and_notes_stay_true_on_a_hit() -> None:
    cache = VerdictCache(guard, 10)
    cache("SELECT [status] FROM claims WHERE loss_type = 'flood' AND claim_id = 1 LIMIT 1, 2")
    hit = cache("SELECT [status] FROM claims WHERE loss_type = 'flood' AND claim_id = 9 LIMIT 3, 4")
    assert cache.hits == 1
    assert hit == guard(
        "SELECT [status] FROM claims WHERE loss_type = 'flood' AND claim_id = 9 LIMIT 3, 4"
    )
    assert hit.comparisons and hit.notes


def test_star_verdicts_follow_the_star_columns_of_the_catalog() -> None:
    checks = StarVerdicts(check_sql, GuardPolicy(), 10)
    holders = (StarColumns("public.policyholders", ("policyholder_id",), ("email",)),)
    first = checks("SELECT * FROM policyholders WHERE policyholder_id = 1", holders)
    assert first.omitted == ("policyholders.email",) and "email" not in first.sql
    again = checks("SELECT * FROM policyholders WHERE policyholder_id = 2", holders)
    assert again.sql.endswith("= 2") and again.omitted == first.omitted
    wider = (StarColumns("public.policyholders", ("policyholder_id", "city"), ("email",)),)
    assert '"city"' in checks("SELECT * FROM policyholders", wider).sql


def test_the_cache_is_bounded_by_the_characters_it_remembers() -> None:
    cache = VerdictCache(guard, 100, max_chars=64 * 60)
    lookup = "SELECT claim_id FROM claims WHERE claim_id = 1"  # 46 characters
    for column in ("claim_id", "policy_id"):
        cache(lookup.replace("SELECT claim_id", f"SELECT {column}"))
    long = lookup + " AND claim_id > 0" * 2  # 80 characters, over 3840 / 64: not remembered
    cache(long)
    cache(long)
    assert cache.misses == 4 and cache.hits == 0
    cache(lookup.replace("= 1", "= 2"))
    assert cache.hits == 1
    for n in range(100):  # 100 × 46 characters do not fit in 3,840: the oldest go
        cache(f"SELECT claim_id AS c{n:02} FROM claims WHERE claim_id = 1")
    cache(lookup)
    assert cache.hits == 1
