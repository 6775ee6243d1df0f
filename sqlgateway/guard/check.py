"""check_sql: the guard's rules composed in one visible order.

1. tokenize         syntax errors with line, column and caret (parse.py, syntax.py)
2. statement start  the first keyword begins a read-only query (statements.py)
3. token screen     one statement, no U& escapes, bounded nesting, plain numbers (parse.py)
4. parse            exactly one tree, within a work budget (parse.py)
5. statement root   the root is a query (statements.py)
6. node walk        every node once: class allowlist and node checks (nodes.py), function
                    calls (functions.py), relations and CTE scope (relations.py), bind
                    parameters of named queries only (parameters.py)
7. value sizes      no value built from constants far larger than a response (sizes.py)
8. render           SQL written from the validated tree (render.py); first, with
                    ``policy.star_columns``, ``*`` over a table with sensitive columns is
                    written out as its other columns (stars.py)
9. re-check         the rendered SQL passes 1–6 with the same tables and functions and has no
                    backslash in a plain string, so no generator quirk can change what runs

The re-check skips steps 2–6 when the rendered SQL has the very tokens of the query (same
types and texts, glued to their neighbours in the same places) and the query had no comments:
sqlglot's parser reads nothing else, so it would build the same tree and find the same tables
and functions. Whitespace between tokens reaches a tree only as the text of constructs the
guard refuses whatever they say (commands, hints). Model SQL written in sqlglot's own spelling
(upper-case keywords, no ``::`` casts) takes this path and pays for one parse, not two.

The walk also notes, for the answer, the columns compared with string literals (literals.py,
checked against the catalog's value domains after the verdict) and text PostgreSQL would read
differently from its author (reinterpret.py); neither changes the verdict.
"""

from __future__ import annotations

import dataclasses
import re
from typing import cast

from sqlglot import exp
from sqlglot.tokenizer_core import Token, TokenType

from sqlgateway.errors import GuardError, RejectedError
from sqlgateway.guard.functions import FUNCTION_NODES, check_function
from sqlgateway.guard.literals import (
    COMPARISON_NODES,
    KEY_READS,
    NULL_NOTE,
    PATH_TEXT,
    Found,
    compared,
    compares_with_null,
    read_key,
    resolve,
)
from sqlgateway.guard.nodes import ALLOWED_NODES, NODE_CHECKS, refuse_node
from sqlgateway.guard.parameters import check_parameter
from sqlgateway.guard.parse import NESTING_HINT, parse_tokens, screen_tokens, tokenize
from sqlgateway.guard.pitfalls import (
    PITFALL_NODES,
    desc_nulls_first,
    pitfall,
    sorts_by_position,
)
from sqlgateway.guard.policy import GuardPolicy
from sqlgateway.guard.reinterpret import reinterpretations
from sqlgateway.guard.relations import CteScopes, check_relation
from sqlgateway.guard.render import render
from sqlgateway.guard.sizes import check_value_sizes
from sqlgateway.guard.stars import expand_stars
from sqlgateway.guard.statements import (
    check_root,
    check_statement_start,
    ordering,
    streams_rows,
)
from sqlgateway.guard.verdict import Comparison, Verdict

#: Tokens of strings whose meaning depends on standard_conforming_strings.
_PLAIN_STRING_TOKENS = frozenset(
    {TokenType.STRING, TokenType.NATIONAL_STRING, TokenType.HEREDOC_STRING, TokenType.RAW_STRING}
)

#: Allowed nodes the walk notes for the answer (comparisons, stars), checking nothing.
_NOTED_NODES = COMPARISON_NODES | {exp.Star} | PITFALL_NODES | KEY_READS
#: Allowed nodes that need no further look.
_PLAIN_NODES = ALLOWED_NODES - NODE_CHECKS.keys() - FUNCTION_NODES - {exp.Table} - _NOTED_NODES
#: Text that may hold a spelling reinterpret.py knows (the token scan confirms it).
_MAYBE_REINTERPRETED = re.compile(r"\[|limit\s+\S+\s*,", re.IGNORECASE)


