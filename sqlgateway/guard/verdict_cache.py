"""Guard verdicts remembered by the shape of the SQL, not its exact text.

A model asks the same question with other ids (`... WHERE claim_id = 123456`). The guard's
verdict does not depend on the value of a plain integer literal — the guard accepts or refuses
the same token sequence whatever digits it holds — so the cache key is the token sequence with
plain integers masked, and a hit only has to put the new integers into the SQL the guard
rendered.

Where each integer lands in the rendered SQL is learnt once per shape: from the query itself
when its integers are distinct, else from a probe, the same text with distinct integers, which
the guard checks once more. Rendering may move an integer (sqlglot writes ``OFFSET 5 LIMIT 10``
as ``LIMIT 10 OFFSET 5``); the shape remembers that order. A shape is cached only if the probe
gets the same verdict and putting the query's own integers into the template gives back exactly
the SQL the guard rendered for it; otherwise the shape is remembered as one the guard checks
every time. So is a shape whose verdict depended on its integers after all (the value-size
rule reads ``repeat``'s count, ``Verdict.reads_integers``). Refusals are never cached.

A remembered shape holds about 16 bytes per character of its SQL (its tokens and its template;
1.4 MiB for a 92 KB statement, measured), so the cache is bounded by the characters of the
statements it remembers, not only by their number; a statement longer than a 64th of that
bound is not remembered.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

from sqlglot.tokenizer_core import Token, TokenType

from sqlgateway.errors import GuardError
from sqlgateway.guard import GuardPolicy, Verdict
from sqlgateway.guard.parse import tokenize
from sqlgateway.guard.policy import StarColumns

_INTEGER = re.compile(r"[0-9]{1,18}")


@dataclasses.dataclass(frozen=True, slots=True)
class _Shape:
    segments: tuple[str, ...]  # the rendered SQL around its integers
    order: tuple[int, ...]  # which written integer goes after segment i
    verdict: Verdict

    def splice(self, values: list[str]) -> str:
        parts = [self.segments[0]]
        for index, segment in zip(self.order, self.segments[1:], strict=True):
            parts += (values[index], segment)
        return "".join(parts)


#: A shape whose integers cannot be put back safely: the guard checks each of its texts.
_UNSPLICEABLE = None


#: Distinct integers of a probe: longer than any id a model writes, within _INTEGER.
_PROBE_BASE = 734_100_000_000_000_000


def _integers(tokens: list[Token]) -> list[Token]:
    return [t for t in tokens if t.token_type is TokenType.NUMBER and _INTEGER.fullmatch(t.text)]


def _values(tokens: list[Token]) -> list[str]:
    return [t.text for t in _integers(tokens)]


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

    def __init__(
        self, check: Callable[[str], Verdict], max_entries: int, max_chars: int = 1_000_000
    ) -> None:
        """`max_entries` shapes at most, learnt from at most `max_chars` characters of SQL."""
        self._check = check
        self._max_entries = max_entries
        self._max_chars = max_chars
        self._chars = 0  # of the statements the shapes were learnt from
        #: shape key → (the shape or _UNSPLICEABLE, characters of its statement)
        self._shapes: OrderedDict[Hashable, tuple[_Shape | None, int]] = OrderedDict()
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
            known = key in self._shapes
            shape = self._shapes[key][0] if known else None
            if known:
                self._shapes.move_to_end(key)
            if shape is not None:
                self.hits += 1
        if shape is not None:
            return dataclasses.replace(shape.verdict, sql=shape.splice(_values(tokens)))
        verdict = self._check(sql)
        self.misses += 1
        if not known and len(sql) <= self._max_chars // 64:
            self._store(key, self._learn(sql, tokens, verdict), len(sql))
        return verdict

    def _learn(self, sql: str, tokens: list[Token], verdict: Verdict) -> _Shape | None:
        """The template of `sql`'s shape, or _UNSPLICEABLE."""
        if verdict.reads_integers:
            return _UNSPLICEABLE  # other integers may get another verdict
        written = _integers(tokens)
        values = [t.text for t in written]
        probe, probe_verdict = values, verdict
        if len(set(values)) != len(values):
            probe = [str(_PROBE_BASE + i) for i in range(len(values))]
            parts: list[str] = []
            start = 0
            for token, value in zip(written, probe, strict=True):
                parts += (sql[start : token.start], value)
                start = token.end + 1
            try:
                probe_verdict = self._check("".join(parts) + sql[start:])
            except GuardError:
                return _UNSPLICEABLE
            if dataclasses.replace(probe_verdict, sql=verdict.sql) != verdict:
                return _UNSPLICEABLE
        try:
            rendered = _integers(tokenize(probe_verdict.sql))
        except GuardError:
            return _UNSPLICEABLE
        where = {value: index for index, value in enumerate(probe)}
        order = tuple(where.get(token.text, -1) for token in rendered)
        if sorted(order) != list(range(len(values))):
            return _UNSPLICEABLE  # an integer vanished, changed or was added on rendering
        segments, start = [], 0
        for token in rendered:
            segments.append(probe_verdict.sql[start : token.start])
            start = token.end + 1
        segments.append(probe_verdict.sql[start:])
        shape = _Shape(tuple(segments), order, verdict)
        if shape.splice(values) != verdict.sql:
            return _UNSPLICEABLE  # the template does not give back the guard's own answer
        return shape

    def _store(self, key: Hashable, shape: _Shape | None, chars: int) -> None:
        with self._lock:
            if key in self._shapes:  # learnt meanwhile by another thread
                return
            self._shapes[key] = (shape, chars)
            self._chars += chars
            while len(self._shapes) > self._max_entries or self._chars > self._max_chars:
                _, (_, evicted) = self._shapes.popitem(last=False)
                self._chars -= evicted


class StarVerdicts:
    """Verdicts of the guard with the star columns of the current catalog
    (``GuardPolicy.star_columns``): ``SELECT *`` over a table with sensitive columns, written
    out without them. One VerdictCache, replaced when the star columns change."""

    def __init__(
        self,
        guard: Callable[[str, GuardPolicy], Verdict],
        policy: GuardPolicy,
        max_entries: int,
    ) -> None:
        self._guard = guard
        self._policy = policy
        self._max_entries = max_entries
        self._current: tuple[tuple[StarColumns, ...], VerdictCache] | None = None

    def __call__(self, sql: str, star_columns: tuple[StarColumns, ...]) -> Verdict:
        current = self._current
        if current is None or current[0] != star_columns:
            policy = dataclasses.replace(self._policy, star_columns=star_columns)
            guard = self._guard
            current = (star_columns, VerdictCache(lambda s: guard(s, policy), self._max_entries))
            self._current = current
        return current[1](sql)
