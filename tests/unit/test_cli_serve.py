"""`serve`: one worker runs the app in process; several run the import-string factory with the
resolved settings exported to them. uvicorn itself is replaced, so nothing listens."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette

from sqlgateway import cli
from sqlgateway.app import app_from_environment
from sqlgateway.db.pools import describe_dsn

URL = "postgresql://reader:s3cret@db.example:6432/claims"


@pytest.fixture
def uvicorn_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, dict[str, Any]]]:
    import uvicorn

    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append((app, options)))
    for name in ("API_KEYS", "DATABASE_URL", "WORKERS", "HOST", "PORT", "SCHEMA_DOCS_DIR"):
        # set first, so monkeypatch restores the original (absent) value after `serve` sets it
        monkeypatch.setenv(f"SQLGATEWAY_{name}", "")
        monkeypatch.delenv(f"SQLGATEWAY_{name}")
    monkeypatch.setenv("SQLGATEWAY_API_KEYS", f"k1:sha256:{'1' * 64},k2:sha256:{'2' * 64}")
    return calls


def test_one_worker_serves_the_app_in_process(uvicorn_calls: list[Any]) -> None:
    assert cli.main(["serve", "--database-url", URL, "--port", "8123"]) == 0
    [(app, options)] = uvicorn_calls
    assert isinstance(app, Starlette)
    assert "workers" not in options
    assert options["timeout_graceful_shutdown"] == 40  # the request deadline
    assert options["proxy_headers"] is False  # no proxy named: X-Forwarded-For is ignored


def test_named_proxies_are_the_only_ones_believed(
    uvicorn_calls: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SQLGATEWAY_TRUSTED_PROXIES", "10.0.0.5, 10.0.0.6")
    assert cli.main(["serve", "--database-url", URL, "--port", "8123"]) == 0
    [(_, options)] = uvicorn_calls
    assert options["proxy_headers"] is True
    assert options["forwarded_allow_ips"] == "10.0.0.5,10.0.0.6"


def test_workers_run_the_factory_with_the_resolved_settings_exported(
    uvicorn_calls: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    monkeypatch.delenv("SQLGATEWAY_API_KEYS")  # serve generates one: workers must get it too
    assert cli.main(["serve", "--database-url", URL, "--port", "8123", "--workers", "3"]) == 0
    [(app, options)] = uvicorn_calls
    assert app == "sqlgateway.app:app_from_environment"
    assert options["factory"] is True
    assert options["workers"] == 3
    assert options["port"] == 8123
    assert options["timeout_graceful_shutdown"] == 40
    assert os.environ["SQLGATEWAY_DATABASE_URL"] == URL
    assert os.environ["SQLGATEWAY_PORT"] == "8123"
    assert len(os.environ["SQLGATEWAY_API_KEYS"]) > 20
    assert isinstance(app_from_environment(), Starlette)  # what each worker builds


def test_the_serving_app_tunes_the_collector_in_both_modes(
    uvicorn_calls: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlgateway.app  # serve imports create_app from it when it runs

    built: list[dict[str, Any]] = []
    real = sqlgateway.app.create_app

    def spy(settings: Any, **options: Any) -> Starlette:
        built.append(options)
        return real(settings, **options)

    monkeypatch.setattr(sqlgateway.app, "create_app", spy)
    assert cli.main(["serve", "--database-url", URL, "--port", "8123"]) == 0
    app_from_environment()  # what each worker of `serve --workers N` builds
    assert built == [{"tune_gc": True}, {"tune_gc": True}]


def test_zero_workers_is_refused(uvicorn_calls: list[Any]) -> None:
    assert cli.main(["serve", "--database-url", URL, "--workers", "0"]) == 2
    assert uvicorn_calls == []


@pytest.mark.parametrize(
    ("dsn", "shown"),
    [
        (URL, "db.example:6432/claims"),
        ("postgresql://reader:pw@replica-1/claims", "replica-1:5432/claims"),
        ("postgresql://postgres@/demo?host=/tmp/sock&port=5433", "/tmp/sock:5433/demo"),
    ],
)
def test_database_names_in_logs_never_hold_the_password(dsn: str, shown: str) -> None:
    assert describe_dsn(dsn) == shown
