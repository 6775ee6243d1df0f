"""create_app: routes, middleware order, error handlers, lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Route

from sqlgateway.api.health import healthz
from sqlgateway.api.openapi import openapi_json, openapi_yaml
from sqlgateway.api.query import run_query
from sqlgateway.auth import ApiKeyAuthenticator
from sqlgateway.errors import GatewayError
from sqlgateway.executor import Database
from sqlgateway.guard import check_sql
from sqlgateway.middleware import AuthMiddleware, CancelOnDisconnect
from sqlgateway.responses import handle_gateway_error, handle_http_exception, handle_unexpected
from sqlgateway.services import Guard, Services
from sqlgateway.settings import Settings


def create_app(
    settings: Settings,
    *,
    database: Database | None = None,
    guard: Guard = check_sql,
) -> Starlette:
    """The ASGI app. `database` may be injected (tests, benchmarks); otherwise the lifespan
    connects to `settings.database_url` and closes the pool on shutdown. `guard` is a seam for
    tests only: no setting can replace it."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        owned = database is None
        if database is None:
            if settings.database_url is None:
                raise RuntimeError("no database: set SQLGATEWAY_DATABASE_URL or use `serve`")
            db = await Database.connect(settings.database_url.get_secret_value(), settings)
        else:
            db = database
        try:
            yield {"services": Services.build(settings, db, guard)}
        finally:
            if owned:
                await db.close()

    middleware = [
        # outermost first
        Middleware(CancelOnDisconnect),
        Middleware(AuthMiddleware, authenticator=ApiKeyAuthenticator(settings.api_keys)),
    ]
    routes = [
        Route("/query", run_query, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/openapi.yaml", openapi_yaml, methods=["GET"]),
        Route("/openapi.json", openapi_json, methods=["GET"]),
    ]
    return Starlette(
        routes=routes,
        middleware=middleware,
        lifespan=lifespan,
        exception_handlers={
            GatewayError: handle_gateway_error,
            HTTPException: handle_http_exception,
            Exception: handle_unexpected,
        },
    )
