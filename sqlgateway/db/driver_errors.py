"""asyncpg's exceptions → the gateway's error hierarchy, in one place.

asyncpg raises one class per SQLSTATE, so errors are mapped by class, never by message or
SQLSTATE string. `UNAVAILABLE` is the one list of "the database cannot be reached" errors
(they mean the operator's problem, never the SQL's); `gateway_error` maps what a query raised;
`connection_problem` says, for the operator (the CLI, logs), why a connection failed and what
to do about it.
"""

from __future__ import annotations

import socket

import asyncpg.exceptions as pgerr

from sqlgateway.db.encode import clip_text
from sqlgateway.errors import (
    GatewayError,
    QueryError,
    QueryTimeoutError,
    RejectedError,
    UnavailableError,
    UnknownColumnError,
    UnknownTableError,
    caret_excerpt,
)

__all__ = [
    "DATABASE_ERRORS",
    "RETRY_HINT",
    "UNAVAILABLE",
    "connection_problem",
    "gateway_error",
    "is_unavailable",
    "unavailable_error",
]

#: Errors that mean the server or the connection is gone, not that the SQL is wrong.
UNAVAILABLE: tuple[type[BaseException], ...] = (
    pgerr.PostgresConnectionError,  # class 08, also ConnectionDoesNotExistError
    pgerr.CannotConnectNowError,  # 57P03
    pgerr.AdminShutdownError,  # 57P01
    pgerr.CrashShutdownError,  # 57P02
    pgerr.TooManyConnectionsError,  # 53300
    pgerr.InvalidAuthorizationSpecificationError,  # 28000: no such role, pg_hba refuses
    pgerr.InvalidPasswordError,  # 28P01
    pgerr.InvalidCatalogNameError,  # 3D000: no such database
    OSError,  # refused, unreachable, DNS; TimeoutError too
)

#: Everything a query, a connect or a catalog read may raise from the database or the driver.
DATABASE_ERRORS: tuple[type[BaseException], ...] = (
    *UNAVAILABLE,
    pgerr.PostgresError,
    pgerr.InterfaceError,
    pgerr.InternalClientError,
)

RETRY_HINT = "retry in a moment"
#: PostgreSQL quotes the offending value in some errors (`invalid input syntax for type
#: integer: "…"`), whatever its size: the message, detail and hint passed on are clipped.
MAX_ERROR_TEXT_CHARS = 2_000


def is_unavailable(error: BaseException) -> bool:
    return isinstance(error, UNAVAILABLE)


def unavailable_error(error: BaseException, what: str = "the database") -> UnavailableError:
    """503 naming the kind of failure (never a DSN or a password)."""
    return UnavailableError(f"cannot reach {what} ({type(error).__name__})", hint=RETRY_HINT)


#: (error class, what went wrong, what to do), most specific first; the cause is the server's
#: own message when it sent one. For the operator only: clients get `unavailable_error`.
_CONNECTION_PROBLEMS: tuple[tuple[type[BaseException], str, str], ...] = (
    (
        # With password authentication PostgreSQL gives this same answer for a role that does
        # not exist (it never tells a client which names exist), so both are suspects.
        pgerr.InvalidPasswordError,
        "",
        "check the user name and the password in the URL (PostgreSQL answers the same for a "
        "role that does not exist); `sqlgateway provision-role` creates a serving role",
    ),
    (
        pgerr.InvalidAuthorizationSpecificationError,
        "",
        "check the user name in the URL and pg_hba.conf; `sqlgateway provision-role` creates "
        "a serving role",
    ),
    (pgerr.InvalidCatalogNameError, "", "check the database name in the URL"),
    (
        pgerr.TooManyConnectionsError,
        "",
        "retry later, or raise max_connections (or lower SQLGATEWAY_POOL_MAX_SIZE)",
    ),
    (pgerr.CannotConnectNowError, "", "the server is starting or stopping: retry in a moment"),
    (pgerr.AdminShutdownError, "", "the server is shutting down: retry once it is back"),
    (pgerr.CrashShutdownError, "", "the server is recovering: retry in a moment"),
    (pgerr.PostgresConnectionError, "", "retry; if it persists, check the server's log"),
    (pgerr.ClientConfigurationError, "", "fix the URL (postgresql://user@host:port/database)"),
    (
        ConnectionRefusedError,
        "connection refused",
        "check the host and port in the URL, and that PostgreSQL is running",
    ),
    (socket.gaierror, "the host name does not resolve", "check the host in the URL"),
    (TimeoutError, "timed out", "check the host and port in the URL, and any firewall between"),
    (
        FileNotFoundError,
        "no server socket there",
        "check the socket directory (host=) and port in the URL, and that PostgreSQL is running",
    ),
    (OSError, "", "check the host and port in the URL, and that PostgreSQL is running"),
)


