"""Instructions to paste into the GPT editor: what the data is, what the gateway enforces,
and how to read its answers. Printed by `sqlgateway gpt-instructions`.

Pure: built from the catalog (schema docs, merged with the live catalog when it was read) and
the settings, so the limits quoted are the ones in force. At most MAX_INSTRUCTIONS_CHARS
(the GPT editor's limit is 8,000): the table overview shrinks to fit.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlgateway.catalog.model import Catalog, TableInfo
from sqlgateway.guard.dialects import DEFAULT_DIALECT, DIALECTS
from sqlgateway.named.compile import unavailable_reason
from sqlgateway.settings import Settings

MAX_INSTRUCTIONS_CHARS = 8_000
PURPOSE_CHARS = 160


def _short(text: str | None, most: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= most else text[: most - 1].rstrip() + "…"


def _rows(table: TableInfo) -> str:
    return f", ~{table.rows:,} rows" if table.rows is not None else ""


def _table_lines(catalog: Catalog, level: int) -> Iterator[str]:
    for table in catalog.tables:
        head = f"- {table.shown_name}{_rows(table)}"
        if level < 2 and table.purpose:
            head += f": {_short(table.purpose, PURPOSE_CHARS)}"
        if level < 3:
            columns = ", ".join(
                f"{c.name} (sensitive)" if c.sensitive else c.name for c in table.columns
            )
            head += f"\n  columns: {columns}"
        yield head


def _header(catalog: Catalog) -> str:
    about = " ".join((catalog.description or "").split())
    what = (
        f"the PostgreSQL database {catalog.database}"
        if catalog.database
        else "a PostgreSQL database"
    )
    lines = [
        f"You answer questions about {what} by running read-only SQL through the actions "
        "of this GPT (sqlgateway).",
    ]
    if about:
        lines += ["", "## The data", about]
    if catalog.conventions:
        lines += ["", "Conventions of this data:"]
        lines += [f"- {' '.join(c.split())}" for c in catalog.conventions]
    return "\n".join(lines)


def _named(catalog: Catalog, settings: Settings) -> str:
    """The named queries this gateway serves, and when to use them."""
    served = [q for q in catalog.queries if unavailable_reason(q, settings) is None]
    if not served:
        return ""
    if settings.free_sql:
        lead = (
            "These operations answer the questions asked most often, each with one call and "
            "typed parameters. Prefer one when it fits the question; use runQuery for the rest."
        )
    else:
        lead = (
            "This GPT answers through these operations only (there is no free SQL): pick the "
            "one that fits, and say so when none does."
        )
    lines = ["## Named queries", lead]
    for query in served:
        names = ", ".join(query.caller_parameters)
        lines.append(f"- {query.name}({names}): {_short(query.title, PURPOSE_CHARS)}")
    lines.append(
        "A named query refused with invalid_request names the parameter and the values it "
        "accepts: fix that value and call it again."
    )
    return "\n".join(lines)


def _rules(catalog: Catalog, settings: Settings) -> str:
    sensitive = sorted(
        f"{t.shown_name}.{c.name}" for t in catalog.tables for c in t.columns if c.sensitive
    )
    other_dialects = ", ".join(d for d in DIALECTS if d != DEFAULT_DIALECT)
    lines = [
        "## How queries run",
        "- getSchema returns every table with its columns, keys, allowed values and short "
        "meanings, plus conventions, join paths and example queries; getSchema with "
        "table=<name> returns one table in full.",
    ]
    if settings.free_sql:
        lines += [
            "- runQuery takes one statement that only reads: SELECT, WITH … SELECT, VALUES or "
            "TABLE, written for PostgreSQL. SQL in another dialect "
            f"({other_dialects}) can be sent with dialect=<name>; it is translated to "
            "PostgreSQL and the response's sql field shows what ran.",
            "- The gateway refuses anything else: writes, DDL, SET, transaction control, "
            "locking clauses, several statements, functions outside a list of safe built-ins, "
            "and system catalogs (pg_catalog, information_schema: getSchema describes the data "
            "instead).",
        ]
    if sensitive and settings.free_sql:
        lines.append(
            f"- Sensitive columns cannot be read: {', '.join(sensitive)}. SELECT * leaves them "
            "out (the notice says so); naming one anywhere is refused."
        )
    lines += [
        f"- A query is cancelled after {settings.statement_timeout_ms / 1000:g} s, and a query "
        "estimated to be very expensive is refused before it runs.",
        f"- A response holds at most {settings.max_response_chars:,} characters of whole rows"
        + ("; max_rows lowers the number of rows." if settings.free_sql else "."),
    ]
    return "\n".join(lines)


_LOOP = """\
## How to get it right
1. Call getSchema first and use its table names, column names and allowed values as written.
2. Write PostgreSQL (or send dialect=<name>). Strings go in 'single quotes'; "double quotes" \
name columns.
3. Read hint (on errors) and notice (on answers): they name the fix, such as the right column, \
the valid values, the PostgreSQL spelling or the call to make. Retry once with that fix.
4. A notice that a value matches no row means the empty answer is not the answer: fix the \
value before replying."""

_ANSWERS = """\
## Reading answers
- columns lists names and PostgreSQL types; each row is an array in that order. numeric \
values keep every digit; timestamps are ISO 8601.
- notice, when set, says what to know before trusting the rows: a value no row can have \
(and the valid ones), how the text was read, columns left out, or how to narrow a truncated \
result.
- truncated: true means more rows exist than were returned, and notice says how many rows \
came back and how to narrow the query: aggregate (COUNT, SUM, GROUP BY), filter with WHERE, \
select fewer columns, or page with ORDER BY <unique key> LIMIT n OFFSET m. Without ORDER BY \
the rows returned are an arbitrary subset, so totals, rankings and "all of" answers need \
SQL that computes them, not a truncated listing.

