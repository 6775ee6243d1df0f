"""The one error hierarchy of sqlgateway; `render_error` turns any of them into the API's shape.

    GatewayError                    base: status_code, code, message, hint, sqlstate, position
    ├── GuardError                  raised by the pure guard, nothing else leaves it
    │   ├── RejectedError           400 rejected: the SQL is valid but not allowed (names the construct)
    │   └── SQLSyntaxError          400 syntax_error: the SQL does not parse (line, column, excerpt)
    ├── QueryError                  400 query_error: PostgreSQL refused the statement (SQLSTATE, hint)
    │   ├── UnknownTableError       … because a table or view does not exist (42P01)
    │   └── UnknownColumnError      … because a column does not exist (42703)
    ├── QueryTimeoutError           504 timeout: statement timeout or request deadline reached
    ├── InvalidRequestError         400/422 invalid_request: body is not JSON or has wrong fields
    ├── PayloadTooLargeError        413 payload_too_large: request body over the limit
    ├── UnauthorizedError           401 unauthorized: missing or wrong credentials (WWW-Authenticate)
    ├── ForbiddenError              403 forbidden: a valid identity that may not do this
    ├── RateLimitedError            429 rate_limited: too many requests or queries for one actor (Retry-After)
    ├── NotFoundError               404 not_found: no such endpoint
    ├── MethodNotAllowedError       405 method_not_allowed
    ├── UnavailableError            503 unavailable: database unreachable, pool exhausted, or the audit trail cannot record (Retry-After)
    └── InternalError               500 internal_error: a bug; the message never carries details

Every class has a stable `code`; clients (and the GPT) may rely on codes, never on messages.
"""

from __future__ import annotations

from typing import Any, ClassVar

import orjson

#: Longest `hint` a response carries; longer hints are clipped with a marker.
MAX_HINT_CHARS = 1_000


class GatewayError(Exception):
    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        sqlstate: str | None = None,
        position: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.sqlstate = sqlstate
        self.position = position
        self.headers = headers or {}

    def add_hint(self, text: str, *, first: bool = False) -> None:
        """Append `text` to the hint (the one way hints grow: "first; second"); `first`:
        put it before the hint there is (a specific fix before a generic one)."""
        if not text:
            return
        if not self.hint:
            self.hint = text
        elif first:
            self.hint = f"{text.rstrip().rstrip('.')}; {self.hint}"
        else:
            self.hint = f"{self.hint.rstrip().rstrip('.')}; {text}"

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.hint is not None:
            hint = self.hint
            if len(hint) > MAX_HINT_CHARS:
                hint = hint[: MAX_HINT_CHARS - 1] + "…"
            error["hint"] = hint
        if self.sqlstate is not None:
            error["sqlstate"] = self.sqlstate
        if self.position is not None:
            error["position"] = self.position
        return {"error": error}


class GuardError(GatewayError):
    """Raised by the guard; the only exception type the guard lets out."""

    status_code = 400


class RejectedError(GuardError):
    code = "rejected"

    def __init__(self, message: str, *, construct: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.construct = construct

    def body(self) -> dict[str, Any]:
        body = super().body()
        body["error"]["construct"] = self.construct
        return body


class SQLSyntaxError(GuardError):
    code = "syntax_error"

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        column: int | None = None,
        position: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, position=position, hint=hint)
        self.line = line
        self.column = column

    def body(self) -> dict[str, Any]:
        body = super().body()
        if self.line is not None:
            body["error"]["line"] = self.line
        if self.column is not None:
            body["error"]["column"] = self.column
        return body


class QueryError(GatewayError):
    status_code = 400
    code = "query_error"


class UnknownTableError(QueryError):
    """PostgreSQL found no such table or view; the query endpoint adds did-you-mean hints."""


class UnknownColumnError(QueryError):
    """PostgreSQL found no such column; the query endpoint adds did-you-mean hints."""


class QueryTimeoutError(GatewayError):
    status_code = 504
    code = "timeout"


class InvalidRequestError(GatewayError):
    status_code = 422
    code = "invalid_request"

    def __init__(self, message: str, *, status_code: int = 422, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status_code = status_code  # type: ignore[misc]


class PayloadTooLargeError(GatewayError):
    status_code = 413
    code = "payload_too_large"


class UnauthorizedError(GatewayError):
    """`message` is all the caller learns; `reason` says which check failed, for the audit
    log and the operator only (e.g. "expired", "unknown kid"), never for the response."""

    status_code = 401
    code = "unauthorized"

    def __init__(
        self,
        message: str,
        *,
        challenge: str = 'Bearer realm="sqlgateway"',
        reason: str | None = None,
    ) -> None:
        super().__init__(message, headers={"WWW-Authenticate": challenge})
        self.reason = reason or message


class ForbiddenError(GatewayError):
    status_code = 403
    code = "forbidden"


class RateLimitedError(GatewayError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_s: int = 1, hint: str | None = None) -> None:
        super().__init__(message, hint=hint, headers={"Retry-After": str(max(1, retry_after_s))})


class NotFoundError(GatewayError):
    status_code = 404
    code = "not_found"


class MethodNotAllowedError(GatewayError):
    status_code = 405
    code = "method_not_allowed"


class UnavailableError(GatewayError):
    status_code = 503
    code = "unavailable"

    def __init__(self, message: str, *, retry_after_s: int = 1, hint: str | None = None) -> None:
        super().__init__(message, hint=hint, headers={"Retry-After": str(retry_after_s)})


class InternalError(GatewayError):
    status_code = 500
    code = "internal_error"


#: Widest excerpt line shown under an error, in characters.
EXCERPT_CHARS = 72


def caret_excerpt(sql: str, offset: int) -> str:
    """The line of `sql` holding the 0-based `offset`, clipped around it, with a caret under
    the offset: the one excerpt shape of guard, dialect and database errors.

    >>> print(caret_excerpt("SELECT x\nFROM t WHERE y = = 1", 20))
      FROM t WHERE y = = 1
                 ^
    """
    offset = max(0, min(offset, len(sql)))
    start = sql.rfind("\n", 0, offset) + 1
    end = sql.find("\n", offset)
    text = sql[start : len(sql) if end < 0 else end].rstrip("\r")
    caret = offset - start
    if len(text) > EXCERPT_CHARS:
        left = max(0, min(caret - EXCERPT_CHARS // 2, len(text) - EXCERPT_CHARS))
        text = text[left : left + EXCERPT_CHARS]
        caret -= left
    text = "".join(" " if char in "\t\v\f" else char for char in text)
    return f"  {text}\n  {' ' * caret}^"


def error_codes() -> tuple[str, ...]:
    """Every stable `code` a response can carry, in the order of the tree above.

    >>> error_codes()[:3]
    ('rejected', 'syntax_error', 'query_error')
    """
    codes: list[str] = []

    def visit(kind: type[GatewayError]) -> None:
        for sub in kind.__subclasses__():
            if "code" in vars(sub) and sub.code not in codes:  # its own code, not inherited
                codes.append(sub.code)
            visit(sub)

    visit(GatewayError)
    return tuple(codes)


def audit_reason(error: GatewayError) -> str:
    """Why the request failed, as the audit log records it (may say more than the response)."""
    if isinstance(error, UnauthorizedError):
        return error.reason
    if isinstance(error, RejectedError):
        return f"{error.construct}: {error.message}"
    return error.message


def render_error(error: GatewayError) -> bytes:
    """The serialized body for `error`, the same shape for every failure."""
    return orjson.dumps(error.body())
