"""The hints of a refused attempt: what to send instead, in the error's `hint`.

Pure apart from the guard it is given. `hints_for` looks at the error and the attempt, most
specific first:

1. discovery (``SHOW TABLES``, ``information_schema``…) → getSchema; several statements →
   one per call or one combined SELECT (discovery.py);
2. PostgreSQL's refusals → the usual mistake's fix (postgres.py), unknown names included
   (not when 1. gave the table list); a list given to ``ALL(…)``/``SOME(…)`` → the array
   (lists.py); another database's text search → ILIKE (dialects.py);
3. another dialect's habits → the PostgreSQL translation and ``"dialect"`` (dialects.py), tried
   when PostgreSQL cannot read the text, refuses a function, or fails on it; then the
   PostgreSQL spelling of a function other dialects have;
4. relations the gateway does not expose → the names meant (catalog/suggest.py).

The hints never widen what runs: a translation is shown only if the guard and the sensitive-
column check accept it, and nothing is run to find a hint. Sensitive columns are never
suggested and their values never shown. Each hint is bounded, and so is the error's hint as
a whole (errors.MAX_HINT_CHARS).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlgateway.catalog.model import Catalog, TableInfo
from sqlgateway.catalog.suggest import table_hint
from sqlgateway.errors import GatewayError, QueryError, RejectedError, SQLSyntaxError
from sqlgateway.guard import Verdict
from sqlgateway.guard.dialects import DEFAULT_DIALECT
from sqlgateway.hints.dialects import search_hint, sniff, translation_hint
from sqlgateway.hints.discovery import discovery_hint, is_discovery, several_statements_hint
from sqlgateway.hints.failure import Failure, parse_again
from sqlgateway.hints.foreign import foreign_function_hint
from sqlgateway.hints.lists import array_hint_in
from sqlgateway.hints.notices import clock_conventions, reads_clock
from sqlgateway.hints.postgres import postgres_hints
from sqlgateway.hints.syntax import star_except, with_item_in

#: SQLSTATEs of PostgreSQL errors another dialect's reading may explain.
_DIALECT_STATES = frozenset({"42601", "42883", "42703", "42P01", "22P02", "42804", "42704"})
#: Refusals that are about what the statement does, not how it is spelled.
_NOT_SPELLING = ("sensitive column", "multiple statements", "empty statement", "parser work limit")

#: Refusals of ``= SOME('a', 'b')``, ``<> ALL('a', 'b')``: read as calls of functions.
_QUANTIFIERS = ("function any", "function some", "function all")

Approve = Callable[[str], Verdict | None]


@dataclass
class Attempt:
    """What the model sent and how far it got."""

    text: str  # the SQL as sent
    dialect: str  # as sent (postgres when none)
    sql: str  # the PostgreSQL the guard checked: `text`, or its translation
    verdict: Verdict | None = None  # the guard's, when it accepted the statement


def hints_for(
    error: GatewayError, attempt: Attempt, catalog: Catalog | None, approve: Approve
) -> list[str]:
    """The hints for `error`, most specific first (none for errors that are not the SQL's)."""
    hints: list[str] = []
    discovered = is_discovery(error)
    if discovered:  # the table list it gives is the answer: no did-you-mean besides
        hints.append(discovery_hint(attempt.text, catalog))
    elif isinstance(error, RejectedError) and error.construct == "multiple statements":
        hints.append(several_statements_hint(attempt.text, approve))
    elif isinstance(error, RejectedError) and error.construct == "star modifier":
        tree = parse_again(attempt.sql)
        listed = star_except(catalog, tree) if tree is not None else None
        hints.extend([listed] if listed else [])
    elif isinstance(error, RejectedError) and error.construct == "USE":
        hints.append("the gateway serves one database: leave USE out and send the query alone")
    if isinstance(error, QueryError) and not discovered:  # PostgreSQL said why: its fix first
        ran = attempt.verdict.sql if attempt.verdict is not None else attempt.sql
        failure = Failure(error, ran, catalog, _tables_read(attempt, catalog))
        hints.extend(postgres_hints(failure))
    if isinstance(error, RejectedError) and error.construct in _QUANTIFIERS:
        listed = array_hint_in(attempt.sql)
        hints.extend([listed] if listed else [])
    if isinstance(error, SQLSyntaxError) or (
        isinstance(error, RejectedError) and error.construct.startswith("function ")
    ):
        search = search_hint(attempt.text)
        hints.extend([search] if search else [])
    if _try_dialects(error, attempt):
        postgres_sql = attempt.verdict.sql if attempt.verdict is not None else None
        cued = isinstance(error, QueryError)
        found = sniff(attempt.text, approve, postgres_sql=postgres_sql, cued=cued)
        if found is not None:
            hints.append(translation_hint(found))
            hints.extend(_clock(found.verdict, catalog))
    if isinstance(error, RejectedError) and error.construct.startswith("function "):
        foreign = foreign_function_hint(error.construct.removeprefix("function ").split(".")[-1])
        if foreign is not None:
            hints.append(foreign)
    if isinstance(error, RejectedError) and catalog is not None and not hints:
        unknown = _unexposed_relation(error, catalog)
        item = with_item_in(attempt.sql, unknown) if unknown is not None else None
        if unknown is not None:  # a WITH item of the query read as a table: no table list
            hints.append(item or table_hint(unknown, catalog))
    return list(dict.fromkeys(hint for hint in hints if hint))


def _clock(verdict: Verdict | None, catalog: Catalog | None) -> list[str]:
    """The schema docs' conventions about the clock, when the fix reads it (GETDATE() →
    CURRENT_TIMESTAMP): a snapshot's "today" is not the server's, and the model should know
    before it sends the fix, not after its empty answer."""
    if verdict is None or catalog is None or not reads_clock(verdict):
        return []
    return clock_conventions(verdict.functions, catalog)


def _try_dialects(error: GatewayError, attempt: Attempt) -> bool:
    if attempt.dialect != DEFAULT_DIALECT:
        return False
    if isinstance(error, SQLSyntaxError):
        return True
    if isinstance(error, RejectedError):
        return not error.construct.startswith(_NOT_SPELLING) and not is_discovery(error)
    return isinstance(error, QueryError) and error.sqlstate in _DIALECT_STATES


def _tables_read(attempt: Attempt, catalog: Catalog | None) -> list[TableInfo]:
    if catalog is None or attempt.verdict is None:
        return []
    found = (catalog.find(name) for name in attempt.verdict.tables)
    return [table for table in found if table is not None]


def _unexposed_relation(error: RejectedError, catalog: Catalog) -> str | None:
    """The relation a policy refusal names, when the catalog does not have it (a wrong name,
    not a forbidden table)."""
    if not error.construct.startswith("relation ") or is_discovery(error):
        return None
    name = error.construct.removeprefix("relation ")
    return None if catalog.find(name) is not None else name
