"""Hints for what other databases read and PostgreSQL does not: each with its PostgreSQL
spelling, written with the attempt's own names.

Pure, on the error path only, like postgres.py (which registers these rules in its RULES):
the SQL that ran is the guard's rendering, parsed again (`Failure.tree`), so a construct
sqlglot reads from another dialect (``GROUP BY … WITH ROLLUP``, ``GROUP BY ALL``,
``SELECT * EXCEPT (…)``) is still in the tree when PostgreSQL refuses it. Also the
constructs PostgreSQL reads but refuses in that place: ``OVER`` on an ordered-set aggregate
(0A000), a WITH item that refers to itself without RECURSIVE (42P01) or whose parts differ
in type (42804).
"""

from __future__ import annotations

import re

from sqlglot import exp

from sqlgateway.catalog.model import Catalog
from sqlgateway.guard.literals import sources
from sqlgateway.hints.failure import Failure, parse_again
from sqlgateway.hints.lists import array_hint

#: Longest column list a hint spells out.
_MAX_LISTED_CHARS = 600


def syntax(failure: Failure) -> list[str]:
    """42601 (what the guard's parser read but PostgreSQL did not), 42809: a type written as
    a function (``TIMESTAMP('…')``), MySQL's ``WITH ROLLUP``, ``GROUP BY ALL``, ``* EXCEPT``,
    ``DISTINCT ON`` without parentheses, a list where one array belongs (``= ANY('a', 'b')``),
    an array where a list belongs (``IN ARRAY[…]``), ``IS 'value'``."""
    typed = _type_call(failure.sql, failure.error.position)
    if typed is not None:
        return [typed]
    tree = failure.tree
    if tree is None:
        return []
    found = (
        _rollup(tree)
        or _group_all(tree)
        or star_except(failure.catalog, tree)
        or _distinct_on(tree)
        or array_hint(tree)
        or _is_value(tree)
    )
    return [found] if found is not None else []


# -- types written as functions ---------------------------------------------------------------

#: Types other databases call as functions; PostgreSQL reads ``TIMESTAMP(p)`` as a precision.
#: (``date('…')`` works in PostgreSQL; ``datetime`` is no type there: the guard refuses it.)
_TYPE_CALL = re.compile(r"\b(timestamptz|timestamp|timetz|time|interval)\s*\(\s*$", re.IGNORECASE)
_CASTS = {
    "TIMESTAMP": "timestamptz",
    "TIMESTAMPTZ": "timestamptz",
    "TIME": "time",
    "TIMETZ": "timetz",
    "INTERVAL": "interval",
}


def _type_call(sql: str, position: int | None) -> str | None:
    """``TIMESTAMP('2025-01-01')`` → ``TIMESTAMP '2025-01-01'`` or ``'2025-01-01'::timestamptz``."""
    if position is None or not 1 <= position <= len(sql):
        return None
    before = _TYPE_CALL.search(sql[: position - 1][-200:])
    if before is None:
        return None
    keyword = before.group(1).upper()
    cast = _CASTS[keyword]
    literal = re.match(r"'(?:[^']|'')*'", sql[position - 1 :])
    if literal is not None:
        value = _clip(literal.group(0), 60)
        return (
            f"{keyword}(…) is not a function in PostgreSQL ({keyword}(p) is a precision): "
            f"write the typed literal {keyword} {value}, or {value}::{cast}"
        )
    argument = re.match(r"[^()]{1,120}?(?=\))", sql[position - 1 :])
    shown = argument.group(0).strip() if argument else "x"
    return (
        f"{keyword}(…) is not a function in PostgreSQL: cast instead, "
        f"CAST({shown} AS {cast}) or {shown}::{cast}"
    )


def interval_hint() -> str:
    """For ``INTERVAL(30 DAY)``, which PostgreSQL reads as a column named interval."""
    return (
        "an interval is a string after INTERVAL, without parentheses: INTERVAL '30 days' "
        "(or '30 days'::interval); MySQL's INTERVAL 30 DAY is INTERVAL '30 days' too"
    )


# -- GROUP BY -----------------------------------------------------------------------------------


def _rollup(tree: exp.Expr) -> str | None:
    """MySQL's ``GROUP BY a WITH ROLLUP`` (``WITH CUBE``) → ``GROUP BY ROLLUP (a)``."""
    for group in tree.find_all(exp.Group):
        for kind in ("rollup", "cube"):
            written = group.args.get(kind) or []
            if written and not any(node.expressions for node in written):
                keys = _clip(", ".join(_sql(e) for e in group.expressions) or "…", 200)
                word = kind.upper()
                return (
                    f"PostgreSQL writes WITH {word} as a grouping of its own: "
                    f"GROUP BY {word} ({keys}) (the totals are the rows where the keys are NULL; "
                    "GROUPING(…) tells them apart)"
                )
    return None


