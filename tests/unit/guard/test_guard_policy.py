"""policy.py alone: normalisation, validation, settings."""

from __future__ import annotations

import dataclasses

import pytest

from sqlgateway.guard import GuardPolicy
from sqlgateway.settings import Settings


def test_default_policy_is_empty() -> None:
    policy = GuardPolicy()
    assert policy.extra_functions == frozenset()
    assert policy.allowed_schemas == frozenset()
    assert policy.allowed_tables == frozenset()
    assert policy.allowed_system_relations == frozenset()


def test_names_are_lower_cased_and_stripped() -> None:
    policy = GuardPolicy(
        extra_functions=frozenset({" Public.Fiscal_Quarter ", ""}),
        allowed_schemas=frozenset({"Sales"}),
        allowed_tables=frozenset({"Sales.Orders"}),
        allowed_system_relations=frozenset({"PG_CATALOG.PG_CLASS"}),
    )
    assert policy.extra_functions == frozenset({"public.fiscal_quarter"})
    assert policy.allowed_schemas == frozenset({"sales"})
    assert policy.allowed_tables == frozenset({"sales.orders"})
    assert policy.allowed_system_relations == frozenset({"pg_catalog.pg_class"})


def test_policy_is_frozen_and_hashable() -> None:
    policy = GuardPolicy(allowed_schemas=frozenset({"public"}))
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.allowed_schemas = frozenset()  # type: ignore[misc]
    assert {policy: 1}[GuardPolicy(allowed_schemas=frozenset({"PUBLIC"}))] == 1
    assert GuardPolicy() == GuardPolicy()


@pytest.mark.parametrize(
    "fields",
    [
        {"extra_functions": frozenset({"a.b.c"})},
        {"allowed_schemas": frozenset({"a.b"})},
        {"allowed_tables": frozenset({"claims"})},
        {"allowed_tables": frozenset({"db.public.claims"})},
        {"allowed_system_relations": frozenset({"pg_class"})},
    ],
)
def test_malformed_names_are_rejected(fields: dict[str, frozenset[str]]) -> None:
    with pytest.raises(ValueError):
        GuardPolicy(**fields)


def test_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SQLGATEWAY_ALLOWED_FUNCTIONS", "public.fiscal_quarter, Current_Setting")
    monkeypatch.setenv("SQLGATEWAY_ALLOWED_SCHEMAS", "public,sales")
    monkeypatch.setenv("SQLGATEWAY_ALLOWED_TABLES", "public.claims")
    monkeypatch.setenv("SQLGATEWAY_ALLOWED_SYSTEM_RELATIONS", "pg_catalog.pg_class")
    policy = GuardPolicy.from_settings(Settings())
    assert policy == GuardPolicy(
        extra_functions=frozenset({"public.fiscal_quarter", "current_setting"}),
        allowed_schemas=frozenset({"public", "sales"}),
        allowed_tables=frozenset({"public.claims"}),
        allowed_system_relations=frozenset({"pg_catalog.pg_class"}),
    )


def test_from_default_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FUNCTIONS", "SCHEMAS", "TABLES", "SYSTEM_RELATIONS"):
        monkeypatch.delenv(f"SQLGATEWAY_ALLOWED_{name}", raising=False)
    assert GuardPolicy.from_settings(Settings()) == GuardPolicy()
