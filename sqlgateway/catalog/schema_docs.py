"""Schema docs: YAML files that tell the GPT what the data means (docs/schema_docs.md).

One file per database or schema. Loaded and validated with pydantic when the app is created;
a bad file raises SchemaDocsError listing ``file:line: what is wrong`` for every problem, so
the gateway never starts half-configured.

    docs = load_schema_docs(Path("schema_docs"))
    docs.sensitive            # frozenset({"public.policyholders.email"})
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sqlgateway.named.docs import QueryDoc

__all__ = [
    "ColumnDoc",
    "ExampleDoc",
    "KeyDoc",
    "SchemaDocFile",
    "SchemaDocs",
    "SchemaDocsError",
    "TableDoc",
    "line_at",
    "load_schema_docs",
]

DEFAULT_SCHEMA = "public"


class SchemaDocsError(Exception):
    """One or more schema docs files are invalid; `problems` are ``file:line: message``."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid schema docs:\n" + "\n".join(f"  {p}" for p in problems))
        self.problems = problems


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _names(value: Any) -> Any:
    """One name or a list of names (`aliases:`), as a list of non-empty strings."""
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list):
        return [_text(item).strip() for item in value if _text(item).strip()]
    return value


def _value_meanings(value: Any) -> Any:
    """`allowed_values:`: a mapping value → meaning, or a plain list of values (meanings
    left empty)."""
    if isinstance(value, list):
        return {_text(item): "" for item in value}
    if isinstance(value, dict):
        return {_text(key): _text(meaning) for key, meaning in value.items()}
    return value


class KeyDoc(_Doc):
    """A key of a json/jsonb column's objects: ``channel``, or a path into nested objects,
    ``vehicle.make``. What it holds, read with ``->>``, as a column's doc says it."""

    name: str = Field(min_length=1, pattern=r"^[^.]+(\.[^.]+)*$")
    type: str | None = None
    description: str | None = None
    unit: str | None = None
    allowed_values: dict[str, str] = Field(default_factory=dict)
    examples: list[Any] = Field(default_factory=list)

    _allowed = field_validator("allowed_values", mode="before")(_value_meanings)

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(self.name.split("."))


class ColumnDoc(_Doc):
    name: str = Field(min_length=1)
    type: str | None = None
    aliases: list[str] = Field(default_factory=list)
    description: str | None = None
    unit: str | None = None
    allowed_values: dict[str, str] = Field(default_factory=dict)
    examples: list[Any] = Field(default_factory=list)
    sensitive: bool = False
    #: json/jsonb columns: the keys of their objects (docs/schema_docs.md).
    keys: list[KeyDoc] = Field(default_factory=list)

    _aliases = field_validator("aliases", mode="before")(_names)
    _allowed = field_validator("allowed_values", mode="before")(_value_meanings)

    @model_validator(mode="after")
    def _unique_keys(self) -> ColumnDoc:
        names = [key.name for key in self.keys]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"column {self.name}: key(s) listed twice: {', '.join(duplicates)}")
        return self


class TableDoc(_Doc):
    name: str = Field(min_length=1)
    aliases: list[str] = Field(default_factory=list)
    purpose: str | None = None
    rows: int | str | None = None
    primary_key: list[str] = Field(default_factory=list)
    columns: list[ColumnDoc] = Field(default_factory=list)

    _aliases = field_validator("aliases", mode="before")(_names)

    @field_validator("primary_key", mode="before")
    @classmethod
    def _key_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _consistent(self) -> TableDoc:
        names = [column.name for column in self.columns]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"table {self.name}: column(s) listed twice: {', '.join(duplicates)}")
        missing = [key for key in self.primary_key if names and key not in names]
        if missing:
            raise ValueError(f"table {self.name}: primary_key {missing} is not among its columns")
        return self


class ExampleDoc(_Doc):
    question: str = Field(min_length=1)
    sql: str = Field(min_length=1)
    note: str | None = None


class SchemaDocFile(_Doc):
    """One file: a database's (or one schema's) tables."""

    database: str | None = None
    schema_name: str = Field(default=DEFAULT_SCHEMA, alias="schema", min_length=1)
    description: str | None = None
    conventions: list[str] = Field(default_factory=list)
    tables: list[TableDoc] = Field(default_factory=list)
    relationships: list[str] = Field(default_factory=list)
    join_paths: dict[str, str] = Field(default_factory=dict)
    examples: list[ExampleDoc] = Field(default_factory=list)
    #: Named queries (docs/schema_docs.md, sqlgateway/named/).
    queries: list[QueryDoc] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_tables(self) -> SchemaDocFile:
        names = [table.name for table in self.tables]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"table(s) listed twice: {', '.join(duplicates)}")
        queries = [query.name for query in self.queries]
        duplicates = sorted({name for name in queries if queries.count(name) > 1})
        if duplicates:
            raise ValueError(f"query name(s) used twice: {', '.join(duplicates)}")
        return self