def _group_all(tree: exp.Expr) -> str | None:
    """``GROUP BY ALL`` → the select list's expressions that are not aggregates."""
    for group in tree.find_all(exp.Group):
        select = group.parent
        if not group.args.get("all") or not isinstance(select, exp.Select):
            continue
        keys: list[str] = []
        positions: list[str] = []
        for index, item in enumerate(select.expressions, start=1):
            value = item.this if isinstance(item, exp.Alias) else item
            if value.find(exp.AggFunc, exp.Window) is not None or isinstance(value, exp.Literal):
                continue
            keys.append(_sql(value))
            positions.append(str(index))
        if not keys:
            return "PostgreSQL has no GROUP BY ALL: with only aggregates selected, leave it out"
        return (
            "PostgreSQL has no GROUP BY ALL: name the select list's expressions that are not "
            f"aggregates, GROUP BY {_clip(', '.join(keys), 300)} "
            f"(or by position, GROUP BY {', '.join(positions)})"
        )
    return None


# -- SELECT * EXCEPT ----------------------------------------------------------------------------


def star_except(catalog: Catalog | None, tree: exp.Expr) -> str | None:
    """BigQuery's ``* EXCEPT (…)``, DuckDB's and Snowflake's ``* EXCLUDE (…)`` → the table's
    other columns, from the catalog (never a sensitive one)."""
    for star in tree.find_all(exp.Star):
        left = star.args.get("except_") or star.args.get("except") or []
        select = star.find_ancestor(exp.Select)
        if not left or select is None or catalog is None:
            continue
        dropped = {node.name.lower() for node in left if isinstance(node, exp.Column)}
        owner = star.parent.table if isinstance(star.parent, exp.Column) else ""
        tables = [
            (alias, found)
            for alias, source in sources(select)
            if isinstance(source, exp.Table)
            and (not owner or alias == owner.lower())
            and (found := catalog.find(source.name)) is not None
        ]
        if not tables:
            return "PostgreSQL has no SELECT * EXCEPT (…) or EXCLUDE (…): list the columns to keep"
        qualify = len(tables) > 1 or bool(owner)
        kept = [
            f"{alias}.{column.name}" if qualify else column.name
            for alias, table in tables
            for column in table.columns
            if not column.sensitive and column.name.lower() not in dropped
        ]
        return (
            "PostgreSQL has no SELECT * EXCEPT (…) or EXCLUDE (…): list the columns to keep, "
            f"SELECT {_list(kept)} FROM …"
        )
    return None


def _list(names: list[str]) -> str:
    shown: list[str] = []
    for name in names:
        if sum(len(n) + 2 for n in shown) + len(name) > _MAX_LISTED_CHARS:
            return ", ".join(shown) + f", … ({len(names) - len(shown)} more)"
        shown.append(name)
    return ", ".join(shown)


# -- DISTINCT ON --------------------------------------------------------------------------------


def _distinct_on(tree: exp.Expr) -> str | None:
    """``DISTINCT ON claim_id claim_id, event_type`` (read as ``ON (claim_id AS claim_id)``) →
    ``DISTINCT ON (claim_id) claim_id, event_type``."""
    for select in tree.find_all(exp.Select):
        distinct = select.args.get("distinct")
        on = distinct.args.get("on") if isinstance(distinct, exp.Distinct) else None
        keys = on.expressions if isinstance(on, exp.Tuple) else []
        if not any(isinstance(key, exp.Alias) for key in keys):
            continue
        inside = [_sql(key.this if isinstance(key, exp.Alias) else key) for key in keys]
        listed = [key.alias for key in keys if isinstance(key, exp.Alias)]
        listed += [_sql(item) for item in select.expressions]
        return (
            "DISTINCT ON takes its expressions in parentheses, before the select list: "
            f"SELECT DISTINCT ON ({_clip(', '.join(inside), 200)}) "
            f"{_clip(', '.join(listed), 300)} … ORDER BY {inside[0]}, … (the first row of each)"
        )
    return None


# -- IS 'value' ---------------------------------------------------------------------------------

_TRUTHS = {"true": "TRUE", "t": "TRUE", "1": "TRUE", "false": "FALSE", "f": "FALSE", "0": "FALSE"}


def _is_value(tree: exp.Expr) -> str | None:
    """``status IS 'paid'``: IS tests NULL, true and false only; values are compared with =."""
    for node in tree.find_all(exp.Is):
        value = node.expression
        if not isinstance(value, exp.Literal):
            continue
        column, shown = node.this.sql(dialect="postgres"), value.sql(dialect="postgres")
        negated = isinstance(node.parent, exp.Not)
        truth = str(value.this).strip().lower()
        if truth in _TRUTHS:
            written = f"IS {'NOT ' if negated else ''}{_TRUTHS[truth]}"
            return f"TRUE and FALSE are written without quotes: {column} {written}"
        operator, distinct = (
            ("<>", "IS DISTINCT FROM") if negated else ("=", "IS NOT DISTINCT FROM")
        )
        return (
            f"IS only tests NULL, TRUE or FALSE: compare a value with {operator}, "
            f"{column} {operator} {shown} (or {column} {distinct} {shown} to treat NULL as a value)"
        )
    return None


# -- ordered-set aggregates over a window (0A000) ----------------------------------------------