## Errors
Errors are {"error": {"code", "message", "hint"?, "sqlstate"?, "position"?}}:
- rejected: the statement is not allowed; the message names the construct and the hint says \
how to rewrite it.
- syntax_error: the message gives line, column and the text with a caret under the problem.
- query_error: PostgreSQL's own message; the hint names the fix (for an unknown table or \
column, the closest existing names and the table's columns).
- timeout: the query ran too long; a cheaper query filters on key columns, aggregates or \
limits.
- unavailable: the database cannot be reached now; a later retry may work.
- rate_limited: too many calls; wait the seconds the message says, then retry once.
- forbidden: this user may not query this data; say so rather than retrying.
- invalid_request, unauthorized, payload_too_large: the call itself was malformed, lacked \
valid credentials, or was too long.
- Rows you get may already be limited to what this user is allowed to see; do not claim \
that other rows do not exist.

When an answer rests on a query, the SQL used can be shown to the user on request."""


def build_instructions(catalog: Catalog, settings: Settings) -> str:
    """The instructions text, at most MAX_INSTRUCTIONS_CHARS characters."""
    head, rules = _header(catalog), _rules(catalog, settings)
    named = _named(catalog, settings)
    loop = _LOOP if settings.free_sql else ""  # how to write SQL: only where SQL is written
    for level in range(4):
        tables = (
            "\n".join(_table_lines(catalog, level))
            if level < 3
            else ", ".join(t.shown_name for t in catalog.tables)
        )
        overview = f"## Tables\n{tables}" if catalog.tables else ""
        text = "\n\n".join(part for part in (head, named, overview, rules, loop, _ANSWERS) if part)
        if len(text) <= MAX_INSTRUCTIONS_CHARS:
            return text
    overview = "## Tables\ngetSchema lists them."
    text = "\n\n".join(part for part in (head, named, overview, rules, loop, _ANSWERS) if part)
    return text[:MAX_INSTRUCTIONS_CHARS]
