"""`sqlgateway serve`: what it resolves and how it runs uvicorn (the banner is banner.py's)."""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import signal
import sys
from typing import Any

from pydantic import SecretStr

from sqlgateway.banner import banner
from sqlgateway.command import load_settings
from sqlgateway.settings import Settings
from sqlgateway.target import database_target, demo_audit_url


def serve(args: argparse.Namespace) -> int:
    """`sqlgateway serve`: resolve the settings (the database or the embedded demo, with its
    docs and audit database; a generated key), print the banner, run uvicorn until a signal
    stops it."""
    from sqlgateway.app import create_app

    overrides: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "database_url": args.database_url,
        "workers": args.workers,
    }
    settings = load_settings(**overrides)
    with database_target(settings, progress=sys.stdout) as target:
        if target.server is not None:
            overrides["database_url"] = target.database_url
            if settings.schema_docs_dir is None:
                overrides["schema_docs_dir"] = target.schema_docs_dir
            if settings.audit_sink in ("auto", "postgres") and settings.audit_database_url is None:
                overrides["audit_database_url"] = demo_audit_url(target.server)
        generated_key = None
        if settings.auth == "api_key" and not settings.api_keys:
            from sqlgateway.auth.api_keys import key_entry, new_key

            generated_key = new_key()
            overrides["api_keys"] = key_entry("generated", generated_key)
        settings = load_settings(**overrides)
        _check_role_before_listening(settings)
        print(banner(settings, generated_key), flush=True)
        # uvicorn re-raises the signal that stopped it once it has shut down; turn SIGTERM
        # into a normal exit so the embedded server is stopped too.
        signal.signal(signal.SIGTERM, _exit_normally)
        app = create_app(settings, tune_gc=True)
        _run_workers(app, settings, overrides)
    return 0


def _run_workers(app: Any, settings: Settings, overrides: dict[str, Any]) -> None:
    """uvicorn with `app` in this process, or `settings.workers` processes that each build
    their own app from the environment `overrides` make."""
    import uvicorn

    from sqlgateway.logs import uvicorn_log_config

    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_config": uvicorn_log_config(settings),
        "access_log": False,  # RequestLog writes one line per request instead
        # forwarded headers only from the proxies the operator named (audit client_addr)
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": ",".join(settings.trusted_proxies) or None,
        # in-flight requests may finish (they end by the deadline); then the lifespan
        # closes the pools
        "timeout_graceful_shutdown": math.ceil(settings.request_deadline_ms / 1000),
    }
    if settings.workers == 1:
        uvicorn.run(app, **options)
        return
    # each worker process builds its own app (and pools) from the environment
    from sqlgateway.metrics.registry import worker_metrics_dir

    os.environ.update(_worker_environment(overrides))
    # one metrics directory shared by the workers: every scrape sees all of them
    with worker_metrics_dir():
        uvicorn.run(
            "sqlgateway.app:app_from_environment",
            factory=True,
            workers=settings.workers,
            **options,
        )


def _check_role_before_listening(settings: Settings) -> None:
    """The role check every pool connection runs, once before listening: an unsafe role stops
    `serve` with its report (UnsafeRoleError) instead of a failed start-up. A database that
    cannot be reached now is left to the pools, which connect when it answers."""
    import asyncpg

    from sqlgateway.db.driver_errors import DATABASE_ERRORS
    from sqlgateway.role.inspect import require_safe_role

    async def check(url: str) -> None:
        try:
            conn = await asyncpg.connect(url, timeout=10)
        except DATABASE_ERRORS:
            return
        try:
            await require_safe_role(conn, settings.scope_allowed_roles)
        finally:
            await conn.close()

    assert settings.database_url is not None
    for url in (settings.database_url, *settings.replica_urls):
        asyncio.run(check(url.get_secret_value()))


def _worker_environment(overrides: dict[str, Any]) -> dict[str, str]:
    """What `serve` resolved (embedded database, generated key, demo docs, audit database),
    as the SQLGATEWAY_* variables its worker processes read their settings from."""
    environment = {}
    for name, value in overrides.items():
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        environment[f"SQLGATEWAY_{name.upper()}"] = str(value)
    return environment


def _exit_normally(signum: int, frame: object) -> None:
    raise SystemExit(0)
