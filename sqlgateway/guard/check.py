"""check_sql: the guard's rules composed in one visible order.

1. tokenize         syntax errors with line, column and caret (parse.py, syntax.py)
2. statement start  the first keyword begins a read-only query (statements.py)
3. token screen     one statement, no U& escapes, bounded nesting, plain numbers (parse.py)
4. parse            exactly one tree, within a work budget (parse.py)
5. statement root   the root is a query (statements.py)
6. node walk        every node once: class allowlist and node checks (nodes.py), function
                    calls (functions.py), relations and CTE scope (relations.py)
7. render           SQL written from the validated tree (render.py)
8. re-check         the rendered SQL passes 1–6 with the same tables and functions and has no
                    backslash in a plain string, so no generator quirk can change what runs
"""

from __future__ import annotations

from typing import cast

from sqlglot import exp
from sqlglot.tokenizer_core import Token, TokenType

from sqlgateway.errors import GuardError, RejectedError
from sqlgateway.guard.functions import FUNCTION_NODES, check_function
from sqlgateway.guard.nodes import ALLOWED_NODES, NODE_CHECKS, refuse_node
from sqlgateway.guard.parse import NESTING_HINT, parse_tokens, screen_tokens, tokenize
from sqlgateway.guard.policy import GuardPolicy
from sqlgateway.guard.relations import CteScopes, check_relation
from sqlgateway.guard.render import render
from sqlgateway.guard.statements import (
    check_root,
    check_statement_start,
    ordering,
    streams_rows,
)
from sqlgateway.guard.verdict import Verdict

#: Tokens of strings whose meaning depends on standard_conforming_strings.
_PLAIN_STRING_TOKENS = frozenset(
    {TokenType.STRING, TokenType.NATIONAL_STRING, TokenType.HEREDOC_STRING, TokenType.RAW_STRING}
)

#: Allowed nodes that need no further look.
_PLAIN_NODES = ALLOWED_NODES - NODE_CHECKS.keys() - FUNCTION_NODES - {exp.Table}


def check_sql(sql: str, policy: GuardPolicy) -> Verdict:
    """The verdict on `sql`: the SQL to run and what it reads, or a GuardError.

    Pure and thread-safe. Only GuardError subclasses leave it: RejectedError for valid SQL
    that is not allowed, SQLSyntaxError for SQL that does not parse.

    >>> check_sql("SELECT count(*) FROM claims;", GuardPolicy()).sql
    'SELECT count(*) FROM claims'
    """
    try:
        tree = _tree(sql, tokenize(sql))
        tables, functions = inspect_tree(tree, policy)
        has_order_by, has_limit = ordering(tree)
        rendered = render(tree, backslashes="\\" in sql)
        _recheck(rendered, policy, tables, functions)
    except GuardError:
        raise
    except RecursionError:
        raise RejectedError(
            "the query is nested too deeply", construct="deep nesting", hint=NESTING_HINT
        ) from None
    except Exception as exc:
        raise RejectedError(
            f"the guard could not analyse this query ({type(exc).__name__})",
            construct="unanalysable query",
            hint="rewrite the query with plain SELECT features",
        ) from None
    return Verdict(
        sql=rendered,
        tables=tuple(sorted(tables)),
        functions=tuple(sorted(functions)),
        has_order_by=has_order_by,
        has_limit=has_limit,
        streams_rows=streams_rows(tree),
    )


def inspect_tree(tree: exp.Expr, policy: GuardPolicy) -> tuple[set[str], set[str]]:
    """Walk every node once; return (relations read, functions called) or raise."""
    tables: set[str] = set()
    functions: set[str] = set()
    scopes = CteScopes()
    for node in tree.walk():
        kind = type(node)
        if kind in _PLAIN_NODES:
            continue
        node_check = NODE_CHECKS.get(kind)
        if node_check is not None:
            node_check(node)
        elif kind is exp.Table:
            relation = check_relation(cast(exp.Table, node), policy, scopes)
            if relation is not None:
                tables.add(relation)
        elif kind in FUNCTION_NODES:
            functions.add(check_function(node, policy))
        else:
            raise refuse_node(node)
    return tables, functions


def _tree(sql: str, tokens: list[Token]) -> exp.Expr:
    check_statement_start(tokens)
    tree = parse_tokens(screen_tokens(tokens, sql), sql)
    check_root(tree)
    return tree


def _recheck(rendered: str, policy: GuardPolicy, tables: set[str], functions: set[str]) -> None:
    """Refuse unless the rendered SQL is accepted with the same tables and functions."""
    try:
        tokens = tokenize(rendered)
        again = inspect_tree(_tree(rendered, tokens), policy)
    except GuardError as exc:
        raise _unstable(exc.message) from None
    if "\\" in rendered and any(
        token.token_type in _PLAIN_STRING_TOKENS and "\\" in rendered[token.start : token.end + 1]
        for token in tokens
    ):
        raise _unstable("a backslash would end up in a plain '…' string")
    if again != (tables, functions):
        raise _unstable("it reads or calls something else once written back")


def _unstable(reason: str) -> RejectedError:
    return RejectedError(
        f"the guard cannot write this query back faithfully: {reason}",
        construct="unstable rendering",
        hint="rewrite the query with standard PostgreSQL syntax",
    )
