"""docs.py: the `queries:` format, validated with the schema docs (file:line: problem)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from named_queries import STATUS_QUERY, docs_of, write_queries

from sqlgateway.catalog.schema_docs import SchemaDocsError, load_schema_docs


def _with(**changes: Any) -> dict[str, Any]:
    query = copy.deepcopy(STATUS_QUERY)
    query.update(changes)
    return query


def _parameter(**fields: Any) -> dict[str, Any]:
    return _with(parameters={"claim_number": {"description": "d", **fields}})


def test_a_query_loads_with_its_parameters(tmp_path: Path) -> None:
    docs = docs_of(tmp_path, STATUS_QUERY)
    (query,) = docs.each("queries")
    assert query.name == "getClaimStatus"
    assert query.title == "The status of one claim, by its claim number"
    parameter = query.parameters["claim_number"]
    assert parameter.is_required and parameter.type == "string"


@pytest.mark.parametrize(
    ("query", "what"),
    [
        (_with(name="get claim"), "a query name is a letter"),
        (_with(name="runQuery"), "one of the gateway's own operations"),
        (_with(description="x" * 301), "at most 300 characters"),
        (_with(descripton="typo"), "Extra inputs are not permitted"),
        (_with(max_rows=0), "greater than or equal to 1"),
        (_with(parameters={"Claim-Number": {"type": "string", "description": "d"}}), "lower-case"),
        (_parameter(type="text"), "Input should be 'string'"),
        (_with(parameters={"claim_number": {"type": "string"}}), "description: Field required"),
        (_parameter(type="string", description="d" * 701), "at most 700 characters"),
        (_parameter(type="integer", pattern="^1$"), "pattern applies to string"),
        (_parameter(type="string", pattern="("), "pattern is not a regular expression"),
        (_parameter(type="enum"), "an enum parameter needs allowed_values"),
        (_parameter(type="string", allowed_values=["a"]), "allowed_values apply to enum"),
        (_parameter(type="boolean", minimum=1), "minimum and maximum apply to"),
        (_parameter(type="integer", minimum=5, maximum=1), "minimum is above maximum"),
        (_parameter(type="integer", minimum="one"), "minimum: must be an integer"),
        (_parameter(type="integer", default="7"), "default: must be an integer"),
        (_parameter(type="integer", maximum=3, example=4), "example: must be an integer"),
        (_parameter(type="string", default="x", required=True), "a parameter with a default"),
        (_parameter(type="string", identity="sub"), "identity must be `actor`"),
        (_parameter(type="string", identity="actor", default="x"), "always filled from the"),
        (_parameter(type="string", min_length=3, max_length=2), "min_length is above"),
    ],
)
def test_bad_queries_name_the_file_the_line_and_the_problem(
    tmp_path: Path, query: dict[str, Any], what: str
) -> None:
    directory = write_queries(tmp_path, query)
    with pytest.raises(SchemaDocsError) as info:
        load_schema_docs(directory)
    problems = info.value.problems
    assert any(p.startswith(f"{directory / 'db.yaml'}:") and what in p for p in problems), problems


def test_names_are_unique_in_a_file(tmp_path: Path) -> None:
    with pytest.raises(SchemaDocsError, match=r"query name\(s\) used twice: getClaimStatus"):
        docs_of(tmp_path, STATUS_QUERY, STATUS_QUERY)


def test_identity_sources(tmp_path: Path) -> None:
    query = _with(
        sql="SELECT :who, :sub",
        parameters={
            "who": {"type": "string", "description": "d", "identity": "actor"},
            "sub": {
                "type": "integer",
                "description": "d",
                "identity": "claim:https://x.example/id",
            },
        },
    )
    (doc,) = docs_of(tmp_path, query).each("queries")
    assert doc.caller_parameters == {}
    sources = {name: p.identity.shown for name, p in doc.identity_parameters.items() if p.identity}
    assert sources == {"who": "actor", "sub": "claim:https://x.example/id"}
    assert not doc.parameters["who"].is_required  # the caller never sends it
