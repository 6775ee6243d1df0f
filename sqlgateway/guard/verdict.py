"""Verdict: what the guard hands to the executor for an accepted statement."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    """An accepted statement.

    - ``sql``: the SQL to execute, generated from the validated tree (never the raw text).
    - ``tables``: relations read, lower-cased, qualified as written, CTE names excluded;
      sorted and deduplicated.
    - ``functions``: functions called, lower-cased (qualified as written); sorted, deduplicated.
    - ``has_order_by``: the outermost query orders its rows.
    - ``has_limit``: the outermost query has LIMIT or FETCH (``LIMIT ALL`` does not count).
    - ``streams_rows``: one SELECT over one plain table that returns rows as it scans them
      (no join, grouping, ordering, subquery…): the resource guard's EXPLAIN cannot refuse it.
    """

    sql: str
    tables: tuple[str, ...]
    functions: tuple[str, ...]
    has_order_by: bool
    has_limit: bool
    streams_rows: bool = False
