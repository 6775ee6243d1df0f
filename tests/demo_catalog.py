"""The demo's catalog without a database: its schema docs merged with live tables written
out here as PostgreSQL's catalog shows them (types, enum labels, single-column CHECK
expressions as pg_get_expr prints them). For the pure tests of hints and notices; the
integration tests check that the live catalog reads the same domains."""

from __future__ import annotations

import functools

from sqlgateway.catalog.introspect import ForeignKey, LiveColumn, LiveTable
from sqlgateway.catalog.model import Catalog, merge
from sqlgateway.catalog.schema_docs import load_schema_docs
from sqlgateway.demo.files import demo_docs_dir
from sqlgateway.errors import QueryError
from sqlgateway.hints.failure import Failure
from sqlgateway.hints.postgres import postgres_hints

CLAIM_STATUS = ("submitted", "under_review", "approved", "denied", "paid", "closed", "reopened")


def any_of(column: str, values: tuple[str, ...]) -> str:
    listed = ", ".join(f"'{value}'::text" for value in values)
    return f"({column} = ANY (ARRAY[{listed}]))"


CHECKS: dict[tuple[str, str], tuple[str, ...]] = {
    ("policyholders", "state"): ("(state ~ '^[A-Z]{2}$'::text)",),
    ("policyholders", "email"): ("(email ~~ '%_@_%'::text)",),
    ("adjusters", "region"): (
        any_of("region", ("northeast", "southeast", "midwest", "southwest", "west")),
    ),
    ("policies", "policy_number"): ("(policy_number ~ '^POL-[0-9]{7,}$'::text)",),
    ("policies", "product"): (any_of("product", ("auto", "home", "renters", "life", "travel")),),
    ("policies", "status"): (any_of("status", ("active", "lapsed", "cancelled", "expired")),),
    ("policies", "premium_cents"): ("(premium_cents > 0)",),
    ("claims", "claim_number"): ("(claim_number ~ '^CLM-[0-9]{7,}$'::text)",),
    ("claims", "loss_type"): (
        any_of(
            "loss_type",
            (
                "collision",
                "glass",
                "theft",
                "vandalism",
                "liability",
                "water_damage",
                "storm",
                "fire",
                "death",
                "trip_cancellation",
                "medical",
                "baggage",
                "delay",
            ),
        ),
    ),
    ("claim_events", "event_type"): (
        any_of(
            "event_type",
            (
                "submitted",
                "acknowledged",
                "review_started",
                "info_requested",
                "approved",
                "denied",
                "payment_issued",
                "closed",
                "reopened",
            ),
        ),
    ),
    ("payments", "method"): (any_of("method", ("ach", "check", "wire", "card")),),
}
KEYS = {
    "policies": (ForeignKey(("policyholder_id",), "public.policyholders", ("policyholder_id",)),),
    "claims": (
        ForeignKey(("policy_id",), "public.policies", ("policy_id",)),
        ForeignKey(("adjuster_id",), "public.adjusters", ("adjuster_id",)),
    ),
    "claim_events": (ForeignKey(("claim_id",), "public.claims", ("claim_id",)),),
    "payments": (ForeignKey(("claim_id",), "public.claims", ("claim_id",)),),
}


def demo_catalog() -> Catalog:
    docs = load_schema_docs(demo_docs_dir())
    live = []
    for key, table in docs.tables.items():
        schema, _, name = key.partition(".")
        columns = tuple(
            LiveColumn(
                name=column.name,
                type=(column.type or "text").split(" (")[0],
                nullable=True,
                comment=None,
                enum_values=CLAIM_STATUS if (name, column.name) == ("claims", "status") else (),
                checks=CHECKS.get((name, column.name), ()),
            )
            for column in table.columns
        )
        live.append(
            LiveTable(
                schema,
                name,
                "table",
                None,
                1000,
                columns,
                tuple(table.primary_key),
                KEYS.get(name, ()),
            )
        )
    return merge(docs, tuple(live))


def refusal_hints(
    sql: str, sqlstate: str, message: str, at: str | None = None, *tables: str
) -> str:
    """The hints (joined by " | ") of PostgreSQL's refusal of `sql` on the demo catalog: its
    SQLSTATE and `message`, positioned at the text `at`, with `tables` read (claims)."""
    catalog = _shared_catalog()
    position = sql.index(at) + 1 if at is not None else None
    error = QueryError(message, sqlstate=sqlstate, position=position)
    read = [t for name in tables or ("claims",) if (t := catalog.find(name)) is not None]
    return " | ".join(postgres_hints(Failure(error, sql, catalog, read)))


@functools.cache
def _shared_catalog() -> Catalog:
    return demo_catalog()
