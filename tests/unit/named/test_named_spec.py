"""spec.py: the JSON Schema of a named query's parameters says exactly what the gateway
accepts, and its OpenAPI operation passes the GPT editor's limits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
from named_queries import compiled
from openapi_spec_validator import validate

from sqlgateway.catalog.schema_docs import load_schema_docs
from sqlgateway.demo.files import demo_docs_dir
from sqlgateway.named.compile import compile_queries
from sqlgateway.named.docs import ParameterDoc
from sqlgateway.named.spec import parameter_schema, parameters_schema
from sqlgateway.named.values import BadValueError, convert
from sqlgateway.settings import Settings
from sqlgateway.spec.lint import lint_spec
from sqlgateway.spec.openapi import build_spec

OAUTH = Settings(
    auth="oauth",
    oauth_issuer="https://idp.example/",
    oauth_audience="api",
    oauth_jwks_url="https://idp.example/jwks",
)
DEMO = load_schema_docs(demo_docs_dir())
NAMED = compile_queries(DEMO, OAUTH)


def _p(kind: str, **fields: Any) -> ParameterDoc:
    return ParameterDoc.model_validate({"type": kind, "description": "d", **fields})


PARAMETERS = {
    "string": _p("string", pattern="^CLM-[0-9]{7}$"),
    "short": _p("string", min_length=2, max_length=4),
    "enum": _p("enum", allowed_values={"a": "first", "b": ""}),
    "optional_enum": _p("enum", allowed_values=["a", "b"], required=False),
    "integer": _p("integer", minimum=1, maximum=50),
    "number": _p("number", minimum=-1.5, maximum=10),
    "boolean": _p("boolean", default=False),
    "date": _p("date"),
    "timestamp": _p("timestamp"),
}
VALUES: list[Any] = [
    None, True, False, 0, 1, 50, 51, -2, 1.5, 10.0, 1e300, "", "a", "ab", "abcde", "b",
    "CLM-0000123", "CLM-0000123\n", "clm-0000123", "' OR '1'='1", "1; DELETE FROM claims",
    "2026-06-30", "2026-02-30", "2026-06-30T12:00:00Z", "2026-06-30T12:00:00+02:00",
    "2026-06-30T12:00:00", "2026-06-30T12:00:00.123456Z", [], ["a"], {}, {"a": 1},
]  # fmt: skip


def _accepted(parameter: ParameterDoc, value: Any) -> bool:
    if value is None:
        return not parameter.is_required
    try:
        convert(parameter, value)
    except BadValueError:
        return False
    return True


@pytest.mark.parametrize("name", PARAMETERS)
def test_the_schema_accepts_exactly_what_the_gateway_accepts(name: str) -> None:
    parameter = PARAMETERS[name]
    validator = jsonschema.Draft202012Validator(
        parameter_schema(parameter), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    for value in VALUES:
        if parameter.pattern and value == "CLM-0000123\n":
            # the jsonschema library matches with Python's re, whose $ also matches before a
            # final newline; JSON Schema (ECMA-262) and the gateway do not
            assert not _accepted(parameter, value)
            continue
        assert validator.is_valid(value) == _accepted(parameter, value), (name, value)


def test_descriptions_carry_what_the_schema_cannot() -> None:
    schema = parameter_schema(PARAMETERS["enum"])
    assert schema["enum"] == ["a", "b"] and "a: first" in schema["description"]
    dated = parameter_schema(_p("date", minimum="2021-01-01", maximum="2026-07-01"))
    assert "from 2021-01-01 and up to 2026-07-01" in dated["description"]
    long = parameter_schema(_p("enum", description="d" * 690, allowed_values={"a": "x" * 50}))
    assert len(long["description"]) <= 700


def test_identity_parameters_are_not_in_the_body() -> None:
    mine = NAMED.get("getMyOpenClaims")
    assert mine is not None
    schema = parameters_schema(mine)
    assert schema == {"type": "object", "additionalProperties": False, "properties": {}}


def test_the_demo_spec_with_named_queries_validates_and_passes_the_lint() -> None:
    spec = build_spec("https://gateway.example", settings=OAUTH, docs=DEMO, named=NAMED)
    validate(spec)
    assert lint_spec(spec) == []
    operations = [op for item in spec["paths"].values() for op in item.values()]
    assert len(operations) == 7  # runQuery, getSchema and the five named queries
    status = spec["paths"]["/queries/getClaimStatus"]["post"]
    assert status["operationId"] == "getClaimStatus"
    assert status["x-openai-isConsequential"] is False
    body = status["requestBody"]["content"]["application/json"]
    assert body["example"] == {"claim_number": "CLM-0000123"}
    assert body["schema"]["required"] == ["claim_number"]
    assert "requestBody" not in spec["paths"]["/queries/getMyOpenClaims"]["post"]
    assert "422" not in status["responses"] and "400" in status["responses"]
    workload = spec["paths"]["/queries/getAdjusterWorkload"]["post"]["requestBody"]
    assert workload["content"]["application/json"]["example"] == {
        "adjuster_id": 1,
        "as_of": "2026-07-01",
    }


def test_locked_down_spec_leaves_run_query_out(tmp_path: Path) -> None:
    settings = Settings(free_sql=False)
    named = compile_queries(DEMO, settings)
    spec = build_spec("https://gateway.example", settings=settings, docs=DEMO, named=named)
    validate(spec)
    assert lint_spec(spec) == []
    assert "/query" not in spec["paths"] and "/schema" in spec["paths"]
    assert "runQuery" not in spec["info"]["description"]
    assert "There is no free SQL" in spec["info"]["description"]
    assert compiled(tmp_path, {
        "name": "q", "description": "d", "sql": "SELECT 1",
    }, free_sql=False).names == ("q",)  # fmt: skip
