"""Fixtures of the guard's unit tests: the shared corpus (tests/corpus/*.yaml) and a policy.

Tests that take ``refused_entry`` or ``accepted_entry`` run once per corpus entry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from sqlgateway.guard import GuardPolicy

CORPUS = Path(__file__).resolve().parents[2] / "corpus"


def _load(name: str) -> list[dict[str, Any]]:
    entries = yaml.safe_load((CORPUS / f"{name}.yaml").read_text(encoding="utf-8"))
    assert isinstance(entries, list)
    return entries


_REFUSED = _load("refused")
_ACCEPTED = _load("accepted")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "refused_entry" in metafunc.fixturenames:
        ids = [f"{i}-{entry['family']}" for i, entry in enumerate(_REFUSED)]
        metafunc.parametrize("refused_entry", _REFUSED, ids=ids)
    if "accepted_entry" in metafunc.fixturenames:
        ids = [f"{i}-{entry['note'][:40]}" for i, entry in enumerate(_ACCEPTED)]
        metafunc.parametrize("accepted_entry", _ACCEPTED, ids=ids)


@pytest.fixture(scope="session")
def refused_corpus() -> list[dict[str, Any]]:
    return _REFUSED


@pytest.fixture(scope="session")
def accepted_corpus() -> list[dict[str, Any]]:
    return _ACCEPTED


@pytest.fixture(scope="session")
def policy() -> GuardPolicy:
    return GuardPolicy()
