"""`sqlgateway serve`: what it resolves, what it prints, how it runs uvicorn."""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import signal
import sys
import time
from typing import Any

from pydantic import SecretStr

from sqlgateway import __version__
from sqlgateway.cli import load_settings
from sqlgateway.settings import Settings


def serve(args: argparse.Namespace) -> int:
    """`sqlgateway serve`: resolve the settings (embedded demo, generated key, demo docs, the
    demo's audit database), print the banner, run uvicorn until a signal stops it."""
    import uvicorn

    from sqlgateway.api.privacy import PrivacyPolicyError
    from sqlgateway.app import create_app
    from sqlgateway.catalog.schema_docs import SchemaDocsError
    from sqlgateway.logs import uvicorn_log_config

    overrides: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "database_url": args.database_url,
        "workers": args.workers,
    }
    settings = load_settings(**overrides)
    server = None
    if settings.database_url is None:
        from sqlgateway.demo.database import DemoError, ensure_demo
        from sqlgateway.demo.embedded import EmbeddedServerError, start_embedded

        started = time.perf_counter()
        print(f"sqlgateway: starting embedded PostgreSQL in {settings.embedded_data_dir} …")
        settings.embedded_data_dir.parent.mkdir(parents=True, exist_ok=True)
        try:
            server = start_embedded(settings.embedded_data_dir)
            database = asyncio.run(ensure_demo(server.admin_dsn()))
        except (EmbeddedServerError, DemoError) as error:
            print(f"sqlgateway: {error}", file=sys.stderr)
            return 1
        what = "created" if database.created else "reused"
        print(
            f"sqlgateway: PostgreSQL {server.version} ready, demo database {what} "
            f"in {time.perf_counter() - started:.1f} s"
        )
        overrides["database_url"] = database.reader_dsn
        if settings.schema_docs_dir is None:
            from sqlgateway.demo.files import demo_docs_dir

            overrides["schema_docs_dir"] = demo_docs_dir()
        if settings.audit_sink in ("auto", "postgres") and settings.audit_database_url is None:
            from sqlgateway.audit.provision import ensure_audit_database
            from sqlgateway.demo.database import READER_ROLE

            # the demo's audit trail: a separate database of the same server, its own role
            overrides["audit_database_url"] = asyncio.run(
                ensure_audit_database(server.admin_dsn(), reader_role=READER_ROLE)
            )
    generated_key = None
    if settings.auth == "api_key" and not settings.api_keys:
        from sqlgateway.auth.api_keys import key_entry, new_key

        generated_key = new_key()
        overrides["api_keys"] = key_entry("generated", generated_key)
    settings = load_settings(**overrides)

    url = settings.served_url
    print()
    workers = f", {settings.workers} workers" if settings.workers > 1 else ""
    print(f"  sqlgateway {__version__} on http://{settings.host}:{settings.port}{workers}")
    print(f"  OpenAPI spec:   {url}/openapi.yaml")
    print(f"  Schema docs:    {settings.schema_docs_dir or 'none (SQLGATEWAY_SCHEMA_DOCS_DIR)'}")
    for line in _auth_banner(settings, generated_key):
        print(line)
    print(f"  Audit trail:    {_audit_banner(settings)}")
    print("  try:")
    credential = {"none": "", "oauth": "-H 'Authorization: Bearer <access token>' "}.get(
        settings.auth, f"-H 'Authorization: Bearer {generated_key or '<key>'}' "
    )
    print(
        f"    curl -s {url}/query {credential}"
        "-H 'Content-Type: application/json' "
        """-d '{"sql": "SELECT status, count(*) FROM claims GROUP BY status"}'"""
    )
    print(flush=True)
    # uvicorn re-raises the signal that stopped it once it has shut down; turn SIGTERM into a
    # normal exit so the embedded server below is stopped too.
    signal.signal(signal.SIGTERM, _exit_normally)
    try:
        try:
            app = create_app(settings, tune_gc=True)
        except (SchemaDocsError, PrivacyPolicyError) as error:
            print(f"sqlgateway: {error}", file=sys.stderr)
            return 1
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
        else:
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
    finally:
        if server is not None:
            server.stop()
    return 0


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


def _auth_banner(settings: Settings, generated_key: str | None) -> list[str]:
    if settings.auth == "none":
        return [
            "  !!! AUTHENTICATION IS OFF (SQLGATEWAY_AUTH=none): anyone who can reach "
            f"{settings.host}:{settings.port} can read everything the database role can. !!!"
        ]
    if settings.auth == "oauth":
        source = settings.oauth_jwks_url or settings.oauth_introspection_url
        return [f"  Auth:           OAuth access tokens from {settings.oauth_issuer} ({source})"]
    if generated_key:
        return [
            f"  API key:        {generated_key}",
            "                  (generated for this run; make a lasting one with "
            "`sqlgateway hash-key --name <name>`)",
        ]
    names = ", ".join(entry.get_secret_value().split(":", 1)[0] for entry in settings.api_keys)
    return [f"  API keys:       {names} (SQLGATEWAY_API_KEYS)"]


def _audit_banner(settings: Settings) -> str:
    destination = settings.audit_destination
    if destination == "none":
        return "OFF (SQLGATEWAY_AUDIT_SINK=none): requests are not audited"
    if destination == "jsonl":
        return f"{settings.audit_file}"
    assert settings.audit_database_url is not None
    from sqlgateway.db.pools import describe_dsn

    where = describe_dsn(settings.audit_database_url.get_secret_value())
    return f"PostgreSQL {where}, table {settings.audit_schema}.audit_events"


def _exit_normally(signum: int, frame: object) -> None:
    raise SystemExit(0)
