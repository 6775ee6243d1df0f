"""The package's public API: `__all__` is what `sqlgateway` offers, each name resolves to the
object its module defines, and importing the package imports none of them."""

from __future__ import annotations

import subprocess
import sys

import pytest

import sqlgateway
from sqlgateway.app import create_app
from sqlgateway.errors import GatewayError
from sqlgateway.guard import GuardPolicy, Verdict, check_sql
from sqlgateway.settings import Settings


def test_every_public_name_resolves_to_its_definition() -> None:
    expected = {
        "create_app": create_app,
        "Settings": Settings,
        "GatewayError": GatewayError,
        "check_sql": check_sql,
        "GuardPolicy": GuardPolicy,
        "Verdict": Verdict,
    }
    assert set(sqlgateway.__all__) == {*expected, "__version__"}
    for name, value in expected.items():
        assert getattr(sqlgateway, name) is value


def test_importing_the_package_is_cheap() -> None:
    """`import sqlgateway` (every CLI start) loads none of the app, driver or parser."""
    code = (
        "import sys, sqlgateway; "
        "print(sorted(m for m in ('starlette', 'asyncpg', 'sqlglot', 'sqlgateway.app') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        sqlgateway.no_such_name  # noqa: B018
