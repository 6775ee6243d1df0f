"""``*`` and ``t.*`` over a table with sensitive columns, written out without them.

Pure. ``SELECT * FROM policyholders`` would read a sensitive column; instead of refusing the
whole query, the guard replaces the star in the approved tree by the table's other columns
(``GuardPolicy.star_columns``), before the tree is rendered and checked again, so what runs is
still written from the checked tree. The sensitive-column check (sensitive.py) then runs on
that SQL as on any other: naming a sensitive column anywhere stays refused.

A star is left as written (and so refused by the sensitive-column check) where its expansion
would not mean the same: a NATURAL join, a table given column aliases (``policyholders h(a,
b, c)``), a source without a name.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlglot import exp

from sqlgateway.guard.literals import sources
from sqlgateway.guard.policy import StarColumns

DEFAULT_SCHEMA = "public"


def relation_key(relation: str) -> str:
    """``table`` → ``public.table``; ``schema.table`` unchanged (the catalog's keys)."""
    return relation if "." in relation else f"{DEFAULT_SCHEMA}.{relation}"


def expand_stars(
    stars: list[exp.Expr],
    relation_of: Mapping[int, str],
    star_columns: Mapping[str, StarColumns],
) -> list[str]:
    """Expand the select-list `stars` (``exp.Star`` nodes the walk found) that cover a table
    of `star_columns` (``schema.table`` → what a star may show of it). The tree is changed in
    place; returns the ``table.column`` names left out, in order."""
    omitted: list[str] = []
    for star in stars:
        parent = star.parent
        if isinstance(parent, exp.Column):  # t.*
            item: exp.Expr = parent
            qualifier = parent.args.get("table")
        else:
            item, qualifier = star, None
        select = item.parent
        if not isinstance(select, exp.Select) or item.arg_key != "expressions":
            continue
        named = sources(select)
        if qualifier is not None:
            wanted = qualifier.this if qualifier.quoted else str(qualifier.this).lower()
            named = [(alias, source) for alias, source in named if alias == wanted]
        replacement = _expansion(select, named, relation_of, star_columns, omitted)
        if replacement is None:
            continue
        items = list(select.expressions)
        at = next(i for i, node in enumerate(items) if node is item)
        select.set("expressions", [*items[:at], *replacement, *items[at + 1 :]])
    return omitted


def _expansion(
    select: exp.Select,
    named: list[tuple[str, exp.Expr]],
    relation_of: Mapping[int, str],
    star_columns: Mapping[str, StarColumns],
    omitted: list[str],
) -> list[exp.Expr] | None:
    """The select-list items that replace a star over `named`, or None to leave it."""
    keys = [relation_key(relation_of[id(s)]) if id(s) in relation_of else "" for _, s in named]
    if not any(key in star_columns for key in keys):
        return None
    joins = select.args.get("joins") or []
    if any(join.args.get("kind") == "NATURAL" or join.args.get("method") for join in joins):
        return None
    using = {
        str(column.name).lower()
        for join in joins
        for column in join.args.get("using") or ()
        if isinstance(column, exp.Expr)
    }
    items: list[exp.Expr] = []
    left_seen = False
    for (alias, source), key in zip(named, keys, strict=True):
        table_alias = source.args.get("alias")
        if not alias or (isinstance(table_alias, exp.TableAlias) and table_alias.columns):
            return None
        if key not in star_columns:
            items.append(exp.Column(this=exp.Star(), table=exp.to_identifier(alias, quoted=True)))
            left_seen = True
            continue
        shown = key.removeprefix(DEFAULT_SCHEMA + ".")
        omitted.extend(f"{shown}.{name}" for name in star_columns[key].hidden)
        for name in star_columns[key].visible:
            if left_seen and name in using:
                continue  # USING merged it with the same column of an earlier source
            items.append(
                exp.Column(
                    this=exp.to_identifier(name, quoted=True),
                    table=exp.to_identifier(alias, quoted=True),
                )
            )
        left_seen = True
    return items
