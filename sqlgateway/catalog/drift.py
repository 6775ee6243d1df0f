"""Drift between schema docs and the live database: what one has and the other lacks.

Pure. Documented tables and columns missing in the database, tables and columns of the
documented schemas that the docs do not describe, and JSON keys documented on a column that
is not json. `sqlgateway schema-docs check` prints
these and exits 1 when there are any.
"""

from __future__ import annotations

from sqlgateway.catalog.introspect import LiveTable
from sqlgateway.catalog.schema_docs import SchemaDocs


def find_drift(docs: SchemaDocs, live: tuple[LiveTable, ...]) -> list[str]:
    """One line per difference, sorted by table; empty when docs and database agree."""
    documented = docs.tables
    schemas = {f.schema_name for f in docs.files}
    tables = {table.key: table for table in live}
    problems: list[str] = []
    for key in sorted(set(documented) | {k for k, t in tables.items() if t.schema in schemas}):
        doc, table = documented.get(key), tables.get(key)
        if table is None:
            problems.append(
                f"{key}: documented, but the database has no such table (or the "
                "role cannot read it)"
            )
            continue
        if doc is None:
            problems.append(f"{key}: in the database, but not documented")
            continue
        described = [c.name for c in doc.columns]
        actual = [c.name for c in table.columns]
        problems += [
            f"{key}.{name}: documented, but the table has no such column"
            for name in described
            if name not in actual
        ]
        problems += [
            f"{key}.{name}: in the database, but not documented"
            for name in actual
            if name not in described
        ]
        types = {c.name: c.type for c in table.columns}
        problems += [
            f"{key}.{c.name}: documents keys, but its type is {types[c.name]}, not json or jsonb"
            for c in doc.columns
            if c.keys and c.name in types and not types[c.name].startswith("json")
        ]
    return problems
