"""Helpers of the named-query tests: schema docs files written to a temporary directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from sqlgateway.catalog.schema_docs import SchemaDocs, load_schema_docs
from sqlgateway.named.compile import NamedQueries, compile_queries
from sqlgateway.settings import Settings

STATUS_QUERY: dict[str, Any] = {
    "name": "getClaimStatus",
    "description": "The status of one claim, by its claim number.",
    "sql": "SELECT status FROM claims WHERE claim_number = :claim_number",
    "parameters": {
        "claim_number": {
            "type": "string",
            "description": "The claim number.",
            "pattern": "^CLM-[0-9]{7}$",
            "example": "CLM-0000123",
        }
    },
}


def write_queries(directory: Path, *queries: dict[str, Any], name: str = "db.yaml") -> Path:
    """A schema docs file holding only `queries`; returns the directory."""
    (directory / name).write_text(yaml.safe_dump({"queries": list(queries)}, sort_keys=False))
    return directory


def docs_of(directory: Path, *queries: dict[str, Any]) -> SchemaDocs:
    return load_schema_docs(write_queries(directory, *queries))


def compiled(directory: Path, *queries: dict[str, Any], **settings: Any) -> NamedQueries:
    return compile_queries(docs_of(directory, *queries), Settings(**settings))


def query_doc(name: str, sql: str, **parameters: dict[str, Any]) -> dict[str, Any]:
    """A named query `name` with `parameters` (each gets a description)."""
    return {
        "name": name,
        "description": f"Test query {name}.",
        "sql": sql,
        "parameters": {key: {"description": key, **p} for key, p in parameters.items()},
    }


#: One query per parameter type (and identity sources), on the demo database.
TYPED_QUERIES: list[dict[str, Any]] = [
    query_doc(
        "claimByNumber",
        "SELECT claim_id, claim_number, status FROM claims WHERE claim_number = :claim_number",
        claim_number={"type": "string"},
    ),
    query_doc(
        "claimsByStatus",
        "SELECT claim_id, status FROM claims WHERE status = CAST(:status AS claim_status) "
        "ORDER BY claim_id",
        status={"type": "enum", "allowed_values": ["paid", "denied", "closed"]},
    )
    | {"max_rows": 3},
    query_doc(
        "claimById",
        "SELECT claim_id, claim_number FROM claims WHERE claim_id = :claim_id",
        claim_id={"type": "integer"},
    ),
    query_doc(
        "claimsOver",
        "SELECT count(*) AS claims FROM claims WHERE amount_claimed > :amount",
        amount={"type": "number", "minimum": 0},
    ),
    query_doc(
        "injuryClaims",
        "SELECT count(*) AS claims FROM claims WHERE (details->>'injuries')::boolean = :injured",
        injured={"type": "boolean"},
    ),
    query_doc(
        "claimsReportedOn",
        "SELECT count(*) AS claims FROM claims WHERE reported_at >= :day AND reported_at < :day + 1",
        day={"type": "date"},
    ),
    query_doc(
        "claimsReportedSince",
        "SELECT count(*) AS claims FROM claims WHERE reported_at >= :since",
        since={"type": "timestamp"},
    ),
    query_doc(
        "whoAmI",
        "SELECT :who AS who, length(:secret) AS secret_chars",
        who={"type": "string", "identity": "actor"},
        secret={"type": "string", "sensitive": True, "required": False},
    ),
    query_doc(
        "myClaims",
        "SELECT c.claim_id FROM claims c JOIN policies p USING (policy_id) "
        "WHERE p.policyholder_id = :me ORDER BY c.claim_id",
        me={"type": "integer", "identity": "claim:sub"},
    ),
    query_doc(
        "slowCount",
        "SELECT count(*) AS pairs FROM claim_events a, claim_events b WHERE a.event_id > :n",
        n={"type": "integer"},
    )
    | {"timeout_ms": 200},
]


def typed_docs_dir(directory: Path) -> Path:
    """The demo's schema docs (tables, sensitive column, its named queries) and TYPED_QUERIES,
    in `directory`."""
    from sqlgateway.demo.files import demo_docs_dir

    (directory / "claims.yaml").write_text((demo_docs_dir() / "claims.yaml").read_text())
    return write_queries(directory, *TYPED_QUERIES, name="typed.yaml")
