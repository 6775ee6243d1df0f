"""Drift between schema docs and the live tables, one line per difference."""

from __future__ import annotations

from pathlib import Path

from sqlgateway.catalog.drift import find_drift
from sqlgateway.catalog.introspect import LiveColumn, LiveTable
from sqlgateway.catalog.schema_docs import load_schema_docs

DOCS = """\
tables:
  - name: orders
    columns:
      - name: order_id
      - name: meta
        keys:
          - name: channel
      - name: note
        keys:
          - name: channel
      - name: gone
"""


def _table(*columns: tuple[str, str]) -> LiveTable:
    live = tuple(LiveColumn(name, kind, True, None) for name, kind in columns)
    return LiveTable("public", "orders", "table", None, 10, live, ("order_id",), ())


def test_drift_names_missing_and_undocumented_columns_and_keys_on_non_json(
    tmp_path: Path,
) -> None:
    (tmp_path / "db.yaml").write_text(DOCS)
    docs = load_schema_docs(tmp_path)
    live = _table(("order_id", "bigint"), ("meta", "jsonb"), ("note", "text"), ("extra", "int"))
    assert find_drift(docs, (live,)) == [
        "public.orders.gone: documented, but the table has no such column",
        "public.orders.extra: in the database, but not documented",
        "public.orders.note: documents keys, but its type is text, not json or jsonb",
    ]


def test_docs_that_match_the_database_have_no_drift(tmp_path: Path) -> None:
    (tmp_path / "db.yaml").write_text(
        DOCS.replace("        keys:\n          - name: channel\n      - name: gone\n", "")
    )
    docs = load_schema_docs(tmp_path)
    live = _table(("order_id", "bigint"), ("meta", "json"), ("note", "text"))
    assert find_drift(docs, (live,)) == []
