"""What request handlers share: created in the app's lifespan, passed down, never global."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import anyio
import anyio.to_thread
import orjson

from sqlgateway.api.privacy import PrivacyPolicy, load_privacy_policy
from sqlgateway.auth import Authenticator
from sqlgateway.catalog.schema_docs import SchemaDocs
from sqlgateway.catalog.source import CatalogSource
from sqlgateway.db.driver_errors import RETRY_HINT
from sqlgateway.db.executor import Database
from sqlgateway.errors import UnavailableError
from sqlgateway.guard import GuardPolicy, Verdict
from sqlgateway.guard import check_sql as parser_guard
from sqlgateway.guard.verdict_cache import StarVerdicts, VerdictCache
from sqlgateway.http.ratelimit import RateLimiter
from sqlgateway.metrics.registry import Metrics
from sqlgateway.named.compile import NamedQueries
from sqlgateway.routes import ROUTE_PATHS, named_path
from sqlgateway.settings import Settings
from sqlgateway.spec.openapi import build_spec, render_yaml

if TYPE_CHECKING:
    from sqlgateway.audit.trail import AuditTrail

Guard = Callable[[str, GuardPolicy], Verdict]
T = TypeVar("T")

#: Distinct SQL shapes whose verdicts are remembered (models repeat themselves a lot), and
#: the characters of their statements: at most about 16 MiB (verdict_cache.py).
VERDICT_CACHE_SIZE = 2048
VERDICT_CACHE_CHARS = 1_000_000


@dataclass(frozen=True)
class Services:
    settings: Settings
    database: Database
    check_sql: Callable[[str], Verdict]
    #: The guard that writes ``*`` out without sensitive columns: (sql, star columns) → verdict.
    check_sql_stars: StarVerdicts
    #: Where the guard's work on long statements runs: a worker thread, one at a time.
    long_sql: OneAtATime
    catalog: CatalogSource
    docs: SchemaDocs | None
    #: ``schema.table.column`` names refused in queries; empty: the check is skipped.
    sensitive: frozenset[str]
    privacy_policy: PrivacyPolicy
    openapi_yaml: bytes
    openapi_json: bytes
    authenticator: Authenticator
    limiter: RateLimiter
    metrics: Metrics
    #: None: auditing is off (SQLGATEWAY_AUDIT_SINK=none).
    audit: AuditTrail | None
    #: The named queries served (POST /queries/{name}), checked at start.
    named: NamedQueries

    @classmethod
    def build(
        cls,
        settings: Settings,
        database: Database,
        guard: Guard = parser_guard,
        *,
        authenticator: Authenticator,
        docs: SchemaDocs | None = None,
        privacy_policy: PrivacyPolicy | None = None,
        audit: AuditTrail | None = None,
        named: NamedQueries | None = None,
    ) -> Services:
        policy = GuardPolicy.from_settings(settings)

        check = VerdictCache(
            lambda sql: guard(sql, policy), VERDICT_CACHE_SIZE, VERDICT_CACHE_CHARS
        )
        named = named or NamedQueries()

        spec = build_spec(settings.served_url, settings=settings, docs=docs, named=named)
        return cls(
            settings=settings,
            database=database,
            check_sql=check,
            check_sql_stars=StarVerdicts(guard, policy, VERDICT_CACHE_SIZE // 4),
            long_sql=OneAtATime(timeout_s=settings.request_deadline_ms / 1000),
            catalog=CatalogSource(settings, docs, database.pools),
            docs=docs,
            sensitive=docs.sensitive if docs is not None else frozenset(),
            privacy_policy=privacy_policy or load_privacy_policy(settings),
            openapi_yaml=render_yaml(spec).encode(),
            openapi_json=orjson.dumps(spec),
            authenticator=authenticator,
            limiter=rate_limiter(settings),
            metrics=Metrics(
                pools=lambda: database.pools.members,
                waiting=lambda: database.waiting,
                audit=audit,
                paths=ROUTE_PATHS | {named_path(name) for name in named.names},
            ),
            audit=audit,
            named=named,
        )


class OneAtATime:
    """Work on a long statement (the guard's check, the hints' attempts), in a worker thread,
    one statement at a time (built in the event loop that uses it). Parsing a long statement
    takes the guard hundreds of bytes of memory a character, and threads would only take turns
    holding the interpreter lock anyway: sixteen 92 KB statements at once cost a served
    gateway 86 MiB in threads of their own, 7 MiB one after the other
    (tests/integration/serving/test_memory.py). Work that waits longer than `timeout_s` for
    its turn gets 503; work that started finishes."""

    def __init__(self, *, timeout_s: float) -> None:
        self._limiter = anyio.CapacityLimiter(1)
        self._timeout_s = timeout_s

    async def run(self, work: Callable[[], T]) -> T:
        with anyio.move_on_after(self._timeout_s):
            return await anyio.to_thread.run_sync(work, limiter=self._limiter)
        raise UnavailableError(
            "the gateway is busy checking other long statements", hint=RETRY_HINT
        )


def rate_limiter(settings: Settings) -> RateLimiter:
    return RateLimiter(
        settings.rate_limit_per_minute,
        settings.rate_limit_burst,
        settings.max_concurrent_queries_per_actor,
    )
