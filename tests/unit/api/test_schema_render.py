"""GET /schema bodies: compact, and always within the response limit."""

from __future__ import annotations

import orjson
import pytest

from sqlgateway.api.schema import render_overview, render_table
from sqlgateway.catalog.model import Catalog, ColumnInfo, TableInfo, merge
from sqlgateway.catalog.schema_docs import load_schema_docs
from sqlgateway.demo.files import demo_docs_dir
from sqlgateway.errors import NotFoundError

DEMO = merge(load_schema_docs(demo_docs_dir()), None)


def _big_catalog(tables: int, columns: int) -> Catalog:
    cols = tuple(
        ColumnInfo(
            name=f"column_{i}",
            type="text",
            description="A long description. " * 20,
            allowed_values={f"v{j}": "meaning " * 10 for j in range(30)},
            examples=("x" * 50,),
        )
        for i in range(columns)
    )
    return Catalog(
        database="big",
        description="d",
        conventions=(),
        tables=tuple(
            TableInfo("public", f"t{i}", "table", "p " * 200, 10, None, (), cols, (), True)
            for i in range(tables)
        ),
        relationships=(),
        join_paths={},
        examples=(),
        live=True,
    )


def test_the_demo_overview_is_well_under_20000_characters() -> None:
    body = render_overview(DEMO, 95_000)
    assert len(body) < 15_000
    overview = orjson.loads(body)
    assert [t["name"] for t in overview["tables"]][:2] == ["policyholders", "adjusters"]
    assert "GET /schema?table=" in overview["more"]
    loop = " ".join(overview["how_to_query"])
    for step in ("PostgreSQL", "dialect=<name>", "'single quotes'", "hint", "notice", "retry once"):
        assert step in loop, step
    assert list(overview)[:4] == ["database", "description", "dialect", "how_to_query"]


@pytest.mark.parametrize(("tables", "columns"), [(5, 400), (400, 30), (3000, 5)])
@pytest.mark.parametrize("limit", [5_000, 95_000])
def test_large_catalogs_are_cut_to_the_limit(tables: int, columns: int, limit: int) -> None:
    catalog = _big_catalog(tables, columns)
    assert len(render_overview(catalog, limit)) <= limit
    assert len(render_table(catalog, "t1", limit)) <= limit


def test_unknown_tables_get_the_closest_names() -> None:
    with pytest.raises(NotFoundError, match="did you mean claims"):
        render_table(DEMO, "claimz", 95_000)


def test_documented_json_keys_are_shown_with_their_values() -> None:
    overview = orjson.loads(render_overview(DEMO, 95_000))
    claims = next(t for t in overview["tables"] if t["name"] == "claims")
    assert "keys: channel|vehicle.make|vehicle.model_year|" in claims["columns"]["details"]
    table = orjson.loads(render_table(DEMO, "claims", 95_000))["table"]
    details = next(c for c in table["columns"] if c["name"] == "details")
    channel = details["keys"][0]
    assert channel["name"] == "channel" and channel["type"] == "text"
    assert list(channel["allowed_values"]) == ["web", "mobile_app", "phone", "agent"]


def test_json_keys_are_cut_with_the_columns_when_the_limit_is_tight() -> None:
    full = render_table(DEMO, "claims", 95_000)
    cut = orjson.loads(render_table(DEMO, "claims", len(full) // 2))
    details = next(c for c in cut["table"]["columns"] if c["name"] == "details")
    assert all("description" not in key for key in details.get("keys", ()))
