"""Liveness, readiness and metrics: public endpoints for the platform around the gateway.

`/healthz` answers without touching the database (the process is alive). `/readyz` asks the
database for `SELECT 1` and the audit trail whether its sink answers, both within
`READY_TIMEOUT_S`; a failed part is named in the body, never with a URL or a secret. The
audit part says `spilling` when the sink does not answer but the spill directory takes the
events, and `unavailable` when nothing can take them (queries then get 503, unless
SQLGATEWAY_AUDIT_FAIL_OPEN).
`/metrics` is the Prometheus exposition (of all workers under `serve --workers N`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING

import orjson
from starlette.requests import Request
from starlette.responses import Response

from sqlgateway.errors import UnavailableError
from sqlgateway.http.record import RequestRecord
from sqlgateway.http.responses import JSON

if TYPE_CHECKING:
    from sqlgateway.audit.trail import AuditTrail
    from sqlgateway.services import Services

logger = logging.getLogger("sqlgateway")

#: Longest each readiness check may take.
READY_TIMEOUT_S = 2.0
#: Retry-After of a 503 from /readyz.
NOT_READY_RETRY_S = 5

NO_STORE = {"Cache-Control": "no-store"}

#: What /readyz says of each part.
OK = "ok"
OFF = "off"  # the audit trail is switched off (SQLGATEWAY_AUDIT_SINK=none)
TIMEOUT = "timeout"
UNAVAILABLE = "unavailable"
NOT_READY = "not ready"


async def healthz(request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type=JSON)


async def readyz(request: Request) -> Response:
    """200 when the database answers and the audit trail (if on) accepts events; else 503
    naming the part that failed, with Retry-After."""
    services: Services = request.state.services
    audit = services.audit
    database_check = _check("database", _ping(services))
    if audit is None:
        database = await database_check
        audit_state = OFF
    else:
        database, audit_state = await asyncio.gather(database_check, _audit_check(audit))
    ready = database == OK and audit_state in (OK, OFF)
    body = orjson.dumps(
        {"status": "ready" if ready else "not ready", "database": database, "audit": audit_state}
    )
    if ready:
        return Response(body, media_type=JSON, headers=NO_STORE)
    record: RequestRecord | None = request.scope.get("state", {}).get("record")
    if record is not None:
        record.outcome = UnavailableError.code
    return Response(
        body,
        status_code=503,
        media_type=JSON,
        headers={**NO_STORE, "Retry-After": str(NOT_READY_RETRY_S)},
    )


async def metrics(request: Request) -> Response:
    services: Services = request.state.services
    body, content_type = services.metrics.render()
    return Response(body, media_type=content_type, headers=NO_STORE)


async def _ping(services: Services) -> bool:
    await services.database.ping()
    return True


async def _audit_check(audit: AuditTrail) -> str:
    """The trail's own state (ok, spilling, unavailable), or timeout."""
    try:
        async with asyncio.timeout(READY_TIMEOUT_S):
            return await audit.readiness()
    except TimeoutError:
        logger.warning("readiness: audit did not answer within %g s", READY_TIMEOUT_S)
        return TIMEOUT


async def _check(part: str, check: Awaitable[bool]) -> str:
    """OK, or why `part` is not ready (the error's class goes to the log, not the body)."""
    try:
        async with asyncio.timeout(READY_TIMEOUT_S):
            answered = await check
    except TimeoutError:
        logger.warning("readiness: %s did not answer within %g s", part, READY_TIMEOUT_S)
        return TIMEOUT
    except Exception as error:
        logger.warning("readiness: %s failed (%s)", part, type(error).__name__)
        return UNAVAILABLE
    return OK if answered else NOT_READY
