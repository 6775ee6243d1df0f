"""The node allowlist: every node of the tree must be of a class listed here.

A class is listed when it is part of reading data: query structure, expressions, operators,
literals, types. Anything else (data-modifying statements, SELECT INTO, locking clauses,
parameters, sqlglot's opaque ``Command`` …) is refused with a message naming it. Function
calls are listed here and further checked by ``functions.py``; tables by ``relations.py``.

Some nodes carry text that sqlglot writes back verbatim when it generates SQL (``Var`` words,
OID type names, numbers, unquoted identifiers, bit and hex strings); ``NODE_CHECKS`` makes sure that text is
what the tokenizer could have produced, so nothing can be smuggled through generation:
``date_part('year; DROP TABLE x', ts)`` would otherwise become ``EXTRACT(YEAR; DROP TABLE X
FROM ts)``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlglot import exp

from sqlgateway.errors import RejectedError
from sqlgateway.guard.safe_functions import TYPED_FUNCTIONS
from sqlgateway.guard.statements import READ_ONLY_HINT

_STRUCTURE: tuple[type[exp.Expr], ...] = (
    exp.Select,
    exp.Union,
    exp.Intersect,
    exp.Except,
    exp.Values,
    exp.Subquery,
    exp.From,
    exp.Join,
    exp.Where,
    exp.Group,
    exp.Having,
    exp.Order,
    exp.Ordered,
    exp.Limit,
    exp.Offset,
    exp.Fetch,
    exp.LimitOptions,
    exp.Distinct,
    exp.With,
    exp.CTE,
    exp.RecursiveWithSearch,
    exp.TableAlias,
    exp.Table,
    exp.Lateral,
    exp.Window,
    exp.WindowSpec,
    exp.Filter,
    exp.WithinGroup,
    exp.Rollup,
    exp.Cube,
    exp.GroupingSets,
    exp.TableSample,
    exp.Alias,
    exp.Star,
    exp.Column,
    exp.Identifier,
    exp.Dot,
    exp.Paren,
    exp.Tuple,
    exp.ColumnDef,
    exp.Kwarg,
    exp.PropertyEQ,
    exp.Lambda,
    exp.Anonymous,
)
_LITERALS: tuple[type[exp.Expr], ...] = (
    exp.Literal,
    exp.Null,
    exp.Boolean,
    exp.RawString,
    exp.ByteString,
    exp.HexString,
    exp.BitString,
    exp.National,
    exp.Var,
    exp.Interval,
    exp.IntervalSpan,
)
_TYPES: tuple[type[exp.Expr], ...] = (
    exp.Cast,
    exp.DataType,
    exp.DataTypeParam,
    exp.ObjectIdentifier,
    exp.Collate,
)
_OPERATORS: tuple[type[exp.Expr], ...] = (
    exp.Add,
    exp.Sub,
    exp.Mul,
    exp.Div,
    exp.Mod,
    exp.Neg,
    exp.Not,
    exp.BitwiseNot,
    exp.BitwiseAnd,
    exp.BitwiseOr,
    exp.BitwiseXor,
    exp.BitwiseLeftShift,
    exp.BitwiseRightShift,
    exp.DPipe,
    exp.And,
    exp.Or,
    exp.EQ,
    exp.NEQ,
    exp.GT,
    exp.GTE,
    exp.LT,
    exp.LTE,
    exp.NullSafeEQ,
    exp.NullSafeNEQ,
    exp.Is,
    exp.In,
    exp.Between,
    exp.Like,
    exp.ILike,
    exp.SimilarTo,
    exp.Escape,
    exp.RegexpLike,
    exp.RegexpILike,
    exp.Any,
    exp.All,
    exp.Exists,
    exp.Case,
    exp.If,
    exp.AtTimeZone,
    exp.Overlaps,
    exp.Distance,
    exp.Adjacent,
    exp.Array,
    exp.Bracket,
    exp.Slice,
    exp.ArrayOverlaps,
    exp.ArrayContainsAll,
    exp.ArrayContainedBy,
)
_JSON: tuple[type[exp.Expr], ...] = (
    exp.JSONExtract,
    exp.JSONExtractScalar,
    exp.JSONBExtract,
    exp.JSONBExtractScalar,
    exp.JSONBContainsTopKey,
    exp.JSONBContainsAnyTopKeys,
    exp.JSONBContainsAllTopKeys,
    exp.JSONBPathExists,
    exp.MatchAgainst,
    exp.JSON,
    exp.JSONPath,
    exp.JSONPathRoot,
    exp.JSONPathKey,
    exp.JSONPathSubscript,
    exp.JSONPathWildcard,
    exp.JSONPathSlice,
    exp.JSONKeyValue,
    exp.JSONTable,
    exp.JSONSchema,
    exp.JSONColumnDef,
)

#: Every node class a query may contain.
ALLOWED_NODES: frozenset[type[exp.Expr]] = frozenset(
    (*_STRUCTURE, *_LITERALS, *_TYPES, *_OPERATORS, *_JSON, *TYPED_FUNCTIONS)
)

_DEFAULT_HINT = (
    "this construct is not on the guard's allowlist; rewrite the query with plain "
    "SELECT features (joins, subqueries, CTEs, window functions, aggregates)"
)
_PARAMETER_HINT = "parameters are not supported; write the values into the SQL as literals"

#: Refused classes with a better name (and hint) than their class name.
_REFUSED: dict[type[exp.Expr], tuple[str, str]] = {
    exp.Insert: ("INSERT", READ_ONLY_HINT),
    exp.Update: ("UPDATE", READ_ONLY_HINT),
    exp.Delete: ("DELETE", READ_ONLY_HINT),
    exp.Merge: ("MERGE", READ_ONLY_HINT),
    exp.Into: ("SELECT INTO", "SELECT INTO creates a table; select the rows without INTO"),
    exp.Lock: (
        "locking clause (FOR UPDATE / FOR SHARE)",
        "read-only queries cannot lock rows; remove the FOR UPDATE / FOR SHARE clause",
    ),
    exp.Placeholder: ("query parameter", _PARAMETER_HINT),
    exp.Parameter: ("query parameter", _PARAMETER_HINT),
    exp.UnicodeString: (
        "U& Unicode escape",
        "write the characters themselves instead of U& escapes",
    ),
    exp.Set: ("SET", "settings cannot be changed through this gateway"),
    exp.SetItem: ("SET", "settings cannot be changed through this gateway"),
    exp.Command: ("command", READ_ONLY_HINT),
    exp.Transaction: ("transaction control", READ_ONLY_HINT),
    exp.Commit: ("transaction control", READ_ONLY_HINT),
    exp.Rollback: ("transaction control", READ_ONLY_HINT),
    exp.Copy: ("COPY", READ_ONLY_HINT),
    exp.Create: ("CREATE", READ_ONLY_HINT),
    exp.Drop: ("DROP", READ_ONLY_HINT),
    exp.Alter: ("ALTER", READ_ONLY_HINT),
    exp.TruncateTable: ("TRUNCATE", READ_ONLY_HINT),
    exp.Grant: ("GRANT", READ_ONLY_HINT),
    exp.Revoke: ("REVOKE", READ_ONLY_HINT),
    exp.Comment: ("COMMENT", READ_ONLY_HINT),
    exp.Analyze: ("ANALYZE", READ_ONLY_HINT),
    exp.Describe: ("EXPLAIN / DESCRIBE", READ_ONLY_HINT),
    exp.CurrentTime: (
        "CURRENT_TIME without precision",
        "write CURRENT_TIME(6), LOCALTIME or now()::timetz instead: sqlglot cannot write bare "
        "CURRENT_TIME back",
    ),
}

_NUMBER = re.compile(r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_BARE_IDENTIFIER = re.compile(r"[^\W0-9][\w$]*")
_HEX = re.compile(r"[0-9A-Fa-f]*")
_BITS = re.compile(r"[01]*")
_SAMPLING_METHODS = frozenset({"SYSTEM", "BERNOULLI"})


def refuse_node(node: exp.Expr) -> RejectedError:
    """The refusal of `node`, whose class is not allowed."""
    construct, hint = _REFUSED.get(type(node), (type(node).__name__, _DEFAULT_HINT))
    if isinstance(node, exp.Command):
        construct = str(node.this).upper()
    elif isinstance(node, exp.Insert | exp.Update | exp.Delete | exp.Merge) and _in_cte(node):
        construct = f"{construct} in WITH"
    return RejectedError(f"{construct} is not allowed", construct=construct, hint=hint)


def _check_word(node: exp.Expr) -> None:
    text = str(node.this)
    if not (text.isidentifier() and text.isascii()):
        raise RejectedError(
            f"keyword {text!r} is not allowed",
            construct=f"keyword {text!r}",
            hint="date/time fields and interval units are plain words such as year, month, "
            "day, epoch",
        )


def _check_literal(node: exp.Expr) -> None:
    if not node.args.get("is_string") and not _NUMBER.fullmatch(str(node.this)):
        raise RejectedError(
            f"number {node.this!r} is not allowed",
            construct="number literal",
            hint="write numbers in decimal (e.g. 1000, 0.5, 1e6)",
        )


def _check_identifier(node: exp.Expr) -> None:
    text = str(node.this)
    if node.args.get("quoted") or text.isidentifier() or _BARE_IDENTIFIER.fullmatch(text):
        return
    raise RejectedError(
        f"identifier {text!r} is not allowed",
        construct="identifier",
        hint='put unusual names in double quotes, e.g. "my name"',
    )


def _check_hex(node: exp.Expr) -> None:
    if node.args.get("is_integer") or not _HEX.fullmatch(str(node.this)):
        raise RejectedError(
            "hexadecimal number literals are not allowed",
            construct="hexadecimal literal",
            hint="write numbers in decimal; use X'…' only for bit strings",
        )


def _check_bits(node: exp.Expr) -> None:
    if not _BITS.fullmatch(str(node.this)):
        raise RejectedError(
            "this bit-string literal is not allowed",
            construct="bit-string literal",
            hint="bit strings contain only 0 and 1, e.g. B'1010'",
        )


def _check_escape_string(node: exp.Expr) -> None:
    if "\v" in str(node.this):
        raise RejectedError(
            "a vertical tab inside an E'…' string is not allowed",
            construct="E-string with a vertical tab",
            hint="write chr(11) instead: sqlglot would write it back as \\v, which PostgreSQL "
            "reads as the letter v",
        )


def _check_json_key(node: exp.Expr) -> None:
    if "\\" in str(node.this):
        raise RejectedError(
            "a backslash in a JSON key after -> or ->> is not allowed",
            construct="JSON key with a backslash",
            hint="use jsonb_extract_path(column, 'key') or the #> operator for such keys",
        )


def _check_tablesample(node: exp.Expr) -> None:
    method = node.args.get("method")
    if method is not None and str(method.name).upper() not in _SAMPLING_METHODS:
        raise RejectedError(
            f"TABLESAMPLE method {method.name} is not allowed",
            construct=f"TABLESAMPLE {method.name}",
            hint="use TABLESAMPLE SYSTEM (percent) or TABLESAMPLE BERNOULLI (percent)",
        )


#: Checks of single nodes beyond their class, by class: text that generation writes back
#: unquoted must be what the tokenizer could have produced; TABLESAMPLE uses built-in methods.
NODE_CHECKS: dict[type[exp.Expr], Callable[[exp.Expr], None]] = {
    exp.Var: _check_word,
    exp.ObjectIdentifier: _check_word,
    exp.Literal: _check_literal,
    exp.Identifier: _check_identifier,
    exp.HexString: _check_hex,
    exp.BitString: _check_bits,
    exp.ByteString: _check_escape_string,
    exp.JSONPathKey: _check_json_key,
    exp.TableSample: _check_tablesample,
}


def _in_cte(node: exp.Expr) -> bool:
    parent = node.parent
    while parent is not None:
        if isinstance(parent, exp.CTE):
            return True
        parent = parent.parent
    return False
