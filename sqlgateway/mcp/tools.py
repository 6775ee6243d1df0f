"""The MCP tools: what the model may call, built once from `Services` by `build_tools`.

Each tool is an operation of the action spec (spec/openapi.py), served to MCP hosts: its
description, input schema and output schema are read from the spec the gateway serves (so
they carry what the schema docs say about the data), never written twice. `run_query` is
`runQuery` (POST /query) and `get_schema` is `getSchema` (GET /schema), and each named query is a tool of its own name
(POST /queries/<name>); all run the same code as their HTTP twins (`query.answer`,
`api.schema.schema_body`, `named.answer.answer_named`). What the spec leaves out is no tool:
with SQLGATEWAY_FREE_SQL=false there is no `run_query` (and its call would be refused as
/query's is).

Every tool only reads, so every tool is annotated read-only, non-destructive, idempotent and
closed-world: hosts that ask the user before a tool that may change something can let these
run without a prompt (docs/mcp.md).

To serve another operation as a tool, add a `GatewayTool` to the list `build_tools` returns:
its definition from the spec operation (`_definition`), and a call that answers through the
operation's own function with the call's identity, record and scope.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import mcp_types as types
import orjson
from pydantic import BaseModel, ConfigDict, Field

from sqlgateway.api.schema import MAX_TABLE_PARAM_CHARS, schema_body
from sqlgateway.auth import Identity
from sqlgateway.auth.scoping import DbScope
from sqlgateway.http.body import validated
from sqlgateway.http.record import RequestRecord
from sqlgateway.mcp.render import ToolAnswer, document_answer, document_overhead, rows_answer
from sqlgateway.named.answer import answer_named
from sqlgateway.query import QueryRequest, answer, check_free_sql

if TYPE_CHECKING:
    from sqlgateway.services import Services

RUN_QUERY = "run_query"
GET_SCHEMA = "get_schema"
#: Tool name of each spec operation served as a tool (named queries keep their names).
TOOL_NAMES = {"runQuery": RUN_QUERY, "getSchema": GET_SCHEMA}

#: Every tool reads and nothing else (MCP tool annotations; hosts show or act on them).
READ_ONLY = types.ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)

JSON_TYPE = "application/json"
SCHEMA_WHAT = (
    "The database's schema: its tables and columns and what they mean, from the operator's "
    "schema docs and the database catalog (including its comments)."
)


@dataclass(frozen=True, slots=True)
class Call:
    """One tool call: the services, and the identity, record and database scope of its
    caller."""

    services: Services
    identity: Identity
    record: RequestRecord
    scope: DbScope


ToolCall = Callable[[Call, Mapping[str, Any]], Awaitable[ToolAnswer]]


@dataclass(frozen=True, slots=True)
class GatewayTool:
    definition: types.Tool
    call: ToolCall

    @property
    def name(self) -> str:
        return self.definition.name


class Toolset:
    """The tools of one server, by name."""

    def __init__(self, tools: Iterable[GatewayTool]) -> None:
        self.tools = {tool.name: tool for tool in tools}
        self.definitions = [tool.definition for tool in self.tools.values()]

    def get(self, name: str) -> GatewayTool | None:
        return self.tools.get(name)

    def input_schema(self, name: str) -> Mapping[str, Any] | None:
        tool = self.tools.get(name)
        return None if tool is None else tool.definition.input_schema


class SchemaRequest(BaseModel):
    """get_schema's arguments: GET /schema's query parameter."""

    model_config = ConfigDict(extra="forbid", strict=True)

    table: str | None = Field(default=None, min_length=1, max_length=MAX_TABLE_PARAM_CHARS)


async def run_query(call: Call, arguments: Mapping[str, Any]) -> ToolAnswer:
    check_free_sql(call.services)  # not offered then; refused like /query if called anyway
    query = validated(arguments, QueryRequest)
    result = await answer(call.services, query, call.record, call.scope)
    return rows_answer(result.body, call.services.settings.max_response_chars)


async def get_schema(call: Call, arguments: Mapping[str, Any]) -> ToolAnswer:
    request = validated(arguments, SchemaRequest, hint='send {} or {"table": "claims"}')
    most = call.services.settings.max_response_chars
    body = await schema_body(call.services, request.table)
    shown = document_answer(body, SCHEMA_WHAT, most)
    if shown is None:  # the fence's lines did not fit beside a body of the full budget
        smaller = await schema_body(
            call.services, request.table, most - document_overhead(SCHEMA_WHAT)
        )
        shown = document_answer(smaller, SCHEMA_WHAT, most)
    assert shown is not None
    return shown


def named_query(name: str) -> ToolCall:
    """The call of the named query `name`: its arguments are the operation's JSON body."""

    async def call_named(call: Call, arguments: Mapping[str, Any]) -> ToolAnswer:
        result = await answer_named(
            call.services, name, dict(arguments), call.identity, call.record, call.scope
        )
        return rows_answer(result.body, call.services.settings.max_response_chars)

    return call_named


