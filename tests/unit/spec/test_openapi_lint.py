"""The action-schema lint: passes on the specs we build, catches what the platform refuses."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from openapi_spec_validator import validate

from sqlgateway.catalog.schema_docs import load_schema_docs
from sqlgateway.cli import main
from sqlgateway.demo.files import demo_docs_dir
from sqlgateway.named.compile import compile_queries
from sqlgateway.settings import Settings
from sqlgateway.spec.lint import MAX_OPERATIONS, lint_spec
from sqlgateway.spec.openapi import GENERIC_DESCRIPTION, build_spec, describe_data

URL = "https://gateway.example"
DOCS = load_schema_docs(demo_docs_dir())


def demo_spec() -> dict[str, Any]:
    settings = Settings()
    return build_spec(URL, settings=settings, docs=DOCS, named=compile_queries(DOCS, settings))


@pytest.mark.parametrize("spec", [build_spec(URL), demo_spec()], ids=["generic", "demo"])
def test_the_built_specs_validate_and_pass_the_lint(spec: dict[str, Any]) -> None:
    validate(spec)
    assert lint_spec(spec) == []


def test_the_description_says_what_the_data_is_about() -> None:
    description = demo_spec()["info"]["description"]
    assert "fictional insurer" in description and "Tables: policyholders" in description
    assert build_spec(URL)["info"]["description"] == GENERIC_DESCRIPTION
    assert describe_data(None) == GENERIC_DESCRIPTION


def test_the_operations_the_gpt_uses() -> None:
    spec = demo_spec()
    assert spec["paths"]["/query"]["post"]["operationId"] == "runQuery"
    get_schema = spec["paths"]["/schema"]["get"]
    assert get_schema["operationId"] == "getSchema"
    assert [p["name"] for p in get_schema["parameters"]] == ["table"]
    dialect = spec["components"]["schemas"]["QueryRequest"]["properties"]["dialect"]
    assert dialect["enum"][0] == "postgres" and "tsql" in dialect["enum"]
    assert spec["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    assert spec["security"] == [{"apiKey": []}]
    named = {path: item["post"]["operationId"] for path, item in spec["paths"].items()
             if path.startswith("/queries/")}  # fmt: skip
    assert named == {
        "/queries/getClaimStatus": "getClaimStatus",
        "/queries/getClaimHistory": "getClaimHistory",
        "/queries/getPolicyClaims": "getPolicyClaims",
        "/queries/getAdjusterWorkload": "getAdjusterWorkload",
    }  # getMyOpenClaims needs OAuth claims: not offered with API keys


def test_operational_endpoints_are_not_offered_to_the_model() -> None:
    """Probes, metrics, the privacy policy and the spec stay served, outside the action."""
    for spec in (build_spec(URL), demo_spec()):
        assert not {"/healthz", "/readyz", "/metrics", "/privacy", "/openapi.yaml"} & set(
            spec["paths"]
        )
        ids = {op["operationId"] for item in spec["paths"].values() for op in item.values()}
        assert not {"getHealth", "getPrivacyPolicy"} & ids


def test_more_than_30_operations_is_a_problem() -> None:
    spec = copy.deepcopy(demo_spec())
    template = spec["paths"]["/queries/getClaimStatus"]
    for i in range(MAX_OPERATIONS - len(spec["paths"]) + 1):
        operation = copy.deepcopy(template)
        operation["post"]["operationId"] = f"extra{i}"
        spec["paths"][f"/queries/extra{i}"] = operation
    assert lint_spec(spec) == ["31 operations (the GPT editor imports at most 30)"]
    del spec["paths"]["/queries/extra0"]
    assert lint_spec(spec) == []


def _broken() -> dict[str, Any]:
    spec = copy.deepcopy(demo_spec())
    run = spec["paths"]["/query"]["post"]
    run["description"] = "x" * 301
    run["x-openai-isConsequential"] = True
    del spec["paths"]["/schema"]["get"]["operationId"]
    spec["paths"]["/schema"]["get"]["parameters"][0]["description"] = "y" * 701
    spec["components"]["schemas"]["QueryRequest"]["properties"]["max_rows"].pop("description")
    spec["paths"]["/queries/getClaimHistory"]["post"]["operationId"] = "runQuery"
    return spec


def test_the_lint_catches_every_problem() -> None:
    problems = lint_spec(_broken())
    assert problems == [
        "POST /query: description has 301 characters (at most 300)",
        "POST /query: x-openai-isConsequential must be false (the gateway only reads)",
        "POST /query: request property max_rows has no description",
        "GET /schema: no operationId",
        "GET /schema: parameter table description has 701 characters (at most 700)",
        "POST /queries/getClaimHistory: operationId 'runQuery' is also used by POST /query",
    ]


def test_check_command_exits_1_with_the_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["openapi", "--check"]) == 0
    assert "spec ok" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(_broken()))
    assert main(["openapi", "--check", "--file", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "GET /schema: no operationId" in out and "6 problem(s)" in out
