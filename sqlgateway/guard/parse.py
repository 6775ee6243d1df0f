"""Text → exactly one sqlglot tree: tokenize, screen the tokens, parse.

Token-level rules run before the parser sees anything: one statement (a single trailing
semicolon is fine), no ``U&`` Unicode-escape strings or identifiers, bounded nesting. Every
ordinary call ``name(args)`` is parsed verbatim as ``exp.Anonymous`` (sqlglot's documented
``sqlglot.anonymous`` marker), so the function check sees the name PostgreSQL will run and the
generated SQL calls exactly that name: sqlglot would otherwise translate some calls between
dialects (``to_hex(x)`` → ``HEX(x)``, ``to_number(s, fmt)`` → a cast).
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.dialects.postgres import Postgres
from sqlglot.errors import ErrorLevel, ParseError, TokenError
from sqlglot.parsers.postgres import PostgresParser
from sqlglot.tokenizer_core import Token, TokenType

from sqlgateway.errors import GuardError, RejectedError
from sqlgateway.guard.syntax import syntax_error, unterminated_at

DIALECT = Postgres()

#: Deepest nesting of parentheses and brackets accepted; sqlglot's recursive-descent parser
#: needs Python stack for each level.
MAX_NESTING = 100

NESTING_HINT = f"simplify the query: at most {MAX_NESTING} levels of parentheses or brackets"

_NAMED_FUNCTIONS = frozenset(PostgresParser.FUNCTIONS)
_ANONYMOUS = exp.SQLGLOT_ANONYMOUS
_L_PAREN, _R_PAREN = TokenType.L_PAREN, TokenType.R_PAREN
_L_BRACKET, _R_BRACKET = TokenType.L_BRACKET, TokenType.R_BRACKET
_SEMICOLON, _UNICODE_STRING, _AMP = TokenType.SEMICOLON, TokenType.UNICODE_STRING, TokenType.AMP
_SCREENED = frozenset(
    {_L_PAREN, _R_PAREN, _L_BRACKET, _R_BRACKET, _SEMICOLON, _UNICODE_STRING, _AMP}
)


def tokenize(sql: str) -> list[Token]:
    """The tokens of `sql`; SQLSyntaxError if it cannot be split into tokens."""
    try:
        return DIALECT.tokenize(sql)
    except TokenError as exc:
        found = unterminated_at(sql)
        if found is not None:
            raise syntax_error(sql, found[0], found[1]) from None
        raise syntax_error(sql, _token_error_offset(sql, exc), "invalid token") from None


def screen_tokens(tokens: list[Token]) -> list[Token]:
    """The tokens of the one statement, marked for verbatim function calls.

    Refuses several statements, ``U&`` escapes and nesting deeper than MAX_NESTING.
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
                "more than one statement is not allowed",
                construct="multiple statements",
                hint="send exactly one statement per request; a single trailing semicolon is fine",
            )
        elif kind is _UNICODE_STRING or (index and _after_u(tokens[index - 1], token)):
            raise RejectedError(
                "Unicode escapes (U&'…' or U&\"…\") are not allowed",
                construct="U& Unicode escape",
                hint="write the characters themselves instead of U& escapes",
            )
    return tokens


def parse_tokens(tokens: list[Token], sql: str) -> exp.Expr:
    """The one tree of the screened `tokens` of `sql`."""
    parser = DIALECT.parser(error_level=ErrorLevel.IMMEDIATE, error_message_context=len(sql))
    try:
        trees = [tree for tree in parser.parse(tokens, sql) if tree is not None]
    except ParseError as exc:
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


def _from_parse_error(sql: str, exc: ParseError) -> GuardError:
    if not exc.errors:
        return syntax_error(sql, None, str(exc).split("\n", 1)[0])
    error = exc.errors[0]
    offset = len(error.get("start_context") or "")
    description = str(error.get("description") or "invalid syntax")
    highlight = str(error.get("highlight") or "").strip()
    if highlight:
        description = f'{description} near "{highlight[:40]}"'
    return syntax_error(sql, offset, description)


def _token_error_offset(sql: str, exc: TokenError) -> int | None:
    """Where the tokenizer stopped: it quotes 50 characters either side of that point."""
    if exc.start:
        return min(exc.start + 50, len(sql))
    if exc.end is not None and exc.end < len(sql) - 1:
        return max(exc.end - 50, 0)
    return None
