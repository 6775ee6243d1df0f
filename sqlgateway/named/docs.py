"""The `queries:` section of schema docs: named queries as a DBA writes them (YAML).

Pure pydantic models, validated with the rest of the file (`catalog/schema_docs.py`), so a
mistake is reported as ``file:line: what is wrong``. What needs the guard (the SQL itself)
is checked when the queries are compiled (`named/compile.py`).

    queries:
      - name: getClaimStatus
        description: The current status of one claim, by its claim number.
        sql: SELECT status FROM claims WHERE claim_number = :claim_number
        parameters:
          claim_number:
            type: string
            description: The claim number, CLM- and 7 digits.
            pattern: ^CLM-[0-9]{7}$
            example: CLM-0000123
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sqlgateway.named.values import BadValueError, convert

__all__ = [
    "MAX_DESCRIPTION_CHARS",
    "MAX_PARAMETER_DESCRIPTION_CHARS",
    "RESERVED_NAMES",
    "IdentitySource",
    "ParameterDoc",
    "ParameterType",
    "QueryDoc",
]

#: The GPT editor's limits: an operation's summary and description, a field's description.
MAX_DESCRIPTION_CHARS = 300
MAX_PARAMETER_DESCRIPTION_CHARS = 700
#: operationId and MCP tool name: letters, digits and _, starting with a letter.
QUERY_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
#: A parameter is written :name in the SQL; the name is a plain lower-case identifier.
PARAMETER_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
#: `actor`, or `claim:<name>` of an OAuth token.
IDENTITY = re.compile(r"actor|claim:\S{1,200}")
#: Operation names the gateway itself uses.
RESERVED_NAMES = frozenset({"runQuery", "getSchema", "getHealth", "getPrivacyPolicy"})

ParameterType = Literal["string", "integer", "number", "boolean", "date", "timestamp", "enum"]
_ORDERED_TYPES = ("integer", "number", "date", "timestamp")


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IdentitySource(_Doc):
    """Where an identity parameter's value comes from: the actor, or one token claim."""

    claim: str | None = None

    @property
    def shown(self) -> str:
        return "actor" if self.claim is None else f"claim:{self.claim}"


