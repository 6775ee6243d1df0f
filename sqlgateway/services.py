"""What request handlers share: created in the app's lifespan, passed down, never global."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from sqlgateway.executor import Database
from sqlgateway.guard import GuardPolicy, Verdict
from sqlgateway.guard import check_sql as parser_guard
from sqlgateway.settings import Settings

Guard = Callable[[str, GuardPolicy], Verdict]

#: Distinct SQL texts whose verdicts are remembered (models repeat themselves a lot).
VERDICT_CACHE_SIZE = 2048


@dataclass(frozen=True)
class Services:
    settings: Settings
    database: Database
    check_sql: Callable[[str], Verdict]

    @classmethod
    def build(cls, settings: Settings, database: Database, guard: Guard = parser_guard) -> Services:
        policy = GuardPolicy.from_settings(settings)

        @lru_cache(maxsize=VERDICT_CACHE_SIZE)
        def check(sql: str) -> Verdict:  # refusals raise, so only approvals are cached
            return guard(sql, policy)

        return cls(settings=settings, database=database, check_sql=check)
