"""The pool and audit figures on /metrics: their names, help texts, and the protocols of
what they are read from. Shared by the single-process collector (`metrics`) and the
workers' files (`metrics_workers`), so both export the same series."""

from __future__ import annotations

from typing import Protocol

PREFIX = "sqlgateway_"

#: Per database, labelled `database`.
POOL_GAUGES: dict[str, str] = {
    "pool_size": "Open connections in the pool.",
    "pool_in_use": "Connections lent to queries.",
    "pool_idle": "Open connections waiting for a query.",
    "pool_max_size": "Most connections the pool opens.",
}
WAITING_HELP = "Queries waiting for a database connection."
QUEUE_DEPTH_HELP = "Audit events waiting to be written (their requests wait for them)."
#: `AuditCounters` attribute → help of the counter `sqlgateway_audit_events_<name>_total`.
AUDIT_TOTALS: dict[str, str] = {
    "written": "Audit events written to the sink.",
    "spilled": "Audit events put in the spill file (sink down or queue full).",
    "replayed": "Audit events written to the sink from the spill file.",
    "dropped": "Audit events lost (neither written nor spilled).",
    "rejected": "Audit events the sink refused as malformed (kept in the spill directory's "
    "rejected file).",
    "unaudited": "Answers sent without their audit event, because no sink could take it "
    "(SQLGATEWAY_AUDIT_FAIL_OPEN=true).",
}


class PoolStats(Protocol):
    """What the gauges read of an asyncpg pool."""

    def get_size(self) -> int: ...
    def get_idle_size(self) -> int: ...
    def get_max_size(self) -> int: ...


class PoolMember(Protocol):
    """A database and its pool (`pools.Member`)."""

    @property
    def name(self) -> str: ...
    @property
    def pool(self) -> PoolStats: ...


class AuditCounters(Protocol):
    """The audit trail's running counts (events since start; `queued`: waiting now)."""

    @property
    def queued(self) -> int: ...
    @property
    def written(self) -> int: ...
    @property
    def spilled(self) -> int: ...
    @property
    def replayed(self) -> int: ...
    @property
    def dropped(self) -> int: ...
    @property
    def rejected(self) -> int: ...
    @property
    def unaudited(self) -> int: ...


def pool_values(pool: PoolStats) -> dict[str, int]:
    """`POOL_GAUGES` of one pool."""
    open_now, idle_now = pool.get_size(), pool.get_idle_size()
    return {
        "pool_size": open_now,
        "pool_in_use": max(open_now - idle_now, 0),
        "pool_idle": idle_now,
        "pool_max_size": pool.get_max_size(),
    }
