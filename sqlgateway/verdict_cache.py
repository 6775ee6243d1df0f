"""Guard verdicts remembered by the shape of the SQL, not its exact text.

A model asks the same question with other ids (`... WHERE claim_id = 123456`). The guard's
verdict does not depend on the value of a plain integer literal — the guard accepts or refuses
the same token sequence whatever digits it holds — so the cache key is the token sequence with
plain integers masked, and a hit only has to put the new integers into the SQL the guard
rendered. A shape is cached only when its integers are distinct and the rendered SQL carries
them in the same order (rendering depends on the shape alone, so the order then holds for
every text of that shape); anything else falls back to the guard on every call. Refusals are
never cached.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

from sqlglot.tokenizer_core import Token, TokenType

from sqlgateway.errors import GuardError
from sqlgateway.guard import Verdict
from sqlgateway.guard.parse import tokenize

_INTEGER = re.compile(r"[0-9]{1,18}")


@dataclasses.dataclass(frozen=True, slots=True)
class _Shape:
    segments: tuple[str, ...]  # the rendered SQL around its integers
    verdict: Verdict


def _integers(tokens: list[Token]) -> list[Token]:
    return [t for t in tokens if t.token_type is TokenType.NUMBER and _INTEGER.fullmatch(t.text)]


#: Tokens whose text means exactly what it says; every other token (keywords, operators,
#: unquoted names) means the same in any letter case, as PostgreSQL folds it.
_EXACT = frozenset(
    getattr(TokenType, name)
    for name in (
        "STRING",
        "NATIONAL_STRING",
        "HEREDOC_STRING",
        "RAW_STRING",
        "BIT_STRING",
        "HEX_STRING",
        "BYTE_STRING",
        "UNICODE_STRING",
        "IDENTIFIER",
        "NUMBER",
    )
    if hasattr(TokenType, name)
)


def _key(tokens: list[Token]) -> Hashable:
    return tuple(
        (t.token_type, None)
        if t.token_type is TokenType.NUMBER and _INTEGER.fullmatch(t.text)
        else (t.token_type, t.text if t.token_type in _EXACT else t.text.lower())
        for t in tokens
    )


class VerdictCache:
    """A thread-safe LRU of verdicts by SQL shape in front of `check` (the guard)."""

    def __init__(self, check: Callable[[str], Verdict], max_entries: int) -> None:
        self._check = check
        self._max_entries = max_entries
        self._shapes: OrderedDict[Hashable, _Shape] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __call__(self, sql: str) -> Verdict:
        try:
            tokens = tokenize(sql)
        except GuardError:
            return self._check(sql)  # raises the guard's own syntax error
        key = _key(tokens)
        with self._lock:
            shape = self._shapes.get(key)
            if shape is not None:
                self._shapes.move_to_end(key)
                self.hits += 1
        if shape is not None:
            values = [t.text for t in _integers(tokens)]
            parts = [shape.segments[0]]
            for value, segment in zip(values, shape.segments[1:], strict=True):
                parts += (value, segment)
            return dataclasses.replace(shape.verdict, sql="".join(parts))
        verdict = self._check(sql)
        self.misses += 1
        self._remember(key, tokens, verdict)
        return verdict

    def _remember(self, key: Hashable, tokens: list[Token], verdict: Verdict) -> None:
        try:
            rendered = _integers(tokenize(verdict.sql))
        except GuardError:
            return
        written = [t.text for t in _integers(tokens)]
        if len(set(written)) != len(written):
            # With a repeated value (`OFFSET 5 LIMIT 5`) the check below cannot tell whether
            # rendering kept the integers in order (it writes `LIMIT 5 OFFSET 5`): no splice.
            return
        if [t.text for t in rendered] != written:
            return  # the integers moved or changed on rendering: no safe splice
        segments, start = [], 0
        for token in rendered:
            segments.append(verdict.sql[start : token.start])
            start = token.end + 1
        segments.append(verdict.sql[start:])
        with self._lock:
            self._shapes[key] = _Shape(tuple(segments), verdict)
            self._shapes.move_to_end(key)
            while len(self._shapes) > self._max_entries:
                self._shapes.popitem(last=False)
