"""The `sqlgateway` command: parse flags → Settings → call the library. No logic lives here."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sqlgateway import __version__
from sqlgateway.command import USAGE, CommandError, load_settings, on_database, run_command
from sqlgateway.settings import Settings
from sqlgateway.target import Target, add_database_url_flag, database_target

if TYPE_CHECKING:
    from sqlgateway.catalog.introspect import LiveTable
    from sqlgateway.catalog.schema_docs import SchemaDocs

__all__ = ["build_parser", "load_settings", "main"]


def _serve(args: argparse.Namespace) -> int:
    from sqlgateway.serve import serve

    return serve(args)


def _openapi(args: argparse.Namespace) -> int:
    from sqlgateway.spec.lint import lint_spec
    from sqlgateway.spec.openapi import build_spec, render_yaml

    settings = load_settings()
    if args.file:
        import yaml

        with Path(args.file).open(encoding="utf-8") as file:  # its name in YAML errors
            spec = yaml.safe_load(file)
    else:
        from sqlgateway.named.cli import compiled

        docs = _docs(settings.schema_docs_dir)
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


def _docs(directory: Path | None) -> SchemaDocs | None:
    """The schema docs of `directory`; SchemaDocsError lists every problem."""
    from sqlgateway.catalog.schema_docs import load_schema_docs

    return None if directory is None else load_schema_docs(directory)


def _live_tables(target: Target, settings: Settings) -> tuple[LiveTable, ...]:
    from sqlgateway.catalog.introspect import read_live_tables_at

    url = target.database_url
    return on_database(url, lambda: read_live_tables_at(url, settings), what="read the catalog")


def _schema_docs_check(args: argparse.Namespace) -> int:
    from sqlgateway.catalog.drift import find_drift

    settings = load_settings(schema_docs_dir=args.dir)
    with database_target(settings, args.database_url) as target:
        docs = _docs(target.schema_docs_dir)
        if docs is None:
            raise CommandError("give --dir or set SQLGATEWAY_SCHEMA_DOCS_DIR", code=USAGE)
        problems = find_drift(docs, _live_tables(target, settings))
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
    with database_target(settings, args.database_url) as target:
        tables = _live_tables(target, settings)
        url = target.database_url

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

        text = on_database(url, run, what="sample the tables")
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
    with database_target(settings, args.database_url) as target:
        docs = _docs(target.schema_docs_dir)
        live = _live_tables(target, settings)
    sys.stdout.write(build_instructions(merge(docs, live), settings) + "\n")
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
    add_database_url_flag(serve, "PostgreSQL URL to serve")
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
    add_database_url_flag(docs_check, "URL to compare with")
    docs_check.set_defaults(func=_schema_docs_check)
    generate = docs_commands.add_parser(
        "generate", help="draft schema docs YAML from a live database"
    )
    add_database_url_flag(generate, "URL to read")
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
    add_database_url_flag(instructions, "database to read the live catalog from")
    instructions.set_defaults(func=_gpt_instructions)

    from sqlgateway.role.cli import add_role_parsers

    add_role_parsers(commands)

    from sqlgateway.auth.cli import add_auth_parsers

    add_auth_parsers(commands)

    from sqlgateway.audit.cli import add_audit_parser

    add_audit_parser(commands)

    from sqlgateway.named.cli import add_queries_parser

    add_queries_parser(commands)

    from sqlgateway.mcp.cli import add_mcp_parser

    add_mcp_parser(commands)

    settings = commands.add_parser("settings", help="print the settings table (Markdown)")
    settings.set_defaults(func=_settings_doc)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command of `argv`; its exit code (failures as one message, see command.py)."""
    args = build_parser().parse_args(argv)
    return run_command(args.func, args)
