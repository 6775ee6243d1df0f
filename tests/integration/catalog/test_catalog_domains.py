"""The live catalog gives the value domains the hints rely on (enum labels, CHECK lists and
patterns), exactly as the pure tests' demo catalog (tests/demo_catalog.py) writes them."""

from __future__ import annotations

import asyncio

import asyncpg
from demo_catalog import CHECKS, CLAIM_STATUS

from sqlgateway.catalog.introspect import read_live_tables
from sqlgateway.catalog.model import merge
from sqlgateway.catalog.schema_docs import load_schema_docs
from sqlgateway.demo.database import DemoDatabase
from sqlgateway.demo.files import demo_docs_dir


async def _live(dsn: str) -> tuple:  # type: ignore[type-arg]
    conn = await asyncpg.connect(dsn)
    try:
        return await read_live_tables(conn)
    finally:
        await conn.close()


def test_checks_and_enums_are_read_and_give_domains(demo: DemoDatabase) -> None:
    live = {t.name: t for t in asyncio.run(_live(demo.reader_dsn)) if t.schema == "public"}
    for (table, column), checks in CHECKS.items():
        found = next(c for c in live[table].columns if c.name == column)
        assert found.checks == checks, (table, column, found.checks)
    status = next(c for c in live["claims"].columns if c.name == "status")
    assert status.enum_values == CLAIM_STATUS and status.type == "claim_status"
    catalog = merge(load_schema_docs(demo_docs_dir()), tuple(live.values()))
    domains = catalog.columns_by_relation
    loss = domains["claims"]["loss_type"].domain
    assert loss is not None and loss.source == "CHECK constraint" and "water_damage" in loss.values
    number = domains["public.claims"]["claim_number"].domain
    assert number is not None and number.miss("CLM-123", "=") is not None
    assert number.miss("CLM-0000123", "=") is None
    assert domains["claims"]["status"].domain.source == "enum labels"  # type: ignore[union-attr]
    assert domains["policyholders"]["email"].domain is None  # sensitive