@dataclasses.dataclass(slots=True)
class Walk:
    """What one walk over a tree found."""

    tables: set[str] = dataclasses.field(default_factory=set)
    functions: set[str] = dataclasses.field(default_factory=set)
    #: id of each exp.Table node that reads a relation → the relation's name
    relation_of: dict[int, str] = dataclasses.field(default_factory=dict)
    compared: list[tuple[exp.Expr, Found]] = dataclasses.field(default_factory=list)
    #: ids of the comparison nodes in `compared` (their JSON operands are noted with them)
    noted: set[int] = dataclasses.field(default_factory=set)
    stars: list[exp.Expr] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)

    def comparisons(self) -> tuple[Comparison, ...]:
        found = (resolve(item, self.relation_of) for _, item in self.compared)
        return tuple(comparison for comparison in found if comparison is not None)


def check_sql(sql: str, policy: GuardPolicy) -> Verdict:
    """The verdict on `sql`: the SQL to run and what it reads, or a GuardError.

    Pure and thread-safe. Only GuardError subclasses leave it: RejectedError for valid SQL
    that is not allowed, SQLSyntaxError for SQL that does not parse.

    >>> check_sql("SELECT count(*) FROM claims;", GuardPolicy()).sql
    'SELECT count(*) FROM claims'
    """
    try:
        tokens = tokenize(sql)
        source = _Statement.of(tokens, sql)  # before screening, which marks some tokens
        tree = _tree(sql, tokens)
        walk = walk_tree(tree, policy)
        tables, functions = walk.tables, walk.functions
        reads_integers = check_value_sizes(tree, functions, policy.max_value_chars)
        has_order_by, has_limit = ordering(tree)
        nulls_first = desc_nulls_first(tree, sql) if has_order_by else None
        reads_integers = reads_integers or (nulls_first is not None and sorts_by_position(tree))
        comparisons = walk.comparisons() if walk.compared else ()
        notes = (
            *walk.notes,
            *(reinterpretations(tokens) if _MAYBE_REINTERPRETED.search(sql) else ()),
        )
        omitted: list[str] = []
        if walk.stars and policy.star_columns:
            omitted = expand_stars(walk.stars, walk.relation_of, policy.stars_by_table)
        rendered = render(tree, backslashes="\\" in sql)
        _recheck(rendered, policy, tables, functions, source)
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
        comparisons=comparisons,
        notes=notes,
        stars=bool(walk.stars),
        omitted=tuple(omitted),
        reads_integers=reads_integers,
        nulls_first=nulls_first,
    )


def inspect_tree(tree: exp.Expr, policy: GuardPolicy) -> tuple[set[str], set[str]]:
    """Walk every node once; return (relations read, functions called) or raise."""
    walk = walk_tree(tree, policy)
    return walk.tables, walk.functions


def walk_tree(tree: exp.Expr, policy: GuardPolicy) -> Walk:
    """Walk every node once: check it, and note what the verdict reports; or raise."""
    walk = Walk()
    tables, functions = walk.tables, walk.functions
    scopes = CteScopes()
    for node in tree.walk():
        kind = type(node)
        if kind in _PLAIN_NODES:
            continue
        if kind in PITFALL_NODES:
            note = pitfall(node)
            if note is not None and note not in walk.notes:
                walk.notes.append(note)
            if kind in ALLOWED_NODES and kind not in NODE_CHECKS:
                continue
        node_check = NODE_CHECKS.get(kind)
        if node_check is not None:
            node_check(node)
        elif kind is exp.Table:
            relation = check_relation(cast(exp.Table, node), policy, scopes)
            if relation is not None:
                tables.add(relation)
                walk.relation_of[id(node)] = relation
        elif kind in FUNCTION_NODES:
            name = check_function(node, policy)
            functions.add(name)
            if name in PATH_TEXT and (read := read_key(node, walk.noted)) is not None:
                walk.compared.append((node, read))
        elif kind in KEY_READS:
            read = read_key(node, walk.noted)
            if read is not None:
                walk.compared.append((node, read))
        elif kind is exp.Parameter and policy.bind_parameters:
            check_parameter(node, policy.bind_parameters)
        elif kind is exp.Star:
            check_star_modifiers(node)
            item = node.parent if isinstance(node.parent, exp.Column) else node
            if isinstance(item.parent, exp.Select) and item.arg_key == "expressions":
                walk.stars.append(node)
        elif kind in COMPARISON_NODES:
            found = compared(node)
            if found is not None:
                walk.compared.append((node, found))
                walk.noted.add(id(node))
            elif compares_with_null(node) and NULL_NOTE not in walk.notes:
                walk.notes.append(NULL_NOTE)
        else:
            raise refuse_node(node)
    return walk


