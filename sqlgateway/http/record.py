"""What one request did: filled in as the request passes through, read once at its end.

The outermost middleware (`middleware.RequestLog`) creates a `RequestRecord` per request and
puts it in `scope["state"]["record"]`; authentication, the query handler and the executor add
what they learn; at the end the same record becomes the audit event, the metrics sample and
the service's log line. It holds no secrets: never a key, token or password.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

#: Outcome of a request that produced a result; error outcomes are the error's `code`.
OK = "ok"
TRUNCATED = "truncated"
#: The client went away before the answer (the query was cancelled).
CANCELLED = "cancelled"


_UNSAFE_IN_COMMENT = re.compile(r"[^A-Za-z0-9_.@:+-]")


def correlation_comment(request_id: str, actor: str) -> str:
    """What the executed SQL's leading comment says (inside `/* … */`): enough to find the
    audit event from a pg_stat_activity, pgAudit or pgBadger line. The actor is reduced to
    safe characters so it can never end the comment."""
    return f"sqlgateway request_id={request_id} actor={_UNSAFE_IN_COMMENT.sub('_', actor)[:64]}"


def application_name(request_id: str) -> str:
    """application_name of the transaction that serves `request_id` (%a in log_line_prefix)."""
    return f"sqlgateway/{request_id}"


def new_request_id() -> str:
    """A short, unique, URL- and SQL-comment-safe id (32 hex digits)."""
    return uuid.uuid4().hex


@dataclass(slots=True)
class RequestRecord:
    request_id: str = field(default_factory=new_request_id)
    started: float = field(default_factory=time.perf_counter)
    #: UTC wall-clock start, microsecond precision.
    timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))
    method: str = ""
    path: str = ""
    #: How the request arrived: "http" (the REST API a GPT action calls) or "mcp".
    protocol: str = "http"
    #: What was asked for: the operationId (runQuery, getSchema, a named query) or MCP tool.
    operation: str | None = None
    #: A named query's parameter values as sent to the database (sensitive ones masked).
    parameters: dict[str, Any] | None = None
    client_addr: str | None = None
    user_agent: str | None = None
    #: Who asked: API key name, token claim, or "anonymous".
    actor: str = "anonymous"
    auth_mode: str = "none"
    #: The role the query ran as (SET LOCAL ROLE), None: the gateway's login role.
    db_role: str | None = None
    sql_received: str | None = None
    sql_executed: str | None = None
    dialect: str | None = None
    tables: tuple[str, ...] = ()
    functions: tuple[str, ...] = ()
    outcome: str | None = None
    reason: str | None = None
    sqlstate: str | None = None
    status: int | None = None
    rows: int | None = None
    truncated: bool | None = None
    response_chars: int | None = None
    guard_ms: float | None = None
    db_ms: float | None = None
    total_ms: float | None = None

    def finish(self) -> None:
        """The request is done (its answer is ready, or it never gets one): the total time,
        and the outcome if nothing set it: ok or `http_<status>` by the status, `cancelled`
        without an answer."""
        self.total_ms = (time.perf_counter() - self.started) * 1000
        if self.outcome is None:
            if self.status is None:  # no answer was started: the client went away
                self.outcome = CANCELLED
            else:
                self.outcome = OK if self.status < 400 else f"http_{self.status}"

    def event(self) -> dict[str, Any]:
        """The audit event: plain JSON-ready values (see audit/event.py for the columns)."""
        return {
            "ts": self.timestamp.isoformat(timespec="microseconds"),
            "request_id": self.request_id,
            "actor": self.actor,
            "auth_mode": self.auth_mode,
            "db_role": self.db_role,
            "client_addr": self.client_addr,
            "user_agent": self.user_agent,
            "method": self.method,
            "path": self.path,
            "protocol": self.protocol,
            "operation": self.operation,
            "parameters": self.parameters,
            "sql_received": self.sql_received,
            "sql_executed": self.sql_executed,
            "dialect": self.dialect,
            "tables": list(self.tables),
            "functions": list(self.functions),
            "outcome": self.outcome,
            "reason": self.reason,
            "sqlstate": self.sqlstate,
            "status": self.status,
            "rows": self.rows,
            "truncated": self.truncated,
            "response_chars": self.response_chars,
            "guard_ms": _ms(self.guard_ms),
            "db_ms": _ms(self.db_ms),
            "total_ms": _ms(self.total_ms),
        }


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
