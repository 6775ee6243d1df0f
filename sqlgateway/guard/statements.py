"""Statement rules: only read-only queries, recognised from their first keyword and their root.

Allowed: SELECT, WITH … SELECT, VALUES, TABLE (sqlglot turns it into SELECT *), and any of
those in parentheses or combined with UNION / INTERSECT / EXCEPT.
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.tokenizer_core import Token, TokenType

from sqlgateway.errors import RejectedError

READ_ONLY_HINT = "this gateway only runs read-only queries: SELECT, WITH … SELECT, VALUES, TABLE"

_STARTS = frozenset(
    {TokenType.SELECT, TokenType.WITH, TokenType.VALUES, TokenType.TABLE, TokenType.L_PAREN}
)
_QUERIES = (exp.Select, exp.SetOperation, exp.Values)

#: First keywords that need the next keyword to name the statement (CREATE TABLE, DROP ROLE);
#: the modifiers in between are skipped (CREATE OR REPLACE TEMP VIEW → CREATE VIEW).
_OBJECT_STATEMENTS = frozenset(
    {"ALTER", "CREATE", "DROP", "REFRESH", "SECURITY", "IMPORT", "START", "REASSIGN"}
)
_MODIFIERS = frozenset(
    {
        "OR",
        "REPLACE",
        "TEMP",
        "TEMPORARY",
        "UNLOGGED",
        "GLOBAL",
        "LOCAL",
        "UNIQUE",
        "RECURSIVE",
        "TRUSTED",
        "PROCEDURAL",
        "DEFAULT",
    }
)
_QUALIFIED_OBJECTS = frozenset({"MATERIALIZED", "FOREIGN", "EVENT", "TEXT", "ACCESS"})


def check_statement_start(tokens: list[Token]) -> None:
    """Refuse statements whose first keyword cannot begin a read-only query."""
    if not tokens or tokens[0].token_type in _STARTS:
        return
    if tokens[0].token_type == TokenType.SEMICOLON:
        return  # an empty statement: the token screen refuses it
    construct = statement_name(tokens)
    raise RejectedError(f"{construct} is not allowed", construct=construct, hint=READ_ONLY_HINT)


def statement_name(tokens: list[Token]) -> str:
    """How to name the statement that `tokens` begin, e.g. ``CREATE FUNCTION``."""
    first = tokens[0].text
    if first == "\\":
        return "psql meta-command"
    if not first.isidentifier():
        return f"statement starting with {first}"
    words = [first.upper()]
    if words[0] in _OBJECT_STATEMENTS:
        # Statements sqlglot does not parse arrive as one keyword and one string token.
        rest = [word.upper() for token in tokens[1:6] for word in token.text.split()]
        rest = [word for word in rest if word.isidentifier()]
        while rest and rest[0] in _MODIFIERS:
            rest.pop(0)
        words.extend(rest[:2] if rest and rest[0] in _QUALIFIED_OBJECTS else rest[:1])
    return " ".join(words)


def check_root(tree: exp.Expr) -> None:
    """Refuse a tree whose root is not a query (after unwrapping parentheses)."""
    node = _unwrap(tree)
    if isinstance(node, _QUERIES):
        return
    construct = _statement_name(node)
    raise RejectedError(f"{construct} is not allowed", construct=construct, hint=READ_ONLY_HINT)


def ordering(tree: exp.Expr) -> tuple[bool, bool]:
    """(has_order_by, has_limit) of the outermost query: clauses on the parenthesised query
    and on the query inside both count. ``LIMIT ALL`` and ``LIMIT NULL`` are no limit."""
    has_order_by = has_limit = False
    node: exp.Expr | None = tree
    while node is not None:
        has_order_by = has_order_by or node.args.get("order") is not None
        has_limit = has_limit or node.args.get("fetch") is not None or _limits(node)
        node = node.this if isinstance(node, exp.Subquery) else None
    return has_order_by, has_limit


#: Clauses that make PostgreSQL collect, combine or reorder rows before returning any.
_NOT_STREAMING_CLAUSES = (
    "joins",
    "group",
    "having",
    "order",
    "distinct",
    "windows",
    "qualify",
    "with_",
    "with",
    "laterals",
    "pivots",
    "sample",
    "connect",
    "prewhere",
    "match",
)


def streams_rows(tree: exp.Expr) -> bool:
    """True for one SELECT over one plain table that returns rows as it scans them: no joins,
    grouping, ordering, DISTINCT, windows, CTEs, subqueries, set operations, and no function
    calls at all (the guard keeps calls verbatim, so an aggregate is not told apart by class;
    a named query's cast bind parameter is a constant, not a call).

    Such a statement costs a bounded amount of work per row the gateway reads, so PostgreSQL's
    cost estimate cannot change the verdict; the statement timeout still bounds a long scan.

    >>> from sqlglot import parse_one
    >>> streams_rows(parse_one("SELECT * FROM claims WHERE claim_id = 1", "postgres"))
    True
    >>> streams_rows(parse_one("SELECT count(*) FROM claims", "postgres"))
    False
    """
    if not isinstance(tree, exp.Select):
        return False
    if any(tree.args.get(clause) for clause in _NOT_STREAMING_CLAUSES):
        return False
    source = tree.args.get("from_")
    if source is None or not isinstance(source.this, exp.Table):
        return False
    if not isinstance(source.this.this, exp.Identifier):  # a table function, not a table
        return False
    tables = selects = 0
    for node in tree.walk():
        if isinstance(node, exp.Table):
            tables += 1
        elif isinstance(node, exp.Select):
            selects += 1
        elif isinstance(node, exp.Window | exp.SetOperation | exp.Subquery) or (
            isinstance(node, exp.Func)
            and not isinstance(node, exp.Binary | exp.Connector)
            and not _bound_value(node)
        ):
            return False
        if tables > 1 or selects > 1:
            return False
    return True


def _bound_value(node: exp.Expr) -> bool:
    """A named query's ``CAST($1 AS type)``: a constant, not a call that works per row."""
    return isinstance(node, exp.Cast) and isinstance(node.this, exp.Parameter)


def _limits(node: exp.Expr) -> bool:
    limit = node.args.get("limit")
    if not isinstance(limit, exp.Limit):
        return limit is not None
    count = limit.expression
    if isinstance(count, exp.Null):
        return False
    return not (isinstance(count, exp.Var) and count.name.upper() == "ALL")


def _unwrap(node: exp.Expr) -> exp.Expr:
    while isinstance(node, exp.Subquery) and isinstance(node.this, exp.Expr):
        node = node.this
    return node


def _statement_name(node: exp.Expr) -> str:
    if isinstance(node, exp.Command):
        return str(node.this).upper()
    return node.key.upper().replace("_", " ")
