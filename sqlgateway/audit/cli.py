"""`sqlgateway audit …`: flags → a trail, filters and a format → read.py and report.py.

`add_audit_parser` registers the command group on the main parser; every sub-command runs
`run_audit`, which returns the exit code: 0 done, 1 the trail cannot be read, 2 bad flags or
no trail configured.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from contextlib import aclosing
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from sqlgateway.audit.read import Filters, Trail, TrailReadError, TrailSource, open_trail
from sqlgateway.audit.report import (
    PROBING,
    Probes,
    TopQueries,
    event_writer,
    parse_time,
    render_probes,
    render_top,
)
from sqlgateway.command import database_failure
from sqlgateway.db.driver_errors import DATABASE_ERRORS

if TYPE_CHECKING:
    from sqlgateway.demo.embedded import EmbeddedServer

EVENT_FORMATS = ("table", "json", "jsonl", "csv")
REPORT_FORMATS = ("table", "json", "csv")
#: the columns the aggregations read (the PostgreSQL trail selects only these)
TOP_COLUMNS = ("fingerprint", "normalized_sql", "rows", "total_ms")
PROBE_COLUMNS = ("ts", "actor", "outcome", "reason")


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def _source_and_filter_flags() -> argparse.ArgumentParser:
    """The flags every audit sub-command shares: where the trail is, and what to keep."""
    common = argparse.ArgumentParser(add_help=False)
    source = common.add_argument_group("trail (default: SQLGATEWAY_AUDIT_SINK and its settings)")
    where = source.add_mutually_exclusive_group()
    where.add_argument("--file", type=Path, help="JSON Lines audit file (SQLGATEWAY_AUDIT_FILE)")
    where.add_argument(
        "--database-url", help="PostgreSQL URL of the audit table (SQLGATEWAY_AUDIT_DATABASE_URL)"
    )
    source.add_argument("--schema", help="schema of audit_events (SQLGATEWAY_AUDIT_SCHEMA)")
    keep = common.add_argument_group("filters")
    keep.add_argument("--since", help="from this time: 30m, 2h, 7d ago, or ISO 8601 (UTC)")
    keep.add_argument("--until", help="before this time: 30m, 2h, 7d ago, or ISO 8601 (UTC)")
    keep.add_argument("--actor", help="this actor only (API key name or token claim)")
    keep.add_argument(
        "--request-id", help="this request only (X-Request-Id, or request_id= in the SQL comment)"
    )
    keep.add_argument(
        "--outcome", action="append", help="this outcome only (repeatable, or comma-separated)"
    )
    keep.add_argument(
        "--protocol", choices=("http", "mcp"), help="requests of this protocol only (REST or MCP)"
    )
    keep.add_argument("--table", help="requests that read this table (schema.table or table)")
    keep.add_argument("--text", help="requests whose SQL contains this text (any case)")
    return common


def add_audit_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `audit` and its sub-commands (each with `func=run_audit`)."""
    audit = subparsers.add_parser(
        "audit", help="read the audit trail: tail, search, top, rejected, slow, export"
    )
    commands = audit.add_subparsers(dest="audit_command", required=True)
    common = [_source_and_filter_flags()]

    def command(name: str, help: str, formats: tuple[str, ...]) -> argparse.ArgumentParser:
        parser = commands.add_parser(name, parents=common, help=help)
        parser.add_argument(
            "--format", choices=formats, default=formats[0], help=f"default {formats[0]}"
        )
        parser.set_defaults(func=run_audit)
        return parser

    tail = command("tail", "the latest events; -f follows the trail", EVENT_FORMATS)
    tail.add_argument("-n", "--lines", type=_count, default=20, help="events shown (default 20)")
    tail.add_argument("-f", "--follow", action="store_true", help="keep printing new events")
    tail.add_argument("--max-events", type=_positive, help="stop after printing this many")
    tail.add_argument(
        "--interval-ms", type=_positive, default=1_000, help="how often -f looks (default 1000)"
    )

    search = command("search", "the latest events that match the filters", EVENT_FORMATS)
    search.add_argument("--limit", type=_positive, default=100, help="most events (default 100)")

    top = command("top", "queries grouped by fingerprint, largest first", REPORT_FORMATS)
    top.add_argument(
        "--by",
        choices=("count", "total", "avg", "p95", "rows"),
        default="count",
        help="rank by (default count)",
    )
    top.add_argument("--limit", type=_positive, default=10, help="most queries (default 10)")

    rejected = command("rejected", "refused and throttled requests by actor", REPORT_FORMATS)
    rejected.add_argument("--limit", type=_positive, default=20, help="most actors (default 20)")

    slow = command("slow", "events slower than --over-ms, slowest first", EVENT_FORMATS)
    slow.add_argument(
        "--over-ms", type=float, default=1_000.0, help="total_ms above this (default 1000)"
    )
    slow.add_argument("--limit", type=_positive, default=20, help="most events (default 20)")

    export = command("export", "every matching event, oldest first", ("jsonl", "csv"))
    export.add_argument("--output", type=Path, help="file to write (default: standard output)")
    export.add_argument("--limit", type=_positive, help="most events (default: all)")