def build_tools(services: Services) -> Toolset:
    """The tools the gateway serves: the operations of the action spec it serves."""
    spec: dict[str, Any] = orjson.loads(services.openapi_json)
    about = tool_text(spec["info"]["description"])
    schemas = spec["components"]["schemas"]
    operations = _operations(spec)
    tools = []
    if (run := operations.get("runQuery")) is not None:
        description = f"{tool_text(run['description'])} {about}"
        definition = _definition(
            spec, run, description, schemas["QueryRequest"], schemas["QueryResult"]
        )
        tools.append(GatewayTool(definition, run_query))
    schema = operations["getSchema"]
    table = next(p for p in schema.get("parameters", ()) if p["name"] == "table")
    schema_input = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"table": {**table["schema"], "description": table["description"]}},
    }
    description = tool_text(schema["description"])
    if run is None:  # the data's description goes with the tool that is always there
        description = f"{description} {about}"
    definition = _definition(spec, schema, description, schema_input, schemas["SchemaInfo"])
    tools.append(GatewayTool(definition, get_schema))
    for name in services.named.names:
        operation = operations[name]
        body = operation.get("requestBody", {}).get("content", {}).get(JSON_TYPE, {})
        parameters = body.get("schema", {"type": "object", "additionalProperties": False})
        definition = _definition(
            spec, operation, operation["description"], parameters, schemas["QueryResult"]
        )
        tools.append(GatewayTool(definition, named_query(name)))
    return Toolset(tools)


def server_instructions(services: Services) -> str:
    """What the server tells the host about itself (MCP `instructions`): the spec's
    description of the data and how to ask, in tool names."""
    spec: dict[str, Any] = orjson.loads(services.openapi_json)
    return tool_text(spec["info"]["description"])


def _operations(spec: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The spec's operations by operationId."""
    return {
        operation["operationId"]: operation
        for methods in spec["paths"].values()
        for operation in methods.values()
        if "operationId" in operation
    }


def _definition(
    spec: Mapping[str, Any],
    operation: Mapping[str, Any],
    description: str,
    input_schema: Mapping[str, Any],
    output_schema: Mapping[str, Any],
) -> types.Tool:
    operation_id = operation["operationId"]
    return types.Tool(
        name=TOOL_NAMES.get(operation_id, operation_id),
        title=operation["summary"],
        description=description,
        input_schema=json_schema(input_schema, spec),
        output_schema=json_schema(output_schema, spec),
        annotations=READ_ONLY.model_copy(update={"title": operation["summary"]}),
    )


_OPERATION_ID = re.compile(r"\b(" + "|".join(TOOL_NAMES) + r")\b")


def tool_text(text: str) -> str:
    """A spec description with operationIds replaced by the tools' names."""
    return _OPERATION_ID.sub(lambda match: TOOL_NAMES[match.group(1)], text)


def json_schema(schema: Any, spec: Mapping[str, Any]) -> Any:
    """An OpenAPI 3.1 schema as a self-contained JSON Schema (2020-12): component `$ref`s
    inlined, `example` turned into `examples`, `x-` extensions left out."""
    if isinstance(schema, list):
        return [json_schema(item, spec) for item in schema]
    if not isinstance(schema, Mapping):
        return schema
    reference = schema.get("$ref")
    if isinstance(reference, str) and reference.startswith("#/components/schemas/"):
        name = reference.rsplit("/", 1)[1]
        return json_schema(spec["components"]["schemas"][name], spec)
    converted: dict[str, Any] = {}
    for key, value in schema.items():
        if key.startswith("x-"):
            continue
        if key == "example":
            converted["examples"] = [value]
        elif key in ("properties", "$defs", "patternProperties"):
            converted[key] = {name: json_schema(sub, spec) for name, sub in value.items()}
        else:
            converted[key] = json_schema(value, spec)
    return converted
