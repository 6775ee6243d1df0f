"""`sqlgateway mcp`: flags → settings → the stdio MCP server (stdio.py). Registered on the
main parser by `add_mcp_parser`; the database is found as for `serve` (`target.py`: the flag,
SQLGATEWAY_DATABASE_URL, else the embedded demo with its schema docs and audit database).
Everything printed goes to standard error: standard output is the protocol's."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from sqlgateway.target import add_database_url_flag


def add_mcp_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `mcp`."""
    mcp = commands.add_parser(
        "mcp",
        help="serve MCP over standard input/output for a local agent (embedded demo "
        "PostgreSQL unless a database URL is given)",
    )
    add_database_url_flag(mcp, "PostgreSQL URL to serve")
    mcp.set_defaults(func=run_mcp)


def run_mcp(args: argparse.Namespace) -> int:
    from sqlgateway.command import load_settings
    from sqlgateway.logs import configure_logging
    from sqlgateway.mcp.stdio import serve_stdio
    from sqlgateway.target import database_target, demo_audit_url

    # the local user who starts the process is the caller: no credentials cross the pipe
    overrides: dict[str, Any] = {"auth": "none", "host": "127.0.0.1"}
    settings = load_settings(**overrides)
    configure_logging(settings)  # to standard error
    with database_target(settings, args.database_url, progress=sys.stderr) as target:
        overrides["database_url"] = target.database_url
        overrides["schema_docs_dir"] = target.schema_docs_dir
        if target.server is not None and (
            settings.audit_sink in ("auto", "postgres") and settings.audit_database_url is None
        ):
            overrides["audit_database_url"] = demo_audit_url(target.server)
        settings = load_settings(**overrides)
        print("sqlgateway: serving MCP on standard input and output", file=sys.stderr, flush=True)
        asyncio.run(serve_stdio(settings))
    return 0
