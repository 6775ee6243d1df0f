"""Text → exactly one sqlglot tree: tokenize, screen the tokens, parse.

Token-level rules run before the parser sees anything: one statement (a single trailing
semicolon is fine), no ``U&`` Unicode-escape strings or identifiers, bounded nesting, no
number literal sqlglot would misread. The parser then runs within a work budget. Every
ordinary call ``name(args)`` is parsed verbatim as ``exp.Anonymous`` (sqlglot's documented
``sqlglot.anonymous`` marker), so the function check sees the name PostgreSQL will run and the
generated SQL calls exactly that name: sqlglot would otherwise translate some calls between
dialects (``to_hex(x)`` → ``HEX(x)``, ``to_number(s, fmt)`` → a cast).
"""

from __future__ import annotations

import threading

from sqlglot import exp
from sqlglot.dialects.postgres import Postgres
from sqlglot.errors import ErrorLevel, ParseError, TokenError
from sqlglot.parsers.postgres import PostgresParser
from sqlglot.tokenizer_core import Token, TokenType
from sqlglot.tokens import Tokenizer

from sqlgateway.errors import GuardError, RejectedError
from sqlgateway.guard.syntax import syntax_error, unterminated_at

DIALECT = Postgres()

#: Deepest nesting of parentheses and brackets accepted; sqlglot's recursive-descent parser
#: needs Python stack for each level.
MAX_NESTING = 100

NESTING_HINT = f"simplify the query: at most {MAX_NESTING} levels of parentheses or brackets"

#: Work budget of the parser, in tree nodes built (discarded attempts included): a few
#: constructs make sqlglot backtrack exponentially (nested ``ARRAY[…]``, nested ``LATERAL``
#: that fails to parse), ordinary queries build about one node per token.
MAX_NODES_BASE = 2_000
MAX_NODES_PER_TOKEN = 2

_NAMED_FUNCTIONS = frozenset(PostgresParser.FUNCTIONS)
_ANONYMOUS = exp.SQLGLOT_ANONYMOUS
_L_PAREN, _R_PAREN = TokenType.L_PAREN, TokenType.R_PAREN
_L_BRACKET, _R_BRACKET = TokenType.L_BRACKET, TokenType.R_BRACKET
_SEMICOLON, _UNICODE_STRING, _AMP = TokenType.SEMICOLON, TokenType.UNICODE_STRING, TokenType.AMP
_NUMBER, _HEX_STRING, _BIT_STRING = TokenType.NUMBER, TokenType.HEX_STRING, TokenType.BIT_STRING
_SCREENED = frozenset(
    {
        _L_PAREN,
        _R_PAREN,
        _L_BRACKET,
        _R_BRACKET,
        _SEMICOLON,
        _UNICODE_STRING,
        _AMP,
        _NUMBER,
        _HEX_STRING,
        _BIT_STRING,
        TokenType.DISTINCT,
    }
)


_THREAD = threading.local()


def scan(sql: str) -> list[Token]:
    """sqlglot's PostgreSQL tokens of `sql` (TokenError if it cannot split it), from one
    tokenizer per thread: building a tokenizer costs as much as tokenizing a point lookup,
    and each call starts by resetting it."""
    tokenizer: Tokenizer | None = getattr(_THREAD, "tokenizer", None)
    if tokenizer is None:
        tokenizer = _THREAD.tokenizer = DIALECT.tokenizer()
    return tokenizer.tokenize(sql)


def tokenize(sql: str) -> list[Token]:
    """The tokens of `sql`; SQLSyntaxError if it cannot be split into tokens."""
    try:
        return scan(sql)
    except TokenError as exc:
        found = unterminated_at(sql)
        if found is not None:
            raise syntax_error(sql, found[0], found[1]) from None
        raise syntax_error(sql, _token_error_offset(sql, exc), "invalid token") from None


def screen_tokens(tokens: list[Token], sql: str) -> list[Token]:
    """The tokens of the one statement of `sql`, marked for verbatim function calls.

    Refuses several statements, ``U&`` escapes, nesting deeper than MAX_NESTING and numbers
    sqlglot would misread (``0x1F``, ``0b101``, ``0o17``, ``1_000``).
    """
    if tokens and tokens[-1].token_type is _SEMICOLON:
        tokens = tokens[:-1]
    if not tokens:
        raise RejectedError(
            "the SQL is empty", construct="empty statement", hint="send one SELECT statement"
        )
    calls: list[int] = []
    depth = 0
    for index, token in enumerate(tokens):
        kind = token.token_type
        if kind not in _SCREENED:
            continue
        if kind is _L_PAREN or kind is _L_BRACKET:
            depth += 1
            if depth > MAX_NESTING:
                raise RejectedError(
                    f"nesting deeper than {MAX_NESTING} levels is not allowed",
                    construct="deep nesting",
                    hint=NESTING_HINT,
                )
            if kind is _L_PAREN:
                calls.append(index)
        elif kind is _R_PAREN or kind is _R_BRACKET:
            depth -= 1
            if kind is _R_PAREN and calls:
                opener = calls.pop()
                if opener and tokens[opener - 1].text.upper() in _NAMED_FUNCTIONS:
                    token.comments.append(_ANONYMOUS)
        elif kind is _SEMICOLON:
            raise RejectedError(
                "multiple statements are not allowed",
                construct="multiple statements",
                hint="send exactly one statement per request; a single trailing semicolon is fine",
            )
        elif kind is _NUMBER or kind is _HEX_STRING or kind is _BIT_STRING:
            _check_number(token, tokens[index + 1] if index + 1 < len(tokens) else None, sql)
        elif kind is TokenType.DISTINCT:
            _check_distinct_on(tokens, index, sql)
        elif kind is _UNICODE_STRING or (index and _after_u(tokens[index - 1], token)):
            raise RejectedError(
                "Unicode escapes (U&'…' or U&\"…\") are not allowed",
                construct="U& Unicode escape",
                hint="write the characters themselves instead of U& escapes",
            )
    return tokens