class ParameterDoc(_Doc):
    """One parameter: its type, what it means, and the values it accepts."""

    type: ParameterType
    description: str = Field(min_length=1, max_length=MAX_PARAMETER_DESCRIPTION_CHARS)
    required: bool | None = None
    default: Any = None
    example: Any = None
    pattern: str | None = None
    min_length: int | None = Field(default=None, ge=0)
    max_length: int | None = Field(default=None, ge=1)
    minimum: Any = None
    maximum: Any = None
    allowed_values: dict[str, str] = Field(default_factory=dict)
    #: Filled from the caller, never from the request: `actor` or `claim:<name>`.
    identity: IdentitySource | None = None
    #: Masked in the audit trail and never echoed.
    sensitive: bool = False

    @field_validator("allowed_values", mode="before")
    @classmethod
    def _value_meanings(cls, value: Any) -> Any:
        """A mapping value → meaning, or a plain list of values (meanings left empty)."""
        if isinstance(value, list):
            return {str(item): "" for item in value}
        if isinstance(value, dict):
            return {str(key): "" if text is None else str(text) for key, text in value.items()}
        return value

    @field_validator("identity", mode="before")
    @classmethod
    def _identity(cls, value: Any) -> Any:
        if value is None or isinstance(value, IdentitySource):
            return value
        if not isinstance(value, str) or not IDENTITY.fullmatch(value):
            raise ValueError("identity must be `actor` or `claim:<claim name>` (e.g. claim:sub)")
        return IdentitySource(claim=None if value == "actor" else value.removeprefix("claim:"))

    @field_validator("pattern")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as error:
                raise ValueError(f"pattern is not a regular expression: {error}") from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ParameterDoc:
        kind = self.type
        if self.pattern is not None and kind != "string":
            raise ValueError("pattern applies to string parameters only")
        if (self.min_length is not None or self.max_length is not None) and kind != "string":
            raise ValueError("min_length and max_length apply to string parameters only")
        if (self.minimum is not None or self.maximum is not None) and kind not in _ORDERED_TYPES:
            raise ValueError(f"minimum and maximum apply to {', '.join(_ORDERED_TYPES)} only")
        if kind == "enum" and not self.allowed_values:
            raise ValueError("an enum parameter needs allowed_values")
        if kind != "enum" and self.allowed_values:
            raise ValueError("allowed_values apply to enum parameters only (type: enum)")
        if self.identity is not None and (self.default is not None or self.required is False):
            raise ValueError("an identity parameter is always filled from the caller: no default")
        if self.default is not None and self.required:
            raise ValueError("a parameter with a default is not required")
        for field in ("minimum", "maximum"):
            bound = getattr(self, field)
            if bound is not None:
                self._check_value(field, bound, bounds=False)
        if (
            self.minimum is not None
            and self.maximum is not None
            and convert(self, self.minimum, bounds=False)
            > convert(self, self.maximum, bounds=False)
        ):
            raise ValueError("minimum is above maximum")
        if (
            self.min_length is not None
            and self.max_length is not None
            and self.min_length > self.max_length
        ):
            raise ValueError("min_length is above max_length")
        for field in ("default", "example"):
            value = getattr(self, field)
            if value is not None:
                self._check_value(field, value, bounds=True)
        return self

    def _check_value(self, field: str, value: Any, *, bounds: bool) -> None:
        try:
            convert(self, value, bounds=bounds)
        except BadValueError as error:
            raise ValueError(f"{field}: {error}") from None

    @property
    def is_required(self) -> bool:
        """Must the caller send it: declared so, or neither declared nor defaulted."""
        if self.identity is not None:
            return False
        return self.required if self.required is not None else self.default is None


class QueryDoc(_Doc):
    """One named query: an operation the model can call with typed parameters."""

    name: str
    summary: str | None = Field(default=None, min_length=1, max_length=MAX_DESCRIPTION_CHARS)
    description: str = Field(min_length=1, max_length=MAX_DESCRIPTION_CHARS)
    sql: str = Field(min_length=1)
    parameters: dict[str, ParameterDoc] = Field(default_factory=dict)
    max_rows: int | None = Field(default=None, ge=1)
    timeout_ms: int | None = Field(default=None, gt=0)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not QUERY_NAME.fullmatch(value):
            raise ValueError(
                "a query name is a letter then up to 63 letters, digits or _ "
                "(it is the operationId and the MCP tool name), e.g. getClaimStatus"
            )
        if value in RESERVED_NAMES:
            raise ValueError(f"{value} is the name of one of the gateway's own operations")
        return value

    @field_validator("parameters")
    @classmethod
    def _parameter_names(cls, value: dict[str, ParameterDoc]) -> dict[str, ParameterDoc]:
        for name in value:
            if not PARAMETER_NAME.fullmatch(name):
                raise ValueError(
                    f"parameter name {name!r} must be lower-case letters, digits and _, "
                    "starting with a letter or _ (it is written :name in the SQL)"
                )
        return value

    @property
    def title(self) -> str:
        """The operation's summary: `summary`, or the description's first sentence."""
        if self.summary:
            return " ".join(self.summary.split())
        text = " ".join(self.description.split())
        sentence = text.split(". ")[0].rstrip(".")
        return sentence if len(sentence) <= 120 else sentence[:119].rstrip() + "…"

    @property
    def caller_parameters(self) -> dict[str, ParameterDoc]:
        """The parameters a request sends (identity parameters are filled from the caller)."""
        return {name: p for name, p in self.parameters.items() if p.identity is None}

    @property
    def identity_parameters(self) -> dict[str, ParameterDoc]:
        return {name: p for name, p in self.parameters.items() if p.identity is not None}
