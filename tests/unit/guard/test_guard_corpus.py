"""The shared corpus: every refused entry is refused by name, every accepted one accepted."""

from __future__ import annotations

import collections
from typing import Any

import pytest

from sqlgateway.errors import RejectedError
from sqlgateway.guard import GuardPolicy, Verdict, check_sql


def test_refused_entry_is_refused_naming_the_construct(
    refused_entry: dict[str, Any], policy: GuardPolicy
) -> None:
    with pytest.raises(RejectedError) as caught:
        check_sql(refused_entry["sql"], policy)
    error = caught.value
    assert error.construct
    assert error.hint
    if error.construct not in ("empty statement",):
        assert "not allowed" in error.message
        assert error.construct.split()[-1].lower() in error.message.lower()


def test_accepted_entry_is_accepted(accepted_entry: dict[str, Any], policy: GuardPolicy) -> None:
    verdict = check_sql(accepted_entry["sql"], policy)
    assert isinstance(verdict, Verdict)
    assert verdict.sql.strip() == verdict.sql
    assert not verdict.sql.endswith(";")
    assert list(verdict.tables) == sorted(set(verdict.tables))
    assert list(verdict.functions) == sorted(set(verdict.functions))


def test_accepted_entry_round_trips(accepted_entry: dict[str, Any], policy: GuardPolicy) -> None:
    first = check_sql(accepted_entry["sql"], policy)
    second = check_sql(first.sql, policy)
    assert second == first


def test_corpus_is_large_and_varied(
    refused_corpus: list[dict[str, Any]], accepted_corpus: list[dict[str, Any]]
) -> None:
    families = collections.Counter(entry["family"] for entry in refused_corpus)
    assert len(refused_corpus) >= 120
    assert len(families) >= 25
    assert len(accepted_corpus) >= 40
    assert all(set(entry) == {"sql", "family"} for entry in refused_corpus)
    assert all(set(entry) == {"sql", "note"} for entry in accepted_corpus)
    assert len({entry["sql"] for entry in refused_corpus}) == len(refused_corpus)


def test_accepted_corpus_reads_only_demo_tables(
    accepted_corpus: list[dict[str, Any]], policy: GuardPolicy
) -> None:
    demo = {"policyholders", "adjusters", "policies", "claims", "claim_events", "payments"}
    for entry in accepted_corpus:
        tables = {name.removeprefix("public.") for name in check_sql(entry["sql"], policy).tables}
        assert tables <= demo, entry["note"]
