"""What a hint rule knows about a statement PostgreSQL refused (postgres.py, types.py)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from sqlgateway.catalog.model import Catalog, ColumnInfo, TableInfo
from sqlgateway.errors import QueryError

#: Longest SQL parsed again for a hint; longer texts get the hints their message allows.
MAX_PARSED_CHARS = 20_000

_QUOTED = re.compile(r'"((?:[^"]|"")*)"')
TIME_TYPES = ("timestamp", "date", "time")
NUMBER_TYPES = ("integer", "bigint", "smallint", "numeric", "double precision", "real")
TEXT_TYPES = ("text", "character varying", "character", "unknown", "name")


#: Comparison nodes and the operators they write.
COMPARISONS: dict[type[exp.Expr], str] = {
    exp.EQ: "=",
    exp.NEQ: "<>",
    exp.GT: ">",
    exp.GTE: ">=",
    exp.LT: "<",
    exp.LTE: "<=",
}


def parse_again(sql: str) -> exp.Expr | None:
    """`sql` as PostgreSQL's tree for a hint to read, when it is short enough (None when it
    is not, or does not parse)."""
    if len(sql) > MAX_PARSED_CHARS:
        return None
    try:
        return sqlglot.parse_one(sql, read="postgres")
    except (SqlglotError, RecursionError, ValueError):
        return None


@dataclass
class Failure:
    """What a rule knows about a statement PostgreSQL refused."""

    error: QueryError
    sql: str  # the SQL that ran
    catalog: Catalog | None
    tables: Sequence[TableInfo]  # the catalog's tables the statement reads
    _tree: exp.Expr | None = None
    _parsed: bool = False

    @property
    def message(self) -> str:
        return self.error.message.split("\n", 1)[0]

    @property
    def tree(self) -> exp.Expr | None:
        if not self._parsed:
            self._parsed = True
            self._tree = parse_again(self.sql)
        return self._tree

    def quoted_names(self) -> list[str]:
        return [name.replace('""', '"') for name in _QUOTED.findall(self.message)]

    def column(self, name: str) -> tuple[TableInfo, ColumnInfo] | None:
        """The column `name` of the tables read (the first that has it)."""
        for table in self.tables:
            for column in table.columns:
                if column.name == name and not column.sensitive:
                    return table, column
        return None


#: A hint rule: the hints for one kind of failure, most specific first (none: nothing to say).
Rule = Callable[[Failure], list[str]]
