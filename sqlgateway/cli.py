"""The `sqlgateway` command: parse flags → Settings → call the library. No logic lives here."""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr, ValidationError

from sqlgateway import __version__
from sqlgateway.settings import Settings

if TYPE_CHECKING:
    from sqlgateway.introspect import LiveTable
    from sqlgateway.schema_docs import SchemaDocs


def _settings(**overrides: Any) -> Settings:
    """Settings from the environment with the given flags on top; exits 2 with the reasons."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as error:
        print("sqlgateway: invalid configuration:", file=sys.stderr)
        for problem in error.errors():
            field = ".".join(str(p) for p in problem["loc"])
            name = f"SQLGATEWAY_{field.upper()}" if field else "settings"
            print(f"  {name}: {problem['msg']}", file=sys.stderr)
        raise SystemExit(2) from None


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from sqlgateway.api.privacy import PrivacyPolicyError
    from sqlgateway.app import create_app
    from sqlgateway.logs import uvicorn_log_config
    from sqlgateway.schema_docs import SchemaDocsError

    overrides: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "database_url": args.database_url,
        "workers": args.workers,
    }
    settings = _settings(**overrides)
    server = None
    if settings.database_url is None:
        from sqlgateway.demo import DemoError, ensure_demo
        from sqlgateway.embedded import EmbeddedServerError, start_embedded

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
            from sqlgateway.schema_docs import demo_docs_dir

            overrides["schema_docs_dir"] = demo_docs_dir()
        if settings.audit_sink in ("auto", "postgres") and settings.audit_database_url is None:
            from sqlgateway.audit.provision import ensure_audit_database
            from sqlgateway.demo import READER_ROLE

            # the demo's audit trail: a separate database of the same server, its own role
            overrides["audit_database_url"] = asyncio.run(
                ensure_audit_database(server.admin_dsn(), reader_role=READER_ROLE)
            )
    generated_key = None
    if settings.auth == "api_key" and not settings.api_keys:
        from sqlgateway.auth.api_keys import key_entry, new_key

        generated_key = new_key()
        overrides["api_keys"] = key_entry("generated", generated_key)
    settings = _settings(**overrides)

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
            app = create_app(settings)
        except (SchemaDocsError, PrivacyPolicyError) as error:
            print(f"sqlgateway: {error}", file=sys.stderr)
            return 1
        options: dict[str, Any] = {
            "host": settings.host,
            "port": settings.port,
            "log_config": uvicorn_log_config(settings),
            "access_log": False,  # RequestLog writes one line per request instead
            "proxy_headers": False,
            # in-flight requests may finish (they end by the deadline); then the lifespan
            # closes the pools
            "timeout_graceful_shutdown": math.ceil(settings.request_deadline_ms / 1000),
        }
        if settings.workers == 1:
            uvicorn.run(app, **options)
        else:
            # each worker process builds its own app (and pools) from the environment
            from sqlgateway.metrics import worker_metrics_dir

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
    from sqlgateway.pools import describe_dsn

    where = describe_dsn(settings.audit_database_url.get_secret_value())
    return f"PostgreSQL {where}, table {settings.audit_schema}.audit_events"


def _hash_key(args: argparse.Namespace) -> int:
    from sqlgateway.auth.api_keys import MIN_KEY_CHARS, key_entry, new_key
    from sqlgateway.settings import API_KEY_ENTRY

    if args.stdin:
        key = sys.stdin.readline().strip()
        if len(key) < MIN_KEY_CHARS:
            print(
                f"sqlgateway: the key must be at least {MIN_KEY_CHARS} characters of random "
                "text; leave out --stdin to have one generated",
                file=sys.stderr,
            )
            return 2
    else:
        key = new_key()
    entry = key_entry(args.name, key)
    if not API_KEY_ENTRY.fullmatch(entry):
        print("sqlgateway: --name may hold letters, digits and _ . @ - (1-64)", file=sys.stderr)
        return 2
    if not args.stdin:
        print(f"key (paste it into the GPT editor; it is not stored anywhere): {key}")
        print("SQLGATEWAY_API_KEYS entry:", end=" ")
    print(entry)
    return 0


def _dev_token(args: argparse.Namespace) -> int:
    from sqlgateway.auth.devtoken import (
        DEV_AUDIENCE,
        DEV_ISSUER,
        default_dev_dir,
        dev_environment,
        ensure_dev_keys,
        mint_token,
    )

    directory = Path(args.dir) if args.dir else default_dev_dir()
    jwks = ensure_dev_keys(directory)
    claims: dict[str, Any] = {}
    for pair in args.claim or []:
        name, equals, value = pair.partition("=")
        if not equals or not name:
            print(f"sqlgateway: --claim {pair!r} is not name=value", file=sys.stderr)
            return 2
        claims[name] = value
    if args.role:
        claims["db_role"] = args.role
    token = mint_token(
        directory,
        issuer=DEV_ISSUER,
        audience=DEV_AUDIENCE,
        subject=args.sub,
        claims=claims,
        lifetime_s=args.lifetime_s,
    )
    if args.print_env:
        for name, value in dev_environment(jwks).items():
            print(f"{name}={value}")
        return 0
    print(token)
    return 0


def _exit_normally(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _openapi(args: argparse.Namespace) -> int:
    from sqlgateway.api.openapi import build_spec, render_yaml
    from sqlgateway.openapi_lint import lint_spec

    settings = _settings()
    if args.file:
        import yaml

        spec = yaml.safe_load(Path(args.file).read_text("utf-8"))
    else:
        docs = _docs(settings, demo=False)
        spec = build_spec(args.server_url or settings.served_url, settings=settings, docs=docs)
    if not args.check:
        sys.stdout.write(render_yaml(spec))
        return 0
    problems = lint_spec(spec if isinstance(spec, dict) else {})
    for problem in problems:
        print(f"  {problem}")
    print(f"sqlgateway: {len(problems)} problem(s) in the spec" if problems else "spec ok")
    return 1 if problems else 0


def _docs(settings: Settings, *, demo: bool) -> SchemaDocs | None:
    """The schema docs of SQLGATEWAY_SCHEMA_DOCS_DIR (the demo's when `demo` and unset);
    exits 1 with every problem when they are invalid."""
    from sqlgateway.schema_docs import SchemaDocsError, demo_docs_dir, load_schema_docs

    directory = settings.schema_docs_dir or (demo_docs_dir() if demo else None)
    if directory is None:
        return None
    try:
        return load_schema_docs(directory)
    except SchemaDocsError as error:
        print(f"sqlgateway: {error}", file=sys.stderr)
        raise SystemExit(1) from None


def _live_tables(url: str, settings: Settings) -> tuple[LiveTable, ...]:
    from sqlgateway.introspect import read_live_tables_at

    return asyncio.run(read_live_tables_at(url, settings))


def _schema_docs_check(args: argparse.Namespace) -> int:
    from sqlgateway.drift import find_drift

    settings = _settings(schema_docs_dir=args.dir)
    docs = _docs(settings, demo=False)
    if docs is None:
        print("sqlgateway: give --dir or set SQLGATEWAY_SCHEMA_DOCS_DIR", file=sys.stderr)
        return 2
    problems = find_drift(docs, _live_tables(_database_url(args, settings), settings))
    for problem in problems:
        print(f"  {problem}")
    tables = len(docs.tables)
    if problems:
        print(f"sqlgateway: {len(problems)} difference(s) between the docs and the database")
        return 1
    print(f"schema docs ok: {tables} tables match the database")
    return 0


def _schema_docs_generate(args: argparse.Namespace) -> int:
    import asyncpg

    from sqlgateway.draft import draft_schema_docs

    settings = _settings()
    url = _database_url(args, settings)
    tables = _live_tables(url, settings)

    async def run() -> str:
        conn = await asyncpg.connect(url)
        try:
            return await draft_schema_docs(
                conn,
                tables,
                schema=args.schema,
                max_values=args.max_values,
                scan_rows=args.sample_rows,
                timeout_ms=args.sample_timeout_ms,
            )
        finally:
            await conn.close()

    text = asyncio.run(run())
    if args.output:
        Path(args.output).write_text(text, "utf-8")
        print(f"sqlgateway: wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _gpt_instructions(args: argparse.Namespace) -> int:
    from sqlgateway.catalog import merge
    from sqlgateway.instructions import build_instructions

    settings = _settings(schema_docs_dir=args.dir)
    url = args.database_url or (
        settings.database_url.get_secret_value() if settings.database_url else None
    )
    docs = _docs(settings, demo=url is None)
    live = _live_tables(url, settings) if url else None
    sys.stdout.write(build_instructions(merge(docs, live), settings) + "\n")
    return 0


def _database_url(args: argparse.Namespace, settings: Settings) -> str:
    url = args.database_url or (
        settings.database_url.get_secret_value() if settings.database_url else None
    )
    if not url:
        print("sqlgateway: give --database-url or set SQLGATEWAY_DATABASE_URL", file=sys.stderr)
        raise SystemExit(2)
    return url


def _check_role(args: argparse.Namespace) -> int:
    import asyncpg

    from sqlgateway.role import inspect_role

    settings = _settings()
    url = _database_url(args, settings)

    async def run() -> bool:
        conn = await asyncpg.connect(url)
        try:
            report = await inspect_role(conn)
        finally:
            await conn.close()
        print(report.render())
        return report.safe

    return 0 if asyncio.run(run()) else 1


def _provision_role(args: argparse.Namespace) -> int:
    import asyncpg

    from sqlgateway.role import provision_sql

    settings = _settings()
    sql = provision_sql(
        args.role, args.database, tuple(args.schema or ["public"]), settings, password=args.password
    )
    if not args.apply:
        sys.stdout.write(sql)
        return 0
    admin_url = args.admin_url
    if not admin_url:
        print("sqlgateway: --apply needs --admin-url (an administrator's URL)", file=sys.stderr)
        return 2

    async def run() -> None:
        conn = await asyncpg.connect(admin_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())
    print(f"sqlgateway: role {args.role} provisioned in database {args.database}")
    return 0


def _settings_doc(args: argparse.Namespace) -> int:
    from sqlgateway.settings_doc import settings_markdown

    sys.stdout.write(settings_markdown())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sqlgateway", description="Read-only SQL gateway for GPT actions over PostgreSQL."
    )
    parser.add_argument("--version", action="version", version=f"sqlgateway {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser(
        "serve",
        help="run the gateway (embedded demo PostgreSQL unless a database URL is given)",
    )
    serve.add_argument("--host", help="interface to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8000)")
    serve.add_argument(
        "--database-url", help="PostgreSQL URL to serve (default: the embedded demo)"
    )
    serve.add_argument(
        "--workers", type=int, help="worker processes, each with its own pools (default 1)"
    )
    serve.set_defaults(func=_serve)

    openapi = commands.add_parser("openapi", help="print the OpenAPI spec (YAML), or --check it")
    openapi.add_argument("--server-url", help="servers[0].url (default SQLGATEWAY_PUBLIC_URL)")
    openapi.add_argument(
        "--check",
        action="store_true",
        help="lint the spec against the GPT action limits instead of printing it (exit 1 on "
        "problems)",
    )
    openapi.add_argument("--file", help="a spec file (YAML or JSON) to print or check instead")
    openapi.set_defaults(func=_openapi)

    docs = commands.add_parser("schema-docs", help="check or draft schema docs")
    docs_commands = docs.add_subparsers(dest="docs_command", required=True)
    docs_check = docs_commands.add_parser(
        "check", help="report drift between the schema docs and the database (exit 1 on drift)"
    )
    docs_check.add_argument(
        "--dir", help="schema docs directory (default SQLGATEWAY_SCHEMA_DOCS_DIR)"
    )
    docs_check.add_argument(
        "--database-url", help="URL to compare with (default SQLGATEWAY_DATABASE_URL)"
    )
    docs_check.set_defaults(func=_schema_docs_check)
    generate = docs_commands.add_parser(
        "generate", help="draft schema docs YAML from a live database"
    )
    generate.add_argument("--database-url", help="URL to read (default SQLGATEWAY_DATABASE_URL)")
    generate.add_argument("--schema", default="public", help="schema to describe (default public)")
    generate.add_argument("--output", help="file to write (default: standard output)")
    generate.add_argument(
        "--max-values", type=int, default=20, help="most distinct values listed per column"
    )
    generate.add_argument(
        "--sample-rows", type=int, default=10_000, help="rows read per column to find its values"
    )
    generate.add_argument(
        "--sample-timeout-ms", type=int, default=2_000, help="statement timeout of each sample"
    )
    generate.set_defaults(func=_schema_docs_generate)

    instructions = commands.add_parser(
        "gpt-instructions", help="print instructions to paste into the GPT editor"
    )
    instructions.add_argument(
        "--dir", help="schema docs directory (default SQLGATEWAY_SCHEMA_DOCS_DIR)"
    )
    instructions.add_argument(
        "--database-url",
        help="database to read the live catalog from (default SQLGATEWAY_DATABASE_URL; "
        "neither: the demo's docs alone)",
    )
    instructions.set_defaults(func=_gpt_instructions)

    check = commands.add_parser(
        "check-role", help="report whether the database role is safe to serve with (exit 1 if not)"
    )
    check.add_argument("--database-url", help="URL to check (default SQLGATEWAY_DATABASE_URL)")
    check.set_defaults(func=_check_role)

    provision = commands.add_parser(
        "provision-role", help="print (or --apply) the SQL that creates a read-only role"
    )
    provision.add_argument("--role", default="sqlgateway_reader", help="role name")
    provision.add_argument("--database", required=True, help="database the role reads")
    provision.add_argument(
        "--schema", action="append", help="schema to grant SELECT on (repeatable; default public)"
    )
    provision.add_argument("--password", help="login password to set (omit for peer/cert auth)")
    provision.add_argument("--apply", action="store_true", help="run the SQL instead of printing")
    provision.add_argument("--admin-url", help="administrator URL of the database, for --apply")
    provision.set_defaults(func=_provision_role)

    hash_key = commands.add_parser(
        "hash-key", help="make an API key and its SQLGATEWAY_API_KEYS entry (name:sha256:hash)"
    )
    hash_key.add_argument("--name", required=True, help="the key's name: the actor it audits as")
    hash_key.add_argument(
        "--stdin",
        action="store_true",
        help="hash a key read from standard input instead of generating one; prints only the entry",
    )
    hash_key.set_defaults(func=_hash_key)

    dev_token = commands.add_parser(
        "dev-token",
        help="sign a local test access token (for trying SQLGATEWAY_AUTH=oauth without a provider)",
    )
    dev_token.add_argument("--sub", default="dev-user", help="the token's subject (`sub` claim)")
    dev_token.add_argument("--role", help="database role claim (`db_role`) for per-user scoping")
    dev_token.add_argument(
        "--claim", action="append", help="extra claim name=value (repeatable), e.g. email=a@b.c"
    )
    dev_token.add_argument(
        "--lifetime-s", type=int, default=3_600, help="seconds until the token expires"
    )
    dev_token.add_argument(
        "--dir", help="where the local signing key and jwks.json live (default: user data dir)"
    )
    dev_token.add_argument(
        "--print-env",
        action="store_true",
        help="print the SQLGATEWAY_OAUTH_* settings that accept these tokens instead of a token",
    )
    dev_token.set_defaults(func=_dev_token)

    from sqlgateway.audit.cli import add_audit_parser

    add_audit_parser(commands)

    settings = commands.add_parser("settings", help="print the settings table (Markdown)")
    settings.set_defaults(func=_settings_doc)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result
