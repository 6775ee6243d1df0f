"""Syntax errors an LLM can act on: line, column, position and an excerpt with a caret."""

from __future__ import annotations

import re

from sqlgateway.errors import SQLSyntaxError, caret_excerpt

SYNTAX_HINT = (
    "fix the SQL at the caret; the gateway accepts one PostgreSQL SELECT statement "
    "(WITH … SELECT, VALUES and TABLE work too)"
)

_SQLGLOT_CLASS = re.compile(r"<class 'sqlglot\.[\w.]*?(\w+)'>")
_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")


def locate(sql: str, offset: int) -> tuple[int, int]:
    """1-based (line, column) of the 0-based character `offset` in `sql`."""
    offset = max(0, min(offset, len(sql)))
    line = sql.count("\n", 0, offset) + 1
    column = offset - (sql.rfind("\n", 0, offset) + 1) + 1
    return line, column


def clean_problem(problem: str) -> str:
    """sqlglot's description of a problem, without class reprs or a final period."""
    return _SQLGLOT_CLASS.sub(r"\1", problem).strip().rstrip(".")


def syntax_error(
    sql: str, offset: int | None, problem: str, *, source: str = "", hint: str = SYNTAX_HINT
) -> SQLSyntaxError:
    """A SQLSyntaxError for `problem` at the 0-based `offset` (None: position unknown).
    `source` names the dialect when the text is not PostgreSQL (``" in tsql SQL"``)."""
    problem = clean_problem(problem)
    if offset is None:
        return SQLSyntaxError(f"syntax error{source}: {problem}", hint=hint)
    line, column = locate(sql, offset)
    message = (
        f"syntax error{source} at line {line}, column {column}: {problem}\n"
        f"{caret_excerpt(sql, offset)}"
    )
    return SQLSyntaxError(message, line=line, column=column, position=offset + 1, hint=hint)


def unterminated_at(sql: str) -> tuple[int, str] | None:
    """Where a quoted string, quoted identifier, dollar-quoted string or block comment opens
    without closing, as (0-based offset, what), or None. Mirrors PostgreSQL's lexer closely
    enough to point at the construct the tokenizer choked on."""
    i, size = 0, len(sql)
    while i < size:
        char = sql[i]
        if sql.startswith("--", i):
            newline = sql.find("\n", i)
            i = size if newline < 0 else newline + 1
        elif sql.startswith("/*", i):
            depth, j = 1, i + 2
            while j < size and depth:
                if sql.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif sql.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            if depth:
                return i, "unterminated /* comment"
            i = j
        elif char == "'":
            escapes = i > 0 and sql[i - 1] in "eE" and (i < 2 or not _word_char(sql[i - 2]))
            j = _string_end(sql, i + 1, escapes)
            if j < 0:
                return i, "unterminated quoted string"
            i = j
        elif char == '"':
            j = i + 1
            while True:
                j = sql.find('"', j)
                if j < 0:
                    return i, "unterminated quoted identifier"
                if sql.startswith('""', j):
                    j += 2
                    continue
                i = j + 1
                break
        elif char == "$" and (i == 0 or not _word_char(sql[i - 1])):
            tag = _DOLLAR_TAG.match(sql, i)
            if tag is None:
                i += 1
                continue
            close = sql.find(tag.group(0), i + len(tag.group(0)))
            if close < 0:
                return i, "unterminated dollar-quoted string"
            i = close + len(tag.group(0))
        else:
            i += 1
    return None


def _word_char(char: str) -> bool:
    return char.isalnum() or char in "_$"


def _string_end(sql: str, i: int, escapes: bool) -> int:
    """Offset just past the quote closing a string whose body starts at `i`, or -1."""
    size = len(sql)
    while i < size:
        char = sql[i]
        if escapes and char == "\\":
            i += 2
        elif char == "'":
            if sql.startswith("''", i):
                i += 2
            else:
                return i + 1
        else:
            i += 1
    return -1