@dataclass(frozen=True)
class SchemaDocs:
    """Every file of a schema docs directory, with lookups by ``schema.table``."""

    files: tuple[SchemaDocFile, ...]
    #: The file each of `files` was read from (empty when built in code).
    paths: tuple[Path, ...] = ()

    @property
    def description(self) -> str | None:
        texts = [f.description.strip() for f in self.files if f.description]
        return " ".join(texts) or None

    @property
    def database(self) -> str | None:
        return next((f.database for f in self.files if f.database), None)

    @property
    def tables(self) -> dict[str, TableDoc]:
        """``schema.table`` → its doc."""
        return {f"{f.schema_name}.{t.name}": t for f in self.files for t in f.tables}

    @property
    def sensitive(self) -> frozenset[str]:
        """``schema.table.column`` of every column marked ``sensitive: true``."""
        return frozenset(
            f"{key}.{column.name}"
            for key, table in self.tables.items()
            for column in table.columns
            if column.sensitive
        )

    def each(self, field: str) -> list[Any]:
        """The concatenated list field (conventions, relationships, examples) of every file."""
        return [item for f in self.files for item in getattr(f, field)]

    @property
    def join_paths(self) -> dict[str, str]:
        return {name: path for f in self.files for name, path in f.join_paths.items()}


def load_schema_docs(directory: Path) -> SchemaDocs:
    """Every ``*.yaml``/``*.yml`` file of `directory`, validated; SchemaDocsError otherwise."""
    if not directory.is_dir():
        raise SchemaDocsError([f"{directory}: not a directory"])
    paths = sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml"))
    if not paths:
        raise SchemaDocsError([f"{directory}: no .yaml files"])
    problems: list[str] = []
    files: list[SchemaDocFile] = []
    for path in paths:
        try:
            files.append(load_schema_doc_file(path))
        except SchemaDocsError as error:
            problems.extend(error.problems)
    problems.extend(_duplicates_across(paths, files) if not problems else [])
    if problems:
        raise SchemaDocsError(problems)
    return SchemaDocs(tuple(files), tuple(paths))


def load_schema_doc_file(path: Path) -> SchemaDocFile:
    text = path.read_text("utf-8")
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f"{mark.line + 1}" if mark is not None else "?"
        problem = getattr(error, "problem", None) or str(error)
        raise SchemaDocsError([f"{path}:{line}: invalid YAML: {problem}"]) from None
    if not isinstance(data, dict):
        raise SchemaDocsError([f"{path}:1: expected a mapping with `tables:` at the top"])
    try:
        return SchemaDocFile.model_validate(data)
    except ValidationError as error:
        raise SchemaDocsError(
            [
                f"{path}:{_line_of(root, problem['loc'])}: {_where(problem['loc'])}{problem['msg']}"
                for problem in error.errors()
            ]
        ) from None


def line_at(path: Path, loc: tuple[int | str, ...]) -> int:
    """1-based line of the YAML node at `loc` in the file at `path` (1 if unreadable)."""
    try:
        return _line_of(yaml.compose(path.read_text("utf-8")), loc)
    except (OSError, yaml.YAMLError):
        return 1


def _where(loc: tuple[int | str, ...]) -> str:
    shown = ".".join(str(part) for part in loc)
    return f"{shown}: " if shown else ""


def _line_of(node: yaml.Node | None, loc: Iterable[int | str]) -> int:
    """1-based line of the YAML node at pydantic location `loc` (the deepest one found)."""
    if node is None:
        return 1
    line = node.start_mark.line + 1
    for part in loc:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if str(key.value) == str(part):
                    child = value
                    line = key.start_mark.line + 1
                    break
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(part, int)
            and 0 <= part < len(node.value)
        ):
            child = node.value[part]
        if child is None:
            break
        node = child
        line = node.start_mark.line + 1
    return line


def _duplicates_across(paths: list[Path], files: list[SchemaDocFile]) -> list[str]:
    seen: dict[str, Path] = {}
    problems = []
    for path, doc in zip(paths, files, strict=True):
        for table in doc.tables:
            key = f"{doc.schema_name}.{table.name}"
            if key in seen:
                problems.append(f"{path}:1: table {key} is also described in {seen[key]}")
            seen[key] = path
    return problems
