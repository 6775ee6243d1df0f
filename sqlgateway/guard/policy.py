"""GuardPolicy: the site-specific part of the guard (extra functions, readable relations)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlgateway.settings import Settings

#: A value built from constants is refused when it would be this many responses long:
#: "far" over the budget (db/caps.py caps every value anyway; this saves the database the work).
VALUE_LIMIT_RESPONSES = 10
#: The default response budget (SQLGATEWAY_MAX_RESPONSE_CHARS), for policies built without settings.
_DEFAULT_RESPONSE_CHARS = 95_000


def _names(values: Iterable[str]) -> frozenset[str]:
    return frozenset(value.strip().lower() for value in values if value.strip())


def function_names(values: Iterable[str]) -> frozenset[str]:
    """Lower-cased ``name`` or ``schema.name`` entries; ValueError names a bad one."""
    names = _names(values)
    for name in names:
        if name.count(".") > 1:
            raise ValueError(f"allowed function {name!r} must be 'name' or 'schema.name'")
    return names


def schema_names(values: Iterable[str]) -> frozenset[str]:
    """Lower-cased bare schema names; ValueError names a bad one."""
    names = _names(values)
    for name in names:
        if "." in name:
            raise ValueError(f"allowed schema {name!r} must be a bare schema name")
    return names


def relation_names(values: Iterable[str]) -> frozenset[str]:
    """Lower-cased ``schema.table`` names; ValueError names a bad one."""
    names = _names(values)
    for name in names:
        if name.count(".") != 1:
            raise ValueError(f"allowed relation {name!r} must be written 'schema.table'")
    return names


@dataclass(frozen=True)
class StarColumns:
    """What ``*`` shows of a table with sensitive columns: its other columns, in table order
    (``visible``), and what it leaves out (``hidden``)."""

    key: str  # schema.table, as the catalog names it
    visible: tuple[str, ...]
    hidden: tuple[str, ...]


@dataclass(frozen=True)
class GuardPolicy:
    """What a site allows on top of the built-in rules. All names are lower-cased.

    - ``extra_functions``: functions callable besides the safe built-ins, as called:
      ``schema.name`` for a qualified call, ``name`` for an unqualified one.
    - ``allowed_schemas``: schemas queries may read; empty means every non-system schema.
      Unqualified relations count as schema ``public``.
    - ``allowed_tables``: ``schema.table`` names queries may read; empty means every table of
      the allowed schemas.
    - ``allowed_system_relations``: system relations (``pg_catalog.pg_class``) readable despite
      the system-schema ban.
    - ``bind_parameters``: how many bind parameters (``$1`` … ``$n``) the statement may use.
      0 for free SQL, which never may; a named query's count (guard/parameters.py).
    - ``star_columns``: tables with sensitive columns; a ``*`` or ``t.*`` over one of them is
      written out as its visible columns (guard/stars.py). Empty: stars stay as written.
    - ``max_value_chars``: the longest value a query may build from constants (sizes.py).
    """

    extra_functions: frozenset[str] = field(default_factory=frozenset)
    allowed_schemas: frozenset[str] = field(default_factory=frozenset)
    allowed_tables: frozenset[str] = field(default_factory=frozenset)
    allowed_system_relations: frozenset[str] = field(default_factory=frozenset)
    bind_parameters: int = 0
    star_columns: tuple[StarColumns, ...] = ()
    max_value_chars: int = VALUE_LIMIT_RESPONSES * _DEFAULT_RESPONSE_CHARS

    def __post_init__(self) -> None:
        object.__setattr__(self, "extra_functions", function_names(self.extra_functions))
        object.__setattr__(self, "allowed_schemas", schema_names(self.allowed_schemas))
        object.__setattr__(self, "allowed_tables", relation_names(self.allowed_tables))
        object.__setattr__(
            self, "allowed_system_relations", relation_names(self.allowed_system_relations)
        )

    @cached_property
    def stars_by_table(self) -> dict[str, StarColumns]:
        """``star_columns`` by ``schema.table``."""
        return {entry.key: entry for entry in self.star_columns}

    @classmethod
    def from_settings(cls, settings: Settings) -> GuardPolicy:
        """The policy configured by ``SQLGATEWAY_ALLOWED_*`` settings."""
        return cls(
            extra_functions=frozenset(settings.allowed_functions),
            allowed_schemas=frozenset(settings.allowed_schemas),
            allowed_tables=frozenset(settings.allowed_tables),
            allowed_system_relations=frozenset(settings.allowed_system_relations),
            max_value_chars=VALUE_LIMIT_RESPONSES * settings.max_response_chars,
        )