#: What other dialects write after ``*``: BigQuery's EXCEPT and REPLACE, DuckDB's and
#: Snowflake's EXCLUDE and RENAME (sqlglot reads them even as PostgreSQL).
_STAR_MODIFIERS = ("except_", "except", "replace", "rename")


def check_star_modifiers(star: exp.Expr) -> None:
    """``* EXCEPT (…)`` is not PostgreSQL: refused here, because the sensitive columns'
    expansion of ``*`` would otherwise drop the EXCEPT and answer every column."""
    if any(star.args.get(modifier) for modifier in _STAR_MODIFIERS):
        raise RejectedError(
            "SELECT * EXCEPT (…), EXCLUDE, REPLACE and RENAME are not PostgreSQL",
            construct="star modifier",
            hint="list the columns to keep (GET /schema?table=<name> lists them)",
        )


def _tree(sql: str, tokens: list[Token]) -> exp.Expr:
    check_statement_start(tokens)
    tree = parse_tokens(screen_tokens(tokens, sql), sql)
    check_root(tree)
    return tree


@dataclasses.dataclass(frozen=True, slots=True)
class _Statement:
    """The tokens of a statement without comments (its trailing semicolon dropped, as
    screen_tokens does) and its text from the first token to the last."""

    tokens: list[Token]
    text: str

    @classmethod
    def of(cls, tokens: list[Token], sql: str) -> _Statement | None:
        """None when the tokens carry comments, or there are none."""
        if tokens and tokens[-1].token_type is TokenType.SEMICOLON:
            tokens = tokens[:-1]
        if not tokens or any(token.comments for token in tokens):
            return None
        return cls(tokens, sql[tokens[0].start : tokens[-1].end + 1])

    def spelling(self) -> list[tuple[TokenType, str, bool]]:
        """What sqlglot's parser reads: each token's type and text and whether it touches the
        one before (``Parser._is_connected``)."""
        spelled = []
        previous_end = -2
        for token in self.tokens:
            spelled.append((token.token_type, token.text, token.start == previous_end + 1))
            previous_end = token.end
        return spelled


def _recheck(
    rendered: str,
    policy: GuardPolicy,
    tables: set[str],
    functions: set[str],
    source: _Statement | None,
) -> None:
    """Refuse unless the rendered SQL is accepted with the same tables and functions."""
    tokens: list[Token] | None = None
    again = tables, functions  # when the guard read the very same tokens (module docstring)
    if source is None or rendered != source.text:
        try:
            tokens = tokenize(rendered)
            written = _Statement.of(tokens, rendered)
            if source is None or written is None or written.spelling() != source.spelling():
                again = inspect_tree(_tree(rendered, tokens), policy)
        except GuardError as exc:
            raise _unstable(exc.message) from None
    if again != (tables, functions):
        raise _unstable("it reads or calls something else once written back")
    if "\\" in rendered and any(
        token.token_type in _PLAIN_STRING_TOKENS and "\\" in rendered[token.start : token.end + 1]
        for token in tokens or tokenize(rendered)
    ):
        raise _unstable("a backslash would end up in a plain '…' string")


def _unstable(reason: str) -> RejectedError:
    return RejectedError(
        f"the guard cannot write this query back faithfully: {reason}",
        construct="unstable rendering",
        hint="rewrite the query with standard PostgreSQL syntax",
    )
