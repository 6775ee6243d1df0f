"""Text that sqlglot reads as valid PostgreSQL although its author meant something else.

Pure. PostgreSQL itself refuses these spellings; sqlglot's parser accepts them with another
dialect's meaning, or a meaning nobody intended, and the guard then approves what it wrote
back. The query still runs (what ran is what the guard checked), and the answer's notice says
how the text was read and how to write it:

- ``[status]`` (T-SQL quoting) is read as an array constructor, ``ARRAY[status]``;
- ``LIMIT 10, 20`` (MySQL) is read as ``LIMIT 20 OFFSET 10``.

The notes name no literal of the query, so a verdict cached by shape keeps them true.

>>> from sqlgateway.guard.parse import tokenize
>>> reinterpretations(tokenize("SELECT [status] FROM claims"))[0][:40]
'[name] is T-SQL quoting: PostgreSQL read'
"""

from __future__ import annotations

from sqlglot.tokenizer_core import Token, TokenType

BRACKETS_NOTE = (
    "[name] is T-SQL quoting: PostgreSQL read it as an array (ARRAY[name]), so the column "
    'holds arrays; write "name" in double quotes (or bare), or resend the same text with '
    '"dialect": "tsql"'
)
LIMIT_NOTE = (
    "LIMIT <offset>, <count> is MySQL syntax; it ran as LIMIT <count> OFFSET <offset>, "
    "which is how PostgreSQL spells it"
)

#: Tokens after which ``[`` opens an expression (an array), not a subscript of what precedes.
_EXPRESSION_STARTS = frozenset(
    getattr(TokenType, name)
    for name in (
        "SELECT",
        "COMMA",
        "L_PAREN",
        "WHERE",
        "AND",
        "OR",
        "NOT",
        "GROUP_BY",
        "ORDER_BY",
        "PARTITION_BY",
        "HAVING",
        "ON",
        "CASE",
        "WHEN",
        "THEN",
        "ELSE",
        "DISTINCT",
        "IN",
        "IS",
        "BETWEEN",
        "EQ",
        "NEQ",
        "GT",
        "GTE",
        "LT",
        "LTE",
        "PLUS",
        "DASH",
        "SLASH",
        "STAR",
        "MOD",
        "DPIPE",
    )
)


def reinterpretations(tokens: list[Token]) -> tuple[str, ...]:
    """The notes for `tokens` (the statement's), in a fixed order; () for ordinary SQL."""
    brackets = limit = False
    previous: Token | None = None
    for index, token in enumerate(tokens):
        kind = token.token_type
        if kind is TokenType.L_BRACKET:
            if previous is not None and previous.token_type in _EXPRESSION_STARTS:
                brackets = True
        elif kind is TokenType.LIMIT:
            following = tokens[index + 2] if index + 2 < len(tokens) else None
            if following is not None and following.token_type is TokenType.COMMA:
                limit = True
        previous = token
    return tuple(note for note, found in ((BRACKETS_NOTE, brackets), (LIMIT_NOTE, limit)) if found)
