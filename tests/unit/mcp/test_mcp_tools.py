"""The MCP tools are the action spec's operations: names, schemas, descriptions from the
schema docs, read-only annotations; and the SDK's kernel sends their results unchanged."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import mcp_types as types
import orjson
import pytest
from jsonschema import Draft202012Validator
from mcp_types import methods

from sqlgateway.catalog.schema_docs import load_schema_docs
from sqlgateway.demo.files import demo_docs_dir
from sqlgateway.mcp.server import ERROR_META_KEY, SERVER_STAMP, build_server
from sqlgateway.mcp.tools import GET_SCHEMA, RUN_QUERY, Toolset, build_tools, json_schema, tool_text
from sqlgateway.named.compile import compile_queries
from sqlgateway.named.spec import parameters_schema
from sqlgateway.settings import Settings
from sqlgateway.spec.openapi import build_spec


def services(with_docs: bool = True, **settings: Any) -> Any:
    """What build_tools reads of the services: the served spec and the named queries."""
    docs = load_schema_docs(demo_docs_dir()) if with_docs else None
    configured = Settings(**settings)
    named = compile_queries(docs, configured)
    spec = build_spec("https://gw.example.com", settings=configured, docs=docs, named=named)
    return SimpleNamespace(openapi_json=orjson.dumps(spec), named=named, spec=spec)


def spec(with_docs: bool = True) -> dict[str, Any]:
    built: dict[str, Any] = services(with_docs).spec
    return built


def tools(with_docs: bool = True, **settings: Any) -> Toolset:
    return build_tools(services(with_docs, **settings))


def test_the_tools_are_the_spec_s_operations_all_read_only() -> None:
    toolset = tools()
    named = list(services().named.names)
    assert named  # the demo's named queries
    assert [t.name for t in toolset.definitions] == [RUN_QUERY, GET_SCHEMA, *named]
    for tool in toolset.definitions:
        assert tool.annotations is not None
        assert tool.annotations.read_only_hint is True
        assert tool.annotations.destructive_hint is False
        assert tool.annotations.idempotent_hint is True
        assert tool.annotations.open_world_hint is False
        assert tool.title and tool.annotations.title == tool.title


def test_schemas_are_self_contained_json_schemas() -> None:
    for tool in tools().definitions:
        for schema in (tool.input_schema, tool.output_schema):
            assert schema is not None and schema["type"] == "object"
            Draft202012Validator.check_schema(schema)
            assert "$ref" not in orjson.dumps(schema).decode()
            assert "example" not in _keys(schema)


def test_run_query_takes_what_post_query_takes() -> None:
    run_query = tools().get(RUN_QUERY)
    assert run_query is not None
    schema = run_query.definition.input_schema
    assert schema["required"] == ["sql"] and schema["additionalProperties"] is False
    assert set(schema["properties"]) == {"sql", "max_rows", "dialect"}
    validator = Draft202012Validator(schema)
    assert validator.is_valid({"sql": "SELECT 1", "max_rows": 5, "dialect": "mysql"})
    assert not validator.is_valid({"sql": "SELECT 1", "max_rows": 0})
    assert not validator.is_valid({"query": "SELECT 1"})


def test_get_schema_takes_an_optional_table() -> None:
    get_schema = tools().get(GET_SCHEMA)
    assert get_schema is not None
    validator = Draft202012Validator(get_schema.definition.input_schema)
    assert validator.is_valid({}) and validator.is_valid({"table": "claims"})
    assert not validator.is_valid({"table": ""}) and not validator.is_valid({"tables": "x"})


def test_the_description_says_what_the_data_is_from_the_schema_docs() -> None:
    with_docs = tools().get(RUN_QUERY)
    generic = tools(with_docs=False).get(RUN_QUERY)
    assert with_docs is not None and generic is not None
    about = spec()["info"]["description"]
    assert "claims" in about.lower()
    assert tool_text(about) in (with_docs.definition.description or "")
    assert (generic.definition.description or "") != with_docs.definition.description


def test_descriptions_name_the_tools_not_the_operation_ids() -> None:
    for tool in tools().definitions:
        text = tool.description or ""
        assert "runQuery" not in text and "getSchema" not in text
    assert tool_text("call getSchema, then runQuery") == "call get_schema, then run_query"


def test_json_schema_inlines_refs_and_drops_openapi_only_keys() -> None:
    document = {"components": {"schemas": {"Column": {"type": "object", "example": {"name": "x"}}}}}
    converted = json_schema(
        {"type": "array", "items": {"$ref": "#/components/schemas/Column"}, "x-internal": 1},
        document,
    )
    assert converted == {"type": "array", "items": {"type": "object", "examples": [{"name": "x"}]}}


def test_a_query_result_satisfies_the_output_schema() -> None:
    run_query = tools().get(RUN_QUERY)
    assert run_query is not None and run_query.definition.output_schema is not None
    result = {
        "columns": [{"name": "n", "type": "int8"}],
        "rows": [[1]],
        "row_count": 1,
        "truncated": False,
        "notice": None,
        "elapsed_ms": 0.5,
    }
    assert Draft202012Validator(run_query.definition.output_schema).is_valid(result)


@pytest.mark.parametrize("version", ["2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28"])
@pytest.mark.parametrize("error", [False, True])
def test_the_kernel_sends_a_tool_result_unchanged(version: str, error: bool) -> None:
    """The HTTP transport answers tool calls without the SDK's kernel (streamable.py): what
    it sends is what the kernel's serialization of the same result would send."""
    result: dict[str, Any] = {"content": [{"type": "text", "text": "1 row."}], "isError": error}
    meta: dict[str, Any] = {}
    if error:
        meta[ERROR_META_KEY] = {"error": {"code": "rejected", "message": "no", "hint": None}}
    else:
        result["structuredContent"] = {"rows": [[1]], "notice": None}
    if version == "2026-07-28":
        result["resultType"] = "complete"
        meta |= SERVER_STAMP
    if meta:
        result["_meta"] = meta
    assert methods.serialize_server_result("tools/call", version, dict(result)) == result


def test_the_server_stamp_is_the_sdk_s() -> None:
    built = services()
    server = build_server(built, build_tools(built), callers=None)  # type: ignore[arg-type]
    assert {types.SERVER_INFO_META_KEY: server.server_info_stamp} == SERVER_STAMP
    assert server.middleware == []  # no OpenTelemetry spans per message


def _keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def test_a_named_query_is_a_tool_of_its_name_taking_its_parameters() -> None:
    built = services()
    query = built.named.get("getClaimStatus")
    tool = build_tools(built).get("getClaimStatus")
    assert query is not None and tool is not None
    assert tool.definition.input_schema == json_schema(parameters_schema(query), built.spec)
    assert tool.definition.description == " ".join(query.doc.description.split())
    assert tool.definition.annotations is not None
    assert tool.definition.annotations.read_only_hint is True


def test_locked_down_there_is_no_run_query() -> None:
    """SQLGATEWAY_FREE_SQL=false: the spec has no runQuery, so neither do the tools; the data's
    description goes with get_schema."""
    locked = tools(free_sql=False)
    names = [t.name for t in locked.definitions]
    assert RUN_QUERY not in names and names[0] == GET_SCHEMA
    get_schema = locked.get(GET_SCHEMA)
    assert get_schema is not None and "claims" in (get_schema.definition.description or "")
