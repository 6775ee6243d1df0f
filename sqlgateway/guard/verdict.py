"""Verdict: what the guard hands to the executor for an accepted statement."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Comparison:
    """A column compared with string literals (``status = 'paid'``, ``loss_type IN ('a', 'b')``,
    ``city LIKE 'Ph%'``), as the guard's walk found it. The catalog's value domains say
    whether such a comparison can match at all (catalog/domains.py).

    - ``column``: the column's name as PostgreSQL resolves it.
    - ``relations``: the relations it may belong to (names as the verdict's ``tables``): one
      for a qualified column, every source of its SELECT for an unqualified one.
    - ``operator``: ``=`` (also ``IN`` and ``= ANY (ARRAY[…])``), ``<>`` (also ``NOT IN``),
      ``like`` or ``ilike`` (also their negations: ``negated``); ``between`` (``values``: the
      bounds) and ``<=``, noted for timestamps' sake (a date-only upper bound); ``@>``
      (``details @> '{"injuries": true}'``: ``values`` holds the JSON object); ``not in
      select``: ``x NOT IN (SELECT column …)``, where ``column`` is the subquery's (``values``
      empty), which no row passes once the subquery returns a NULL.
    - ``values``: the literals, in the order written.
    - ``applied``: ``upper`` or ``lower`` when the column is compared through that function
      (``upper(loss_type) = 'FLOOD'``), else "".
    - ``cast``: the column was cast (``reported_at::date``), so its own type is not compared.
    - ``key``: the path of the JSON key compared, read as text (``details->>'channel'``:
      ``("channel",)``; ``details->'vehicle'->>'make'``: ``("vehicle", "make")``), else ().
    """

    column: str
    relations: tuple[str, ...]
    operator: str
    values: tuple[str, ...]
    negated: bool = False
    applied: str = ""
    cast: bool = False
    key: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
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
    - ``comparisons``: columns compared with string literals (never with plain integers, which
      the verdict cache swaps: a cached verdict's comparisons stay true for every query of
      its shape).
    - ``notes``: where PostgreSQL reads the text differently from what its author meant
      (T-SQL ``[name]``, MySQL ``LIMIT offset, count``); the answer's notice says so.
    - ``stars``: a select list holds ``*`` or ``t.*``.
    - ``omitted``: ``table.column`` names left out of ``*`` because they are sensitive
      (``GuardPolicy.star_columns``).
    - ``reads_integers``: the verdict depends on the values of integer literals (the
      value-size rule read ``repeat(…, n)``; ``nulls_first`` comes from ``ORDER BY 2 DESC``):
      it holds for these integers only (the verdict cache does not reuse it).
    - ``nulls_first``: (index, name) of the output column the outermost ORDER BY sorts on
      first, ``DESC`` without ``NULLS LAST``, which puts its NULLs first; the answer says so
      when its first row has a NULL there (guard/pitfalls.py).
    """

    sql: str
    tables: tuple[str, ...]
    functions: tuple[str, ...]
    has_order_by: bool
    has_limit: bool
    streams_rows: bool = False
    comparisons: tuple[Comparison, ...] = ()
    notes: tuple[str, ...] = ()
    stars: bool = False
    omitted: tuple[str, ...] = ()
    reads_integers: bool = False
    nulls_first: tuple[int, str] | None = None
