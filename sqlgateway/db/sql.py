"""Quoting for the SQL the gateway writes itself (never for the model's SQL, which the guard
renders from its checked tree).

Both functions give text whose meaning does not depend on the session's settings:

>>> quote_ident('claims"; DROP')
'"claims""; DROP"'
>>> quote_literal("it's")
"'it''s'"
>>> quote_literal("C:\\\\temp")
"E'C:\\\\\\\\temp'"
"""

from __future__ import annotations

__all__ = ["quote_ident", "quote_literal"]


def quote_ident(name: str) -> str:
    """`name` as a quoted identifier: exactly that name, whatever its case or characters."""
    if "\x00" in name:
        raise ValueError("an identifier cannot contain NUL")
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """`text` as a string literal that means the same whether standard_conforming_strings is
    on or off: a plain '…' string when it holds no backslash, else an E'…' string with
    backslashes doubled."""
    if "\x00" in text:
        raise ValueError("a string literal cannot contain NUL")
    quoted = text.replace("'", "''")
    if "\\" in quoted:
        return "E'" + quoted.replace("\\", "\\\\") + "'"
    return "'" + quoted + "'"