def _check_distinct_on(tokens: list[Token], index: int, sql: str) -> None:
    """``DISTINCT ON claim_id, …`` without parentheses is a syntax error in PostgreSQL, but
    sqlglot reads the first name as the key and the rest as the select list, which changes
    the answer's columns: refused as the error it is, with the attempt's own key."""
    after = tokens[index + 1 : index + 3]
    if len(after) < 2 or after[0].token_type is not TokenType.ON:
        return
    key = after[1]
    if key.token_type is _L_PAREN:
        return
    end = next((t.start for t in tokens[index + 3 :] if t.token_type is TokenType.FROM), len(sql))
    rest = sql[key.end + 1 : end].strip()
    listed = f"{key.text}{rest}" if rest.startswith(",") else rest or key.text
    raise syntax_error(
        sql,
        key.start,
        "DISTINCT ON takes its expressions in parentheses",
        hint=f"put the key in parentheses, before the select list: SELECT DISTINCT ON "
        f"({key.text}) {listed} … ORDER BY {key.text}, … (the first row of each key)",
    )


def parse_tokens(tokens: list[Token], sql: str) -> exp.Expr:
    """The one tree of the screened `tokens` of `sql`."""
    parser = DIALECT.parser(
        error_level=ErrorLevel.IMMEDIATE,
        max_nodes=MAX_NODES_BASE + MAX_NODES_PER_TOKEN * len(tokens),
    )
    try:
        trees = [tree for tree in parser.parse(tokens, sql) if tree is not None]
    except ParseError as exc:
        if parser._node_count > parser.max_nodes:
            raise RejectedError(
                "the query is too complex for the guard to analyse",
                construct="parser work limit",
                hint="simplify deeply nested constructs such as ARRAY[ARRAY[…]] or nested "
                "LATERAL subqueries",
            ) from None
        raise _from_parse_error(sql, exc) from None
    except RecursionError:
        raise RejectedError(
            "the query is nested too deeply", construct="deep nesting", hint=NESTING_HINT
        ) from None
    except GuardError:
        raise
    except Exception:
        raise syntax_error(sql, None, "the SQL could not be parsed") from None
    if len(trees) != 1:
        raise RejectedError(
            "exactly one statement is required",
            construct="multiple statements" if trees else "empty statement",
            hint="send exactly one SELECT statement per request",
        )
    return trees[0]


def _after_u(previous: Token, amp: Token) -> bool:
    """Whether `amp` is the ``&`` of ``U&"…"``: glued to a preceding ``U``."""
    return amp.token_type is _AMP and previous.text in ("U", "u") and previous.end + 1 == amp.start


def _check_number(token: Token, following: Token | None, sql: str) -> None:
    """Refuse ``0x1F``/``0b101`` (sqlglot reads bit strings) and digits glued to letters
    (``0o17``, ``1_000``: sqlglot reads ``0 AS o17``); PostgreSQL 16+ reads all as integers."""
    prefixed = token.token_type is not _NUMBER and sql.startswith("0", token.start)
    glued = (
        following is not None
        and following.start == token.end + 1
        and following.text[:1].isidentifier()
    )
    if not (prefixed or glued):
        return
    end = following.end if glued and following is not None else token.end
    raise RejectedError(
        f"number literal {sql[token.start : end + 1]!r} is not allowed",
        construct="number literal",
        hint="write numbers in plain decimal, without underscores or 0x/0o/0b prefixes",
    )


def _from_parse_error(sql: str, exc: ParseError) -> GuardError:
    if not exc.errors:
        return syntax_error(sql, None, str(exc).split("\n", 1)[0])
    error = exc.errors[0]
    description = str(error.get("description") or "invalid syntax")
    highlight = str(error.get("highlight") or "")
    offset = _error_offset(sql, error.get("line"), error.get("col"), highlight)
    if offset is None:
        context = str(error.get("start_context") or "")
        offset = len(context) if sql.startswith(context) else None
    if highlight.strip():
        description = f'{description} near "{highlight.strip()[:40]}"'
    return syntax_error(sql, offset, description)


def _error_offset(sql: str, line: object, column: object, highlight: str) -> int | None:
    """Where the token sqlglot complains about starts: it reports where the token ends (1-based
    line and column) and the token's text."""
    if not isinstance(line, int) or not isinstance(column, int) or line < 1:
        return None
    line_start = 0
    for _ in range(line - 1):
        line_start = sql.find("\n", line_start) + 1
        if line_start == 0:
            return None
    start = line_start + column - len(highlight)
    if start < 0 or sql[start : start + len(highlight)] != highlight:
        return None
    return start


def _token_error_offset(sql: str, exc: TokenError) -> int | None:
    """Where the tokenizer stopped: it quotes 50 characters either side of that point."""
    if exc.start:
        return min(exc.start + 50, len(sql))
    if exc.end is not None and exc.end < len(sql) - 1:
        return max(exc.end - 50, 0)
    return None