def filters_from(args: argparse.Namespace, now: datetime) -> Filters:
    """The filter flags as Filters; ValueError names a bad time."""
    times = {}
    for flag in ("since", "until"):
        text = getattr(args, flag)
        try:
            times[flag] = None if text is None else parse_time(text, now)
        except ValueError as error:
            raise ValueError(f"--{flag}: {error}") from None
    outcomes = tuple(o.strip() for value in args.outcome or () for o in value.split(",") if o)
    return Filters(
        since=times["since"],
        until=times["until"],
        actor=args.actor,
        request_id=args.request_id,
        outcomes=outcomes,
        protocol=args.protocol,
        table=args.table,
        text=args.text,
    )


def _source(args: argparse.Namespace) -> TrailSource | None:
    """The trail of the flags, else of the settings; None when auditing is off."""
    if args.file is not None:
        return TrailSource(file=args.file)
    if args.database_url and args.schema:
        return TrailSource(database_url=args.database_url, schema=args.schema)
    from sqlgateway.command import load_settings

    settings = load_settings()
    schema = args.schema or settings.audit_schema
    if args.database_url:
        return TrailSource(database_url=args.database_url, schema=schema)
    destination = settings.audit_destination
    if destination == "postgres" and settings.audit_database_url is not None:
        url = settings.audit_database_url.get_secret_value()
        return TrailSource(database_url=url, schema=schema)
    if destination == "jsonl":
        return TrailSource(file=settings.audit_file)
    return None


def run_audit(args: argparse.Namespace) -> int:
    try:
        filters = filters_from(args, datetime.now(UTC))
    except ValueError as error:
        print(f"sqlgateway: {error}", file=sys.stderr)
        return 2
    demo_server = None
    source: TrailSource | None
    if args.file is None and args.database_url is None and _on_embedded_demo():
        demo_server, source = _demo_trail(args)
    else:
        source = _source(args)
    if source is None:
        print(
            "sqlgateway: no audit trail to read (SQLGATEWAY_AUDIT_SINK is none, or postgres "
            "without SQLGATEWAY_AUDIT_DATABASE_URL); give --file or --database-url",
            file=sys.stderr,
        )
        return 2
    try:
        return _run_errors(args, source, filters)
    finally:
        if demo_server is not None:
            demo_server.stop()  # only stops it if this command started it


def _on_embedded_demo() -> bool:
    """`serve` without a database URL keeps the demo's trail in its embedded server."""
    from sqlgateway.command import load_settings

    settings = load_settings()
    return (
        settings.database_url is None
        and settings.audit_database_url is None
        and settings.audit_sink in ("auto", "postgres")
        and "audit_file" not in settings.model_fields_set  # a file was asked for
        and settings.embedded_data_dir.is_dir()
    )


