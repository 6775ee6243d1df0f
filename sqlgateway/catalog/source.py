"""CatalogSource: the merged catalog, read through the gateway's pool when first needed and
again once it is older than ``SQLGATEWAY_CATALOG_REFRESH_S``."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from sqlgateway.catalog.introspect import LiveTable, read_live_tables
from sqlgateway.catalog.model import Catalog, merge
from sqlgateway.catalog.schema_docs import SchemaDocs
from sqlgateway.db.driver_errors import DATABASE_ERRORS, unavailable_error
from sqlgateway.errors import UnavailableError
from sqlgateway.role.report import UnsafeRoleError
from sqlgateway.settings import Settings

logger = logging.getLogger("sqlgateway")


#: Errors that mean the database cannot be asked now.
_UNREACHABLE: tuple[type[BaseException], ...] = (
    *DATABASE_ERRORS,
    UnavailableError,
    UnsafeRoleError,  # logged by the pool's init; the operator must fix the role
)


class CatalogSource:
    """The merged catalog, read through the gateway's pool on first use and refreshed when
    older than `settings.catalog_refresh_s`. One read at a time; readers share the result."""

    def __init__(self, settings: Settings, docs: SchemaDocs | None, pool: Any) -> None:
        self._settings = settings
        self._docs = docs
        self._pool = pool
        self._catalog: Catalog | None = None
        self._read_at = 0.0
        self._lock = asyncio.Lock()
        self.rendered: dict[str | None, bytes] = {}  # GET /schema bodies for this catalog

    @property
    def docs(self) -> SchemaDocs | None:
        return self._docs

    def _fresh(self) -> bool:
        refresh_s = self._settings.catalog_refresh_s
        return self._catalog is not None and (
            refresh_s == 0 or time.monotonic() - self._read_at < refresh_s
        )

    async def get(self) -> Catalog:
        """The catalog; UnavailableError if the database cannot be read and none was read."""
        if self._fresh():
            assert self._catalog is not None
            return self._catalog
        async with self._lock:
            if self._fresh():
                assert self._catalog is not None
                return self._catalog
            try:
                live = await self._read()
            except Exception as error:
                if self._catalog is not None:  # keep serving the last one read
                    logger.warning("catalog refresh failed (%s)", type(error).__name__)
                    return self._catalog
                if isinstance(error, _UNREACHABLE):
                    raise unavailable_error(error, "the database catalog") from None
                raise
            self._catalog = merge(self._docs, live)
            self._read_at = time.monotonic()
            self.rendered = {}
            return self._catalog

    async def _read(self) -> tuple[LiveTable, ...]:
        settings = self._settings
        timeout_s = settings.request_deadline_ms / 1000
        async with asyncio.timeout(timeout_s):
            conn = await self._pool.acquire(timeout=settings.pool_acquire_timeout_ms / 1000)
            try:
                return await read_live_tables(
                    conn,
                    schemas=[schema.lower() for schema in settings.allowed_schemas],
                    tables=[table.lower() for table in settings.allowed_tables],
                )
            except BaseException:
                conn.terminate()  # state unknown: never hand it to a query
                raise
            finally:
                await self._pool.release(conn)
