"""Liveness: answers without touching the database or asking for credentials."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response


async def healthz(request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")