def unsupported(failure: Failure) -> list[str]:
    """0A000 ``OVER is not supported for ordered-set aggregate percentile_cont`` → GROUP BY
    the window's partition, joined back when the rows are needed."""
    if not failure.message.startswith("OVER is not supported for ordered-set aggregate"):
        return []
    tree = failure.tree
    windows = [
        w
        for w in (tree.find_all(exp.Window) if tree else ())
        if isinstance(w.this, exp.WithinGroup)
    ]
    if not windows:
        return [
            "an ordered-set aggregate (percentile_cont, percentile_disc, mode) takes no OVER: "
            "aggregate it with GROUP BY, and join the result back to the rows if they are needed"
        ]
    window = windows[0]
    aggregate = _clip(_sql(window.this), 200)
    select = window.find_ancestor(exp.Select)
    source = select.args.get("from_") if select is not None else None
    origin = _clip(_sql(source.this), 100) if isinstance(source, exp.From) else "…"
    keys = [_sql(key) for key in window.args.get("partition_by") or []]
    if not keys:
        return [
            "an ordered-set aggregate takes no OVER: compute it once, as a scalar subquery "
            f"(SELECT {aggregate} FROM {origin}), next to the rows it belongs with"
        ]
    grouped = _clip(", ".join(keys), 150)
    return [
        f"an ordered-set aggregate takes no OVER: aggregate with GROUP BY instead, SELECT "
        f"{grouped}, {aggregate} AS p FROM {origin} GROUP BY {grouped}; to keep every row, join "
        f"that back: … JOIN (SELECT {grouped}, … AS p FROM {origin} GROUP BY {grouped}) AS g "
        f"USING ({grouped})"
    ]


# -- WITH items (42P01) -------------------------------------------------------------------------


def with_item(failure: Failure, name: str) -> str | None:
    """42P01 on a WITH item used before it is defined: RECURSIVE when it refers to itself,
    else the order of the items."""
    if "There is a WITH item named" not in failure.message:
        return None
    tree = failure.tree
    found = with_item_hint(tree, name) if tree is not None else None
    return found or with_item_hint(exp.With(), name, itself=True)


def with_item_in(sql: str, name: str) -> str | None:
    """`with_item_hint` for the text `sql` (parsed again, when short enough)."""
    tree = parse_again(sql)
    return with_item_hint(tree, name) if tree is not None else None


def with_item_hint(tree: exp.Expr, name: str, *, itself: bool = False) -> str | None:
    """How to fix a reference to the WITH item `name` of `tree` that its place cannot see
    (None when `tree` has no such item): RECURSIVE when it refers to itself, else the order
    of the items. Also for a guard's refusal of `name` as a relation (it is no table)."""
    own = next((c for c in tree.find_all(exp.CTE) if c.alias_or_name.lower() == name.lower()), None)
    if own is None and not itself:
        return None
    itself = itself or any(
        table.name.lower() == name.lower() and not table.db
        for table in (own.this.find_all(exp.Table) if own is not None else ())
    )
    if itself:
        body = own.this if own is not None else None
        shown = f"({_clip(_sql(body), 300)})" if body is not None else "(… UNION ALL …)"
        return (
            f"a WITH item that refers to itself needs RECURSIVE: WITH RECURSIVE {name} AS "
            f"{shown} …; both parts of its UNION ALL must give the same column types "
            "(a date plus an interval is a timestamp: cast one part)"
        )
    return (
        f"the WITH item {name} is used before it is defined: move {name} AS (…) before the "
        "items that read it (or write WITH RECURSIVE)"
    )


_RECURSIVE_TYPES = re.compile(
    r'^recursive query "(.+)" column (\d+) has type (.+) in non-recursive term but type (.+) '
    r"overall"
)


def recursive_types(failure: Failure) -> str | None:
    """42804: the first part of a recursive WITH item gives one type, the whole another →
    the cast of that column in the first part."""
    match = _RECURSIVE_TYPES.match(failure.message)
    if match is None:
        return None
    name, number, first, overall = match.groups()
    tree = failure.tree
    own = next(
        (c for c in (tree.find_all(exp.CTE) if tree else ()) if c.alias_or_name == name), None
    )
    anchor = own.this.this if own is not None and isinstance(own.this, exp.Union) else None
    items = anchor.expressions if isinstance(anchor, exp.Select) else []
    index = int(number) - 1
    if 0 <= index < len(items):
        item = items[index]
        value = item.this if isinstance(item, exp.Alias) else item
        label = f" AS {item.alias}" if isinstance(item, exp.Alias) else ""
        cast = f"CAST({_clip(_sql(value), 100)} AS {overall}){label}"
        return (
            f"column {number} of {name} is {first} in the first part but {overall} overall: "
            f"cast it in the first part, SELECT {cast} …, or cast the recursive part back "
            f"to {first}"
        )
    return f"cast column {number} of {name} to {overall} in the first part of the UNION ALL"


def _sql(node: exp.Expr) -> str:
    return node.sql(dialect="postgres")


def _clip(text: str, most: int = 120) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"
