"""Named queries, checked once at start: `compile_queries` turns the `queries:` of the schema
docs into `NamedQueries`, or raises `NamedQueryError` naming file, line, query and reason.

For each query:

1. ``:name`` parameters become bind parameters ``$1`` … ``$n`` (in declaration order), found
   among sqlglot's tokens, so ``':name'`` in a string, ``::type`` casts and comments are left
   alone. Each is cast to the PostgreSQL type of its declared type (``CAST($2 AS bigint)``),
   so it has that type whatever the context (``:status IS NULL`` alone could not be typed):
   strings and enums are text (compare an enum column as ``status = CAST(:status AS
   claim_status)``). A ``:name`` that is not declared, a declared parameter the SQL never
   uses, and ``$1`` written by hand are errors.
2. The guard checks the result as it checks free SQL, with exactly those ``n`` bind
   parameters allowed, each where a value stands (never as a table, column or sort name).
3. Settings: a timeout can only lower SQLGATEWAY_STATEMENT_TIMEOUT_MS (one that does not is
   logged and has no effect); a query whose identity
   parameter reads an OAuth claim is left out (with a warning) unless SQLGATEWAY_AUTH=oauth;
   the action spec must stay within the GPT editor's 30 operations; locked-down mode
   (SQLGATEWAY_FREE_SQL=false) needs at least one named query.

Values are never part of the SQL text: the executor sends them as bind parameters.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlglot.tokenizer_core import TokenType

from sqlgateway.catalog.schema_docs import SchemaDocs, SchemaDocsError, line_at
from sqlgateway.errors import GuardError
from sqlgateway.guard import GuardPolicy, Verdict, check_sql
from sqlgateway.guard.parse import tokenize
from sqlgateway.named.docs import PARAMETER_NAME, QueryDoc
from sqlgateway.settings import Settings
from sqlgateway.spec.lint import MAX_OPERATIONS

__all__ = [
    "MAX_OPERATIONS",
    "TYPE_CASTS",
    "NamedQueries",
    "NamedQuery",
    "NamedQueryError",
    "compile_queries",
    "positional",
]

logger = logging.getLogger("sqlgateway")

#: The PostgreSQL type each parameter type is bound as.
TYPE_CASTS: dict[str, str] = {
    "string": "text",
    "enum": "text",
    "integer": "bigint",
    "number": "numeric",
    "boolean": "boolean",
    "date": "date",
    "timestamp": "timestamptz",
}
_POSITIONAL = re.compile(r"\$([0-9]+)")


class NamedQueryError(SchemaDocsError):
    """A named query cannot be served; `problems` are ``file:line: query NAME: reason``."""


@dataclass(frozen=True, slots=True)
class NamedQuery:
    """A checked named query: what the executor runs and what every front end describes."""

    doc: QueryDoc
    #: The SQL that runs: the guard's rendering, with ``$1`` … ``$n``.
    sql: str
    verdict: Verdict
    #: Parameter names in bind order ($1 first).
    order: tuple[str, ...]
    #: The schema docs file it comes from (for messages).
    source: str = ""
    #: Its own statement timeout, when below SQLGATEWAY_STATEMENT_TIMEOUT_MS.
    timeout_ms: int | None = None

    @property
    def name(self) -> str:
        return self.doc.name


@dataclass(frozen=True)
class NamedQueries:
    """Every named query of the schema docs, checked, by name in the docs' order;
    `unavailable`: the ones these settings cannot serve, and why. Iterating, `get`, `names`
    and `len` see the served ones only."""

    compiled: Mapping[str, NamedQuery] = field(default_factory=dict)
    unavailable: Mapping[str, str] = field(default_factory=dict)
    #: name → the catalog its sensitive-column check passed against (named/answer.py).
    sensitive_checked: dict[str, object] = field(default_factory=dict, compare=False, repr=False)
    served: Mapping[str, NamedQuery] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        served = {n: q for n, q in self.compiled.items() if n not in self.unavailable}
        object.__setattr__(self, "served", served)

    def __iter__(self) -> Iterator[NamedQuery]:
        return iter(self.served.values())

    def __len__(self) -> int:
        return len(self.served)

    def __bool__(self) -> bool:
        return bool(self.served)

    def get(self, name: str) -> NamedQuery | None:
        return self.served.get(name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.served)


def positional(sql: str, doc: QueryDoc) -> tuple[str, tuple[str, ...]]:
    """`sql` with every ``:name`` replaced by its bind parameter, and the names in bind order;
    ValueError says what is wrong with the parameters."""
    order = tuple(doc.parameters)
    number = {name: index + 1 for index, name in enumerate(order)}
    tokens = tokenize(sql)
    pieces: list[str] = []
    used: set[str] = set()
    unknown: list[str] = []
    cursor = 0
    for index, token in enumerate(tokens):
        if token.token_type is TokenType.PARAMETER:
            raise ValueError(
                f"write parameters as :name, not {sql[token.start : token.end + 2]!r} "
                "(the gateway numbers them)"
            )
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        if (
            token.token_type is not TokenType.COLON
            or following is None
            or following.start != token.end + 1
            or not PARAMETER_NAME.fullmatch(following.text)
        ):
            continue
        name = following.text
        if name not in number:
            unknown.append(name)
            continue
        used.add(name)
        cast = TYPE_CASTS[doc.parameters[name].type]
        pieces += [sql[cursor : token.start], f"CAST(${number[name]} AS {cast})"]
        cursor = following.end + 1
    if unknown:
        names = ", ".join(f":{name}" for name in dict.fromkeys(unknown))
        raise ValueError(
            f"the SQL uses {names}, not declared under parameters (an array slice a[lo:hi] "
            "is written a[lo : hi])"
        )
    unused = [name for name in order if name not in used]
    if unused:
        raise ValueError(
            f"parameter(s) {', '.join(unused)} declared but never used as :name in the SQL"
        )
    return "".join([*pieces, sql[cursor:]]), order


def compile_query(doc: QueryDoc, policy: GuardPolicy, settings: Settings) -> NamedQuery:
    """One query checked; ValueError with the reason otherwise."""
    if doc.timeout_ms is not None and doc.timeout_ms >= settings.statement_timeout_ms:
        logger.warning(
            "named query %s: timeout_ms %d has no effect, SQLGATEWAY_STATEMENT_TIMEOUT_MS=%d is "
            "lower (a query's timeout can only lower it)",
            doc.name,
            doc.timeout_ms,
            settings.statement_timeout_ms,
        )
    try:
        sql, order = positional(doc.sql, doc)
        verdict = check_sql(sql, dataclasses.replace(policy, bind_parameters=len(order)))
    except GuardError as error:
        order = tuple(doc.parameters)
        hint = f" ({error.hint})" if error.hint else ""
        raise ValueError(f"the guard refuses it: {_named(error.message + hint, order)}") from None
    lower = doc.timeout_ms is not None and doc.timeout_ms < settings.statement_timeout_ms
    return NamedQuery(
        doc=doc,
        sql=verdict.sql,
        verdict=verdict,
        order=order,
        timeout_ms=doc.timeout_ms if lower else None,
    )


def unavailable_reason(doc: QueryDoc, settings: Settings) -> str | None:
    """Why `doc` cannot be served with `settings` (None: it can)."""
    if settings.auth == "oauth":
        return None
    for name, parameter in doc.identity_parameters.items():
        if parameter.identity is not None and parameter.identity.claim is not None:
            return (
                f"its parameter {name} is the OAuth claim {parameter.identity.claim!r}, and "
                f"SQLGATEWAY_AUTH={settings.auth} gives no claims"
            )
    return None


def compile_queries(docs: SchemaDocs | None, settings: Settings) -> NamedQueries:
    """Every named query of `docs`, checked; NamedQueryError lists every problem."""
    policy = GuardPolicy.from_settings(settings)
    compiled: dict[str, NamedQuery] = {}
    unavailable: dict[str, str] = {}
    problems: list[str] = []
    seen: dict[str, str] = {}
    for path, index, doc in _located(docs):
        where = f"{path}:{line_at(path, ('queries', index, 'sql'))}" if path else "schema docs"
        if doc.name in seen:
            problems.append(f"{where}: query {doc.name}: also defined in {seen[doc.name]}")
            continue
        seen[doc.name] = str(path)
        try:
            query = compile_query(doc, policy, settings)
        except ValueError as error:
            problems.append(f"{where}: query {doc.name}: {error}")
            continue
        compiled[doc.name] = dataclasses.replace(query, source=str(path or ""))
        reason = unavailable_reason(doc, settings)
        if reason is not None:
            unavailable[doc.name] = reason
            logger.warning("named query %s is not served: %s", doc.name, reason)
    if not problems:
        problems += _limits(len(compiled) - len(unavailable), settings)
    if problems:
        raise NamedQueryError(problems)
    return NamedQueries(compiled, unavailable)


def operation_count(named: int, settings: Settings) -> int:
    """Operations of the action spec: getSchema, runQuery unless locked down, the named."""
    return 1 + (1 if settings.free_sql else 0) + named


def _limits(named: int, settings: Settings) -> list[str]:
    count = operation_count(named, settings)
    if count > MAX_OPERATIONS:
        return [
            f"schema docs: {named} named queries make {count} operations with "
            f"{'runQuery and getSchema' if settings.free_sql else 'getSchema'}; the GPT editor "
            f"imports at most {MAX_OPERATIONS}: remove {count - MAX_OPERATIONS} named queries"
        ]
    if not settings.free_sql and named == 0:
        return [
            "SQLGATEWAY_FREE_SQL=false serves named queries only, and none is defined: add "
            "`queries:` to the schema docs (SQLGATEWAY_SCHEMA_DOCS_DIR)"
        ]
    return []


def _located(docs: SchemaDocs | None) -> Iterator[tuple[Path | None, int, QueryDoc]]:
    if docs is None:
        return
    paths: list[Path | None] = list(docs.paths) or [None] * len(docs.files)
    for path, file in zip(paths, docs.files, strict=True):
        for index, doc in enumerate(file.queries):
            yield path, index, doc


def _named(text: str, order: tuple[str, ...]) -> str:
    """`text` with ``$k`` written as the parameter's ``:name``."""

    def name(match: re.Match[str]) -> str:
        k = int(match.group(1))
        return f":{order[k - 1]}" if 1 <= k <= len(order) else match.group(0)

    return _POSITIONAL.sub(name, text)
