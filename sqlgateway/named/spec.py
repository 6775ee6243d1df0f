"""How a named query is described to a model: the JSON Schema of its parameters (the
request body of its OpenAPI operation, and the input schema of an MCP tool) and its
OpenAPI operation. Pure.

The schema says exactly what `values.convert` accepts: the same types, bounds, patterns and
allowed values, so a body valid by the schema passes the gateway's checks and the other way
round. Optional parameters also take ``null`` (models often send it for "not given").
"""

from __future__ import annotations

from typing import Any

from sqlgateway.named.answer import example_arguments
from sqlgateway.named.compile import NamedQuery
from sqlgateway.named.docs import MAX_PARAMETER_DESCRIPTION_CHARS, ParameterDoc
from sqlgateway.named.values import DEFAULT_MAX_STRING_CHARS, json_ready

__all__ = ["named_operation", "parameter_schema", "parameters_schema"]

_FORMATS = {"date": "date", "timestamp": "date-time"}


def parameters_schema(query: NamedQuery) -> dict[str, Any]:
    """The JSON Schema of the object of `query`'s caller parameters (identity parameters are
    not in it: the caller cannot send them)."""
    parameters = query.doc.caller_parameters
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {name: parameter_schema(p) for name, p in parameters.items()},
    }
    required = [name for name, p in parameters.items() if p.is_required]
    if required:
        schema["required"] = required
    return schema


def parameter_schema(parameter: ParameterDoc) -> dict[str, Any]:
    """The JSON Schema of one parameter's value."""
    kind = parameter.type
    schema: dict[str, Any] = {"type": "string" if kind in ("enum", *_FORMATS) else kind}
    if kind in _FORMATS:
        schema["format"] = _FORMATS[kind]
    if kind == "string":
        if parameter.min_length:
            schema["minLength"] = parameter.min_length
        schema["maxLength"] = parameter.max_length or DEFAULT_MAX_STRING_CHARS
        if parameter.pattern:
            schema["pattern"] = parameter.pattern
    if kind == "enum":
        schema["enum"] = list(parameter.allowed_values)
    if kind in ("integer", "number"):
        if parameter.minimum is not None:
            schema["minimum"] = parameter.minimum
        if parameter.maximum is not None:
            schema["maximum"] = parameter.maximum
    if not parameter.is_required:
        schema["type"] = [schema["type"], "null"]
        if "enum" in schema:
            schema["enum"] = [*schema["enum"], None]
    schema["description"] = _description(parameter)
    if parameter.default is not None:
        schema["default"] = json_ready(parameter.default)
    example = parameter.example if parameter.example is not None else parameter.default
    if example is not None:
        schema["example"] = json_ready(example)
    return schema


def named_operation(query: NamedQuery, responses: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI operation of `query` (POST /queries/<name>); `responses` are the
    spec's responses of a query (the answer is a QueryResult, as runQuery's)."""
    doc = query.doc
    operation: dict[str, Any] = {
        "operationId": doc.name,
        "summary": doc.title,
        "description": " ".join(doc.description.split()),
        "x-openai-isConsequential": False,
    }
    if doc.caller_parameters:
        schema = parameters_schema(query)
        operation["requestBody"] = {
            "required": "required" in schema,
            "content": {
                "application/json": {"schema": schema, "example": example_arguments(query)}
            },
        }
    operation["responses"] = responses
    return operation


def _description(parameter: ParameterDoc) -> str:
    """The description, then what the schema alone cannot say (meanings of allowed values,
    date bounds), as far as the 700 characters allow."""
    text = " ".join(parameter.description.split())
    extra = []
    meanings = [
        f"{value}: {meaning}" for value, meaning in parameter.allowed_values.items() if meaning
    ]
    if meanings:
        extra.append("Values - " + "; ".join(meanings) + ".")
    if parameter.type in _FORMATS and (
        parameter.minimum is not None or parameter.maximum is not None
    ):
        low, high = json_ready(parameter.minimum), json_ready(parameter.maximum)
        bounds = " and ".join(
            part for part in (f"from {low}" if low else "", f"up to {high}" if high else "") if part
        )
        extra.append(f"Allowed {bounds}.")
    for addition in extra:
        if len(text) + 1 + len(addition) <= MAX_PARAMETER_DESCRIPTION_CHARS:
            text = f"{text} {addition}"
    return text
