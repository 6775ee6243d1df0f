"""The `sqlgateway` command: parse flags → Settings → call the library. No logic lives here."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from sqlgateway import __version__
from sqlgateway.settings import Settings

if TYPE_CHECKING:
    from sqlgateway.catalog.introspect import LiveTable
    from sqlgateway.catalog.schema_docs import SchemaDocs


def load_settings(**overrides: Any) -> Settings:
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
    from sqlgateway.serve import serve

    return serve(args)


def _openapi(args: argparse.Namespace) -> int:
    from sqlgateway.spec.lint import lint_spec
    from sqlgateway.spec.openapi import build_spec, render_yaml

    settings = load_settings()
    if args.file:
        import yaml

        spec = yaml.safe_load(Path(args.file).read_text("utf-8"))
    else:
        from sqlgateway.named.cli import compiled

        docs = _docs(settings, demo=False)
        named = compiled(docs, settings)
        spec = build_spec(
            args.server_url or settings.served_url, settings=settings, docs=docs, named=named
        )
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
    from sqlgateway.catalog.schema_docs import SchemaDocsError, load_schema_docs
    from sqlgateway.demo.files import demo_docs_dir

    directory = settings.schema_docs_dir or (demo_docs_dir() if demo else None)
    if directory is None:
        return None
    try:
        return load_schema_docs(directory)
    except SchemaDocsError as error:
        print(f"sqlgateway: {error}", file=sys.stderr)
        raise SystemExit(1) from None


def _live_tables(url: str, settings: Settings) -> tuple[LiveTable, ...]:
    from sqlgateway.catalog.introspect import read_live_tables_at

    return asyncio.run(read_live_tables_at(url, settings))


def _schema_docs_check(args: argparse.Namespace) -> int:
    from sqlgateway.catalog.drift import find_drift

    settings = load_settings(schema_docs_dir=args.dir)
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

    from sqlgateway.catalog.draft import draft_schema_docs

    settings = load_settings()
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
    from sqlgateway.catalog.instructions import build_instructions
    from sqlgateway.catalog.model import merge

    settings = load_settings(schema_docs_dir=args.dir)
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

    from sqlgateway.role.inspect import inspect_role

    settings = load_settings()
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

    from sqlgateway.role.provision import provision_sql

    settings = load_settings()
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

    from sqlgateway.auth.cli import add_auth_parsers

    add_auth_parsers(commands)

    from sqlgateway.audit.cli import add_audit_parser

    add_audit_parser(commands)

    from sqlgateway.named.cli import add_queries_parser

    add_queries_parser(commands)

    settings = commands.add_parser("settings", help="print the settings table (Markdown)")
    settings.set_defaults(func=_settings_doc)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result
