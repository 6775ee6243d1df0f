"""`sqlgateway queries list|check`: the named queries of the schema docs, for DBAs reviewing
the file. Registered on the main parser by `add_queries_parser`.

Both read SQLGATEWAY_SCHEMA_DOCS_DIR (or --dir; neither: the demo's docs) and check every
query as the gateway does at start (guard, parameter declarations, settings). `check` then
prepares and EXPLAINs each against the database (named/check.py; the embedded demo unless a
URL is given, as every command that reads a database). Exit codes: 0 fine, 1 a problem in any
query (or the database cannot be reached), 2 bad usage.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from sqlgateway.catalog.schema_docs import SchemaDocs
    from sqlgateway.named.compile import NamedQueries, NamedQuery
    from sqlgateway.settings import Settings

__all__ = ["add_queries_parser", "compiled"]


def add_queries_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `queries list` and `queries check`."""
    from sqlgateway.target import add_database_url_flag

    queries = commands.add_parser("queries", help="list or check the named queries")
    sub = queries.add_subparsers(dest="queries_command", required=True)
    listing = sub.add_parser("list", help="the named queries, their parameters and limits")
    listing.add_argument(
        "--dir", help="schema docs directory (default SQLGATEWAY_SCHEMA_DOCS_DIR, else the demo's)"
    )
    listing.add_argument("--format", choices=("text", "json"), default="text", help="default text")
    listing.set_defaults(func=_list)
    check = sub.add_parser(
        "check",
        help="check each named query: guard, parameters, and PostgreSQL's prepare and EXPLAIN "
        "(exit 1 on any problem)",
    )
    check.add_argument(
        "--dir", help="schema docs directory (default SQLGATEWAY_SCHEMA_DOCS_DIR, else the demo's)"
    )
    add_database_url_flag(check, "database to check against")
    check.set_defaults(func=_check)


def compiled(docs: SchemaDocs | None, settings: Settings) -> NamedQueries:
    """The named queries of `docs`, checked (also for commands that describe the gateway,
    such as `openapi`); SchemaDocsError lists every problem (the command exits 1)."""
    from sqlgateway.named.compile import compile_queries

    return compile_queries(docs, settings)


def _load(directory: str | None) -> tuple[Settings, SchemaDocs | None, NamedQueries]:
    """Settings, docs and compiled queries; SchemaDocsError lists every problem."""
    from sqlgateway.catalog.schema_docs import load_schema_docs
    from sqlgateway.command import load_settings
    from sqlgateway.demo.files import demo_docs_dir

    settings = load_settings(schema_docs_dir=directory)
    path = settings.schema_docs_dir
    if path is None:
        path = demo_docs_dir()
        print(
            f"sqlgateway: no SQLGATEWAY_SCHEMA_DOCS_DIR, reading the demo's {path}", file=sys.stderr
        )
    docs = load_schema_docs(path)
    return settings, docs, compiled(docs, settings)


def _list(args: argparse.Namespace) -> int:
    from sqlgateway.named.compile import MAX_OPERATIONS, operation_count

    settings, _, named = _load(args.dir)
    entries = [
        _entry(query, named.unavailable.get(query.name)) for query in named.compiled.values()
    ]
    if args.format == "json":
        sys.stdout.write(orjson.dumps(entries, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    for entry in entries:
        status = "served" if entry["served"] else f"NOT SERVED: {entry['not_served_because']}"
        limits = [f"{key} {entry[key]}" for key in ("max_rows", "timeout_ms") if entry[key]]
        print(f"{entry['name']}  POST {entry['path']}  ({', '.join([status, *limits])})")
        print(f"  {entry['summary']}")
        for name, parameter in entry["parameters"].items():
            print(f"    {name}: {parameter['accepts']}")
    count = operation_count(len(named), settings)
    print(
        f"{len(named.compiled)} named queries, {len(named)} served; the action spec has {count} "
        f"operations (at most {MAX_OPERATIONS})"
    )
    return 0


def _entry(query: NamedQuery, reason: str | None) -> dict[str, Any]:
    from sqlgateway.named.values import allowed, json_ready
    from sqlgateway.routes import named_path

    doc = query.doc
    parameters = {}
    for name, parameter in doc.parameters.items():
        accepts = allowed(parameter)
        if parameter.identity is not None:
            accepts += f", from the caller's identity ({parameter.identity.shown})"
        elif not parameter.is_required:
            default = orjson.dumps(json_ready(parameter.default)).decode()
            accepts += ", optional" + (f" (default {default})" if default != "null" else "")
        parameters[name] = {
            "type": parameter.type,
            "accepts": accepts,
            "required": parameter.is_required,
            "default": json_ready(parameter.default),
            "identity": parameter.identity.shown if parameter.identity else None,
            "sensitive": parameter.sensitive,
        }
    return {
        "name": doc.name,
        "path": named_path(doc.name),
        "summary": doc.title,
        "description": " ".join(doc.description.split()),
        "served": reason is None,
        "not_served_because": reason,
        "max_rows": doc.max_rows,
        "timeout_ms": doc.timeout_ms,
        "parameters": parameters,
        "source": query.source,
        "sql": query.sql,
    }


def _check(args: argparse.Namespace) -> int:
    from sqlgateway.command import on_database
    from sqlgateway.named.check import check_against
    from sqlgateway.target import database_target

    settings, docs, named = _load(args.dir)
    with database_target(settings, args.database_url) as target:
        url = target.database_url
        reports = on_database(
            url, lambda: check_against(url, named, docs, settings), what="check the named queries"
        )
    failed = 0
    for report in reports:
        print(f"{report.name}: {'PROBLEM' if report.problems else 'ok'}")
        for problem in report.problems:
            print(f"  problem: {problem}")
        for note in report.notes:
            print(f"  {note}")
        failed += bool(report.problems)
    if failed:
        print(f"sqlgateway: {failed} of {len(reports)} named queries have problems")
        return 1
    print(f"named queries ok: {len(reports)} checked against the database")
    return 0