def connection_problem(error: BaseException) -> tuple[str, str] | None:
    """(what went wrong, what to do) when `error` is a failure to reach or log in to the
    database; None for any other error. Never holds a password.

    >>> connection_problem(ConnectionRefusedError(111, "Connect call failed"))
    ('connection refused', 'check the host and port in the URL, and that PostgreSQL is running')
    """
    for kind, cause, step in _CONNECTION_PROBLEMS:
        if isinstance(error, kind):
            detail = getattr(error, "message", None) or getattr(error, "strerror", None) or error
            detail = str(detail)
            return cause or detail or type(error).__name__, step
    return None


def gateway_error(
    error: BaseException,
    sql: str,
    *,
    timeout_ms: int,
    timeout_source: str = "SQLGATEWAY_STATEMENT_TIMEOUT_MS",
) -> GatewayError | None:
    """The gateway error for what running `sql` raised; None when `error` is not a database
    or driver error (a bug, or a cancellation: let it propagate).

    Positions in PostgreSQL errors are 1-based offsets into the text the server saw; the
    executor sets `position_offset` on the error to the length of what it put in front of
    `sql` (EXPLAIN, a comment), so positions point into the SQL the model sees."""
    if isinstance(error, GatewayError):
        return error
    if isinstance(error, pgerr.QueryCanceledError):
        return timeout_error(timeout_ms, timeout_source)
    if isinstance(error, pgerr.ReadOnlySQLTransactionError):
        return RejectedError(
            f"PostgreSQL refused a write in the read-only transaction: {error}",
            construct="write",
            hint="this gateway only reads; rewrite the statement as a SELECT",
        )
    if is_unavailable(error):
        return UnavailableError(
            f"the database connection failed ({type(error).__name__})", hint=RETRY_HINT
        )
    if isinstance(error, pgerr.PostgresError):
        return _query_error(error, sql)
    if isinstance(error, pgerr.InterfaceError | pgerr.InternalClientError):
        # the driver refused before or while talking to the server (e.g. $1 parameters,
        # a result type it cannot decode)
        return QueryError(
            f"the statement cannot be run through this gateway: {error}",
            hint="write literal values instead of $1 parameters; cast unusual column types to text",
        )
    return None


def timeout_error(
    timeout_ms: int, source: str = "SQLGATEWAY_STATEMENT_TIMEOUT_MS"
) -> QueryTimeoutError:
    """The timeout error; `source` names what set the limit (the setting, or a named query's
    timeout_ms)."""
    return QueryTimeoutError(
        f"the query was cancelled after {source}={timeout_ms} ms",
        hint="make it cheaper: filter with WHERE on indexed columns, aggregate, or add LIMIT",
    )


def _query_error(error: pgerr.PostgresError, sql: str) -> QueryError:
    position = _position(error)
    message = clip_text(str(getattr(error, "message", None) or error), MAX_ERROR_TEXT_CHARS)
    detail = getattr(error, "detail", None)
    if detail:
        message = f"{message} ({clip_text(str(detail), MAX_ERROR_TEXT_CHARS)})"
    if position is not None and 1 <= position <= len(sql) + 1:
        message = f"{message}\n{caret_excerpt(sql, position - 1)}"
    kind = QueryError
    if isinstance(error, pgerr.UndefinedTableError):
        kind = UnknownTableError
    elif isinstance(error, pgerr.UndefinedColumnError):
        kind = UnknownColumnError
    hint = getattr(error, "hint", None)
    return kind(
        message,
        hint=clip_text(str(hint), MAX_ERROR_TEXT_CHARS) if hint else None,
        sqlstate=getattr(error, "sqlstate", None),
        position=position,
    )


def _position(error: pgerr.PostgresError) -> int | None:
    raw = getattr(error, "position", None)
    try:
        position = int(raw) if raw else None
    except ValueError:
        return None
    if position is None:
        return None
    return max(1, position - getattr(error, "position_offset", 0))
