"""The shape of a query: the same question with other values, spacing or letter case gets
the same fingerprint, so the audit trail can count and group what the model asks.

Tokenize only (sqlglot's PostgreSQL tokenizer, compiled), never parse: this runs for every
audit event, and the parser's cost is neither linear nor small. Literals become ``?``,
keywords upper case, unquoted names lower case (PostgreSQL folds them), quoted names stay as
written; whitespace and comments go; a run of equal items in ``IN (…)``, ``ARRAY[…]`` or
``VALUES`` becomes ``?, ...``, so ten ids and eleven ids are one shape. Text the tokenizer
cannot split (an unterminated string, say), nested deeper than MAX_NESTING or longer than
MAX_TOKENIZED_CHARS still gets a fingerprint: of its lower-cased, whitespace-collapsed text.

>>> fingerprint("select * from claims where claim_id in (1, 2, 3) -- hi")
('be3e659a4182cc28', 'SELECT * FROM claims WHERE claim_id IN (?, ...)')
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from sqlglot.tokenizer_core import Token, TokenType

from sqlgateway.guard.parse import scan

__all__ = ["MAX_NESTING", "MAX_TOKENIZED_CHARS", "add_fingerprints", "fingerprint"]

#: Longer text is not tokenized (the fallback is linear and cheap): tokenizing takes about
#: 50 ms per 100 KB, and the trail does it for every event.
MAX_TOKENIZED_CHARS = 250_000
#: Deeper bracket nesting falls back too (the guard refuses more than 100 levels anyway):
#: each level copies the text inside it once, so the cost stays linear in the input.
MAX_NESTING = 100

_LITERALS = frozenset(
    getattr(TokenType, name)
    for name in (
        "STRING",
        "NUMBER",
        "NATIONAL_STRING",
        "NATIONAL_RAW_STRING",
        "RAW_STRING",
        "BIT_STRING",
        "HEX_STRING",
        "BYTE_STRING",
        "HEREDOC_STRING",
        "UNICODE_STRING",
    )
    if hasattr(TokenType, name)
)
#: Texts written without a space before them.
_GLUED_BEFORE = frozenset({",", ")", "]", ".", "::", ";"})
#: Texts written without a space after them.
_GLUED_AFTER = frozenset({"(", "[", ".", "::"})
_CLOSERS = {"(": ")", "[": "]"}
#: Keywords a value may follow, so a sign after them is part of a number (`LIMIT -1`);
#: after other words (`END`, a type name) it is an operator.
_VALUE_STARTS = frozenset(
    {"SELECT", "WHERE", "AND", "OR", "NOT", "WHEN", "THEN", "ELSE", "BETWEEN", "LIMIT"}
    | {"OFFSET", "HAVING", "ON", "DISTINCT", "ALL", "ANY", "SOME", "LIKE", "ILIKE", "IN"}
)


class _Kind(Enum):
    NAME = 1  # unquoted or quoted name, function name
    VALUE = 2  # `?`, `$1`, a closed group: something an operator can follow
    WORD = 3  # keyword, operator, punctuation


@dataclass(slots=True)
class _Frame:
    """The pieces of one bracketed group (or of the whole statement) being written."""

    opener: str
    collapse: bool  # an IN (…) list or an array: runs of equal items collapse
    pieces: list[tuple[str, _Kind]] = field(default_factory=list)


def fingerprint(sql: str) -> tuple[str, str]:
    """`(fingerprint, normalized_sql)`: 16 hex digits of the SHA-256 of the normalized text."""
    normalized: str | None = None
    if len(sql) <= SHAPE_CACHE_MAX_CHARS and '"' not in sql:
        # integers become `?` anyway: the same query with other ids is one cache entry
        normalized = _cached_normalize(_INTEGER.sub("0", sql))
    elif len(sql) <= MAX_TOKENIZED_CHARS:
        normalized = _normalize_or_none(sql)
    if not normalized:
        normalized = " ".join(sql.lower().split())
    return hashlib.sha256(normalized.encode()).hexdigest()[:16], normalized


def _normalize_or_none(sql: str) -> str | None:
    try:
        return _normalize(scan(sql))
    except Exception:  # any tokenizer failure: the caller falls back
        return None


#: Shapes remembered: a model asks the same questions with other ids all day, and the
#: tokenizer is most of an audit event's cost (about 20 µs; a cache hit is about 2 µs).
SHAPE_CACHE_SIZE = 4_096
#: Longer SQL is not cached (bounds the cache to a few MB).
SHAPE_CACHE_MAX_CHARS = 1_000
#: A standalone integer: not part of a name (`t1`), a parameter (`$1`) or a decimal (`1.5`).
#: Texts with double quotes are not cached, so no quoted name is ever masked.
_INTEGER = re.compile(r"(?<![\w.$])\d+(?![\w.])")
_cached_normalize = functools.lru_cache(maxsize=SHAPE_CACHE_SIZE)(_normalize_or_none)


def add_fingerprints(events: Sequence[MutableMapping[str, Any]]) -> None:
    """Set `fingerprint` and `normalized_sql` of each audit event that has none, from its
    `sql_executed` (the SQL that ran) or else its `sql_received`; None without SQL."""
    for item in events:
        if "fingerprint" in item:
            continue
        sql = item.get("sql_executed") or item.get("sql_received")
        if isinstance(sql, str) and sql:
            item["fingerprint"], item["normalized_sql"] = fingerprint(sql)
        else:
            item["fingerprint"] = item["normalized_sql"] = None


def _normalize(tokens: Sequence[Token]) -> str:
    frames = [_Frame("", collapse=False)]
    index, count = 0, len(tokens)
    while index < count:
        token = tokens[index]
        kind = token.token_type
        text, piece_kind = _piece(token)
        top = frames[-1]
        previous = top.pieces[-1] if top.pieces else None
        if kind in (TokenType.DASH, TokenType.PLUS) and index + 1 < count:
            following = tokens[index + 1]
            if following.token_type is TokenType.NUMBER and _unary(previous):
                top.pieces.append(("?", _Kind.VALUE))  # `-3` is one literal, like `3`
                index += 2
                continue
        if kind is TokenType.PARAMETER and index + 1 < count:
            following = tokens[index + 1]
            if following.token_type is TokenType.NUMBER and following.start == token.end + 1:
                top.pieces.append(("$" + following.text, _Kind.VALUE))  # `$1` is no literal
                index += 2
                continue
        if text in _CLOSERS:
            collapse = text == "[" or (
                previous is not None and previous == ("IN", _Kind.WORD) and text == "("
            )
            if len(frames) > MAX_NESTING:
                return ""
            frames.append(_Frame(text, collapse, [(text, _Kind.WORD)]))
        elif len(frames) > 1 and text == _CLOSERS[top.opener]:
            frames.pop()
            top.pieces.append((text, _Kind.WORD))
            frames[-1].pieces.append((_render(top), _Kind.VALUE))
        else:
            top.pieces.append((text, piece_kind))
        index += 1
    while len(frames) > 1:  # unbalanced: write the open groups as they are
        top = frames.pop()
        frames[-1].pieces.extend(top.pieces)
    statement = frames[0].pieces
    while statement and statement[-1][0] == ";":
        statement.pop()
    return _render(frames[0])


def _piece(token: Token) -> tuple[str, _Kind]:
    kind = token.token_type
    if kind in _LITERALS:
        return "?", _Kind.VALUE
    if kind is TokenType.VAR:
        return token.text.lower(), _Kind.NAME
    if kind is TokenType.IDENTIFIER:
        return '"' + token.text.replace('"', '""') + '"', _Kind.NAME
    return " ".join(token.text.upper().split()), _Kind.WORD


def _unary(previous: tuple[str, _Kind] | None) -> bool:
    """True if a sign after `previous` belongs to the number (`= -3`), not a subtraction."""
    if previous is None:
        return True
    text, kind = previous
    if kind is not _Kind.WORD:
        return False
    return text in _VALUE_STARTS or not (text[:1].isalnum() or text in (")", "]"))


def _render(frame: _Frame) -> str:
    pieces = _collapse_values(frame.pieces)
    if frame.collapse:
        pieces = _collapse_list(pieces)
    parts: list[str] = []
    before: tuple[str, _Kind] | None = None
    for piece in pieces:
        if before is not None and not _glued(before, piece[0]):
            parts.append(" ")
        parts.append(piece[0])
        before = piece
    return "".join(parts)


def _glued(before: tuple[str, _Kind], text: str) -> bool:
    if text in _GLUED_BEFORE or before[0] in _GLUED_AFTER or text.startswith("["):
        return True
    return text.startswith("(") and before[1] is _Kind.NAME  # a call: `count(*)`


def _collapse_list(pieces: list[tuple[str, _Kind]]) -> list[tuple[str, _Kind]]:
    """`( ?, ?, ? )` → `( ?, ... )`: the pieces between opener and closer, split at commas."""
    if len(pieces) < 3:
        return pieces
    items: list[list[tuple[str, _Kind]]] = [[]]
    for piece in pieces[1:-1]:
        if piece[0] == ",":
            items.append([])
        else:
            items[-1].append(piece)
    return [pieces[0], *_join_items(_runs(items)), pieces[-1]]


def _collapse_values(pieces: list[tuple[str, _Kind]]) -> list[tuple[str, _Kind]]:
    """`VALUES (?, ?), (?, ?)` → `VALUES (?, ?), ...`: equal rows after VALUES collapse."""
    if ("VALUES", _Kind.WORD) not in pieces:
        return pieces
    result: list[tuple[str, _Kind]] = []
    index = 0
    while index < len(pieces):
        piece = pieces[index]
        result.append(piece)
        index += 1
        if piece != ("VALUES", _Kind.WORD):
            continue
        rows: list[list[tuple[str, _Kind]]] = []
        while index < len(pieces) and pieces[index][0].startswith("("):
            rows.append([pieces[index]])
            index += 1
            if (
                index + 1 < len(pieces)
                and pieces[index][0] == ","
                and pieces[index + 1][0][:1] == "("
            ):
                index += 1
            else:
                break
        result.extend(_join_items(_runs(rows)))
    return result


def _runs(items: list[list[tuple[str, _Kind]]]) -> list[list[tuple[str, _Kind]]]:
    """Each run of two or more equal items that hold a literal → its first item and `...`."""
    result: list[list[tuple[str, _Kind]]] = []
    previous: list[tuple[str, _Kind]] | None = None
    for item in items:
        if item == previous and _has_literal(item):
            if result[-1] is not _ELLIPSIS:
                result.append(_ELLIPSIS)
        else:
            result.append(item)
        previous = item
    return result


_ELLIPSIS = [("...", _Kind.WORD)]


def _has_literal(item: list[tuple[str, _Kind]]) -> bool:
    return any("?" in text for text, _ in item)


def _join_items(items: list[list[tuple[str, _Kind]]]) -> list[tuple[str, _Kind]]:
    joined: list[tuple[str, _Kind]] = []
    for number, item in enumerate(items):
        if number:
            joined.append((",", _Kind.WORD))
        joined.extend(item)
    return joined