def _demo_trail(args: argparse.Namespace) -> tuple[EmbeddedServer, TrailSource]:
    """The embedded demo's audit database (the server is reused if `serve` runs, else started
    for this command), as `serve` provisions it."""
    from sqlgateway.command import load_settings
    from sqlgateway.demo.embedded import start_embedded
    from sqlgateway.target import demo_audit_url

    settings = load_settings()
    server = start_embedded(settings.embedded_data_dir)
    try:
        url = demo_audit_url(server)
    except BaseException:
        server.stop()
        raise
    return server, TrailSource(database_url=url, schema=args.schema or settings.audit_schema)


def _run_errors(args: argparse.Namespace, source: TrailSource, filters: Filters) -> int:
    try:
        return asyncio.run(_run(args, source, filters))
    except TrailReadError as error:
        print(f"sqlgateway: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0 if getattr(args, "follow", False) else 130
    except BrokenPipeError:  # the reader went away (`| head`): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except DATABASE_ERRORS as error:
        print(
            f"sqlgateway: cannot read the audit trail: {database_failure(error)}", file=sys.stderr
        )
        return 1


async def _run(args: argparse.Namespace, source: TrailSource, filters: Filters) -> int:
    async with open_trail(source) as trail:
        if args.audit_command == "export" and args.output is not None:
            with args.output.open("w", encoding="utf-8", newline="") as out:
                await _export(args, trail, filters, out)
            print(f"sqlgateway: wrote {args.output}", file=sys.stderr)
        else:
            await COMMANDS[args.audit_command](args, trail, filters, sys.stdout)
        if trail.unreadable:
            print(
                f"sqlgateway: skipped {trail.unreadable} unreadable line(s) in the audit file",
                file=sys.stderr,
            )
    return 0


async def _tail(args: argparse.Namespace, trail: Trail, filters: Filters, out: TextIO) -> None:
    writer = event_writer(args.format, out)
    printed = 0

    def done() -> bool:
        return args.max_events is not None and printed >= args.max_events

    try:
        for event in await trail.latest(filters, args.lines):
            if done():
                return
            writer.write(event)
            printed += 1
        out.flush()
        while args.follow and not done():
            await asyncio.sleep(args.interval_ms / 1000)
            async with aclosing(trail.new_events(filters)) as new:
                async for event in new:
                    writer.write(event)
                    printed += 1
                    if done():
                        break
            out.flush()
    finally:
        writer.close()


async def _search(args: argparse.Namespace, trail: Trail, filters: Filters, out: TextIO) -> None:
    writer = event_writer(args.format, out)
    for event in await trail.latest(filters, args.limit):
        writer.write(event)
    writer.close()


async def _slow(args: argparse.Namespace, trail: Trail, filters: Filters, out: TextIO) -> None:
    writer = event_writer(args.format, out)
    for event in await trail.slowest(replace(filters, over_ms=args.over_ms), args.limit):
        writer.write(event)
    writer.close()


async def _export(args: argparse.Namespace, trail: Trail, filters: Filters, out: TextIO) -> None:
    writer = event_writer(args.format, out)
    async with aclosing(trail.events(filters, limit=args.limit)) as events:
        async for event in events:
            writer.write(event)
    writer.close()


async def _top(args: argparse.Namespace, trail: Trail, filters: Filters, out: TextIO) -> None:
    queries = TopQueries()
    async with aclosing(trail.events(filters, columns=TOP_COLUMNS)) as events:
        async for event in events:
            queries.add(event)
    out.write(render_top(queries.result(args.by, args.limit), args.format))


async def _rejected(args: argparse.Namespace, trail: Trail, filters: Filters, out: TextIO) -> None:
    if not filters.outcomes:
        filters = replace(filters, outcomes=PROBING)
    probes = Probes()
    async with aclosing(trail.events(filters, columns=PROBE_COLUMNS)) as events:
        async for event in events:
            probes.add(event)
    out.write(render_probes(probes.result(args.limit), args.format))


COMMANDS = {
    "tail": _tail,
    "search": _search,
    "top": _top,
    "rejected": _rejected,
    "slow": _slow,
    "export": _export,
}
