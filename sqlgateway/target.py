"""The database a command works on: the URL it is given, else the embedded demo.

`serve` and every command that reads a database resolve it the same way: the `--database-url`
flag, then SQLGATEWAY_DATABASE_URL, then the embedded demo (the embedded PostgreSQL in
SQLGATEWAY_EMBEDDED_DATA_DIR, started or reused, with the demo database made if missing),
read as the demo's read-only role, with the demo's schema docs unless
SQLGATEWAY_SCHEMA_DOCS_DIR names others.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from sqlgateway.settings import Settings

if TYPE_CHECKING:
    from sqlgateway.demo.database import DemoDatabase
    from sqlgateway.demo.embedded import EmbeddedServer

__all__ = ["Target", "add_database_url_flag", "database_target", "demo_audit_url", "start_demo"]


def add_database_url_flag(parser: argparse.ArgumentParser, what: str) -> None:
    """`--database-url`, for a command that works on a database as `database_target` finds it."""
    parser.add_argument(
        "--database-url",
        help=f"{what} (default SQLGATEWAY_DATABASE_URL, else the embedded demo)",
    )


@dataclass(frozen=True)
class Target:
    database_url: str
    #: the schema docs that go with it: SQLGATEWAY_SCHEMA_DOCS_DIR, else the demo's for the demo
    schema_docs_dir: Path | None
    #: the embedded server and the demo database, when the target is the demo
    server: EmbeddedServer | None = None
    demo: DemoDatabase | None = None


@contextmanager
def database_target(
    settings: Settings, url: str | None = None, *, progress: TextIO | None = None
) -> Iterator[Target]:
    """`url`, else SQLGATEWAY_DATABASE_URL, else the embedded demo (stopped on exit, unless
    another process still uses it). Progress lines go to `progress` (standard error)."""
    url = url or (settings.database_url.get_secret_value() if settings.database_url else None)
    if url:
        yield Target(url, settings.schema_docs_dir)
        return
    from sqlgateway.demo.files import demo_docs_dir

    server, demo = start_demo(settings, progress=progress)
    try:
        yield Target(demo.reader_dsn, settings.schema_docs_dir or demo_docs_dir(), server, demo)
    finally:
        server.stop()


def start_demo(
    settings: Settings, *, progress: TextIO | None = None
) -> tuple[EmbeddedServer, DemoDatabase]:
    """The embedded server (started or reused) and the demo database on it (made if
    missing); EmbeddedServerError or DemoError say what went wrong."""
    from sqlgateway.demo.database import ensure_demo
    from sqlgateway.demo.embedded import start_embedded

    out = progress or sys.stderr
    started = time.perf_counter()
    print(f"sqlgateway: starting embedded PostgreSQL in {settings.embedded_data_dir} …", file=out)
    server = start_embedded(settings.embedded_data_dir)
    try:
        demo = asyncio.run(ensure_demo(server.admin_dsn()))
    except BaseException:
        server.stop()
        raise
    what = "created" if demo.created else "reused"
    print(
        f"sqlgateway: PostgreSQL {server.version} ready, demo database {what} "
        f"in {time.perf_counter() - started:.1f} s",
        file=out,
        flush=True,
    )
    return server, demo


def demo_audit_url(server: EmbeddedServer) -> str:
    """The demo's audit trail: a separate database of the embedded server, with its own
    writer role, which the demo's reader cannot connect to."""
    from sqlgateway.audit.provision import ensure_audit_database
    from sqlgateway.demo.database import READER_ROLE

    return asyncio.run(ensure_audit_database(server.admin_dsn(), reader_role=READER_ROLE))
