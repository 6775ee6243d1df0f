"""PostgreSQL identifier folding: how a written name becomes the name PostgreSQL looks up."""

from __future__ import annotations

from sqlglot import exp

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def fold(name: exp.Expr | str | None) -> str:
    """The name PostgreSQL resolves: unquoted names fold ASCII letters to lower case, quoted
    names stay exactly as written.

    >>> fold(exp.to_identifier("Claims")), fold(exp.to_identifier("Claims", quoted=True))
    ('claims', 'Claims')
    """
    if name is None:
        return ""
    if isinstance(name, str):
        return name.translate(_ASCII_LOWER)
    if isinstance(name, exp.Identifier):
        text: str = name.this
        return text if name.quoted else text.translate(_ASCII_LOWER)
    return name.name.translate(_ASCII_LOWER)
