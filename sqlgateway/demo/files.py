"""Where the demo's files live inside the package: its SQL and its schema docs."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["demo_docs_dir", "sql_file"]


def sql_file(name: str) -> str:
    """The text of `sql/<name>` (``schema.sql``, ``data.sql``, ``indexes.sql``, ``rls.sql``)."""
    return resources.files("sqlgateway.demo").joinpath("sql", name).read_text("utf-8")


def demo_docs_dir() -> Path:
    """The demo's schema docs directory (``schema_docs/claims.yaml`` at the repository root
    links to the file in it)."""
    return Path(str(resources.files("sqlgateway.demo").joinpath("schema_docs")))
