"""The action schema: built from code, served at /openapi.yaml and /openapi.json.

It lists what the model uses and nothing else: runQuery (unless SQLGATEWAY_FREE_SQL=false),
getSchema, and one operation per named query (POST /queries/<name>). Probes, metrics, the
privacy policy and the spec itself are served and documented (docs/api.md), not offered.

`openapi.yaml` at the repository root is this spec rendered for the default URL without
schema docs; a test keeps the two identical (`sqlgateway openapi --server-url
http://127.0.0.1:8000 > openapi.yaml` regenerates it). The served spec describes the data
from the schema docs' `description` and is checked by `sqlgateway.spec.lint`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import yaml

from sqlgateway import __version__
from sqlgateway.catalog.schema_docs import SchemaDocs
from sqlgateway.errors import error_codes
from sqlgateway.guard.dialects import DEFAULT_DIALECT, DIALECTS
from sqlgateway.named.spec import named_operation
from sqlgateway.routes import ENDPOINTS, named_path
from sqlgateway.settings import Settings

if TYPE_CHECKING:
    from sqlgateway.named.compile import NamedQueries

ERROR_CODES = error_codes()


_USAGE = (
    "Call getSchema for the tables and what their columns mean, then runQuery with one "
    "PostgreSQL SELECT; the answer is raw rows as JSON, cut to fit the response limit."
)
_NAMED_USAGE = (
    "The other operations answer the common questions with typed parameters: prefer one "
    "when it fits."
)
_LOCKED_USAGE = (
    "Each operation answers one kind of question with typed parameters; getSchema describes "
    "the data. There is no free SQL."
)
GENERIC_DESCRIPTION = "Read-only SQL access to a PostgreSQL database. " + _USAGE
#: Characters of the schema docs' description quoted in info.description.
ABOUT_CHARS = 600


def describe_data(docs: SchemaDocs | None, *, named: bool = False, free_sql: bool = True) -> str:
    """info.description: what the data is about (from the schema docs), then how to ask:
    free SQL, named queries (`named`: there are some), or named queries only."""
    usage = _USAGE + (f" {_NAMED_USAGE}" if named else "") if free_sql else _LOCKED_USAGE
    lead = (
        "Read-only SQL access to a PostgreSQL database."
        if free_sql
        else ("Read-only access to a PostgreSQL database through approved queries.")
    )
    about = " ".join((docs.description or "").split()) if docs else ""
    if not about:
        return f"{lead} {usage}"
    if len(about) > ABOUT_CHARS:
        about = about[: ABOUT_CHARS - 1].rstrip() + "…"
    tables = ", ".join(name.removeprefix("public.") for name in docs.tables) if docs else ""
    listed = f" Tables: {tables}." if tables and len(tables) <= 400 else ""
    return f"{lead} {about}{listed} {usage}"


def security_schemes(settings: Settings | None) -> dict[str, dict[str, Any]]:
    """The spec's security schemes, following SQLGATEWAY_AUTH: none, an API key (bearer, or
    the custom header when one is configured), or OAuth 2 (authorization code flow when the
    provider's URLs are configured, else a bearer JWT)."""
    mode = settings.auth if settings is not None else "api_key"
    if mode == "none":
        return {}
    if mode == "oauth":
        assert settings is not None
        if settings.oauth_authorization_url and settings.oauth_token_url:
            return {
                "oauth": {
                    "type": "oauth2",
                    "description": "Sign in with the operator's identity provider.",
                    "flows": {
                        "authorizationCode": {
                            "authorizationUrl": settings.oauth_authorization_url,
                            "tokenUrl": settings.oauth_token_url,
                            "scopes": {scope: scope for scope in settings.oauth_scopes},
                        }
                    },
                }
            }
        return {
            "oauth": {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "JWT",
                "description": "An access token from the operator's identity provider.",
            }
        }
    if settings is not None and settings.api_key_header:
        return {
            "apiKey": {
                "type": "apiKey",
                "in": "header",
                "name": settings.api_key_header,
                "description": f"An API key, sent in the {settings.api_key_header} header.",
            }
        }
    return {
        "apiKey": {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key, sent as 'Authorization: Bearer <key>'.",
        }
    }


def _error_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _json(ref: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
    }


def _query_responses(*, unprocessable: bool) -> dict[str, Any]:
    """The responses of an operation that runs a query (runQuery, every named query)."""
    responses = {
        "200": _json("QueryResult", "The rows, cut to the response limit."),
        "400": _error_response("Refused, syntax error or PostgreSQL error."),
        "401": _error_response("Missing or invalid credentials."),
        "403": _error_response("The caller may not query this gateway."),
        "413": _error_response("Request body too large."),
        "422": _error_response("Body does not match the schema."),
        "429": _error_response("Too many requests; wait Retry-After seconds."),
        "503": _error_response("Unavailable (the database, or the audit trail); retry shortly."),
        "504": _error_response("Query ran longer than the statement timeout."),
    }
    if not unprocessable:
        del responses["422"]
        responses["400"] = _error_response(
            "A parameter is missing or not allowed (the message names it and what it "
            "allows), or PostgreSQL refused the query."
        )
        responses["403"] = _error_response(
            "The caller may not query this gateway, or lacks the identity this query needs."
        )
    return responses


def _run_query() -> dict[str, Any]:
    return {
        "operationId": "runQuery",
        "summary": "Run one read-only SQL query",
        "description": (
            "Runs one PostgreSQL SELECT (or WITH/VALUES/TABLE) read-only and returns columns "
            "and rows as arrays. If truncated is true, narrow or aggregate the query. Errors "
            "carry a code, a message and often a hint to fix the SQL."
        ),
        "x-openai-isConsequential": False,
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": "#/components/schemas/QueryRequest"},
                    "example": {"sql": "SELECT status, count(*) FROM claims GROUP BY status"},
                }
            },
        },
        "responses": _query_responses(unprocessable=True),
    }


def _get_schema() -> dict[str, Any]:
    return {
        "operationId": "getSchema",
        "summary": "Describe the tables that can be queried",
        "description": (
            "Without parameters: every table with its columns (type, keys, allowed values, "
            "short meaning), conventions, join paths and example queries. With table: one "
            "table in full. Read it before writing SQL."
        ),
        "x-openai-isConsequential": False,
        "parameters": [
            {
                "name": "table",
                "in": "query",
                "required": False,
                "description": (
                    "A table name (such as claims, or schema.table outside schema public) to "
                    "get its full description: every column's meaning, unit, allowed values "
                    "with their meanings, example values, foreign keys and the example "
                    "queries that read it. Leave it out for the overview of all tables."
                ),
                "schema": {"type": "string", "minLength": 1, "maxLength": 200},
                "example": "claims",
            }
        ],
        "responses": {
            "200": _json("SchemaInfo", "The overview, or one table in full."),
            "400": _error_response("The table parameter is empty or too long."),
            "401": _error_response("Missing or invalid credentials."),
            "403": _error_response("The caller may not query this gateway."),
            "404": _error_response("No such table; the message names the closest ones."),
            "429": _error_response("Too many requests; wait Retry-After seconds."),
            "503": _error_response(
                "Unavailable (the database, or the audit trail); retry shortly."
            ),
        },
    }


def _schemas() -> dict[str, Any]:
    return {
        "QueryRequest": {
            "type": "object",
            "additionalProperties": False,
            "required": ["sql"],
            "properties": {
                "sql": {
                    "type": "string",
                    "minLength": 1,
                    "description": (
                        "Exactly one statement that only reads: SELECT, WITH … SELECT, VALUES "
                        "or TABLE, in PostgreSQL unless dialect says otherwise. Writes, "
                        "settings, locks, system catalogs and sensitive columns are refused. "
                        "Prefer aggregates and WHERE filters over fetching whole tables."
                    ),
                    "example": "SELECT status, count(*) FROM claims GROUP BY status",
                },
                "max_rows": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "Return at most this many rows (can only lower the "
                    "server's limits).",
                    "example": 50,
                },
                "dialect": {
                    "type": "string",
                    "enum": list(DIALECTS),
                    "default": DEFAULT_DIALECT,
                    "description": (
                        "The SQL dialect sql is written in. Other than postgres, it is "
                        "translated to PostgreSQL before it is checked and run, and the "
                        "response's sql field shows what ran. PostgreSQL works best."
                    ),
                    "example": DEFAULT_DIALECT,
                },
            },
        },
        "Column": {
            "type": "object",
            "required": ["name", "type"],
            "properties": {
                "name": {"type": "string"},
                "type": {"type": "string", "description": "PostgreSQL type name."},
            },
        },
        "QueryResult": {
            "type": "object",
            "required": ["columns", "rows", "row_count", "truncated", "notice", "elapsed_ms"],
            "properties": {
                "sql": {
                    "type": "string",
                    "description": "The PostgreSQL that ran, when the request named a dialect.",
                },
                "columns": {"type": "array", "items": {"$ref": "#/components/schemas/Column"}},
                "rows": {
                    "type": "array",
                    "description": "Each row is an array of values in column order.",
                    "items": {"type": "array", "items": {}},
                },
                "row_count": {"type": "integer", "minimum": 0},
                "truncated": {
                    "type": "boolean",
                    "description": "True when more rows exist than were returned.",
                },
                "notice": {
                    "type": ["string", "null"],
                    "description": "What to know before trusting the rows: a value no row can "
                    "have (and the valid ones), how the text was read, columns left out, how to "
                    "narrow a truncated result.",
                },
                "elapsed_ms": {"type": "number"},
            },
        },
        "SchemaInfo": {
            "type": "object",
            "description": "The overview (tables) or one table in full (table).",
            "properties": {
                "database": {"type": "string"},
                "description": {"type": "string"},
                "dialect": {"type": "string"},
                "how_to_query": {"type": "array", "items": {"type": "string"}},
                "conventions": {"type": "array", "items": {"type": "string"}},
                "tables": {"type": "array", "items": {"type": "object"}},
                "table": {"type": "object"},
                "relationships": {"type": "array", "items": {"type": "string"}},
                "join_paths": {"type": "object"},
                "examples": {"type": "array", "items": {"type": "object"}},
                "more": {"type": "string"},
            },
        },
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": {"type": "string", "enum": list(ERROR_CODES)},
                        "message": {"type": "string"},
                        "hint": {"type": "string"},
                        "sqlstate": {"type": "string"},
                        "position": {
                            "type": "integer",
                            "description": "1-based character offset into the SQL that ran.",
                        },
                        "line": {"type": "integer"},
                        "column": {"type": "integer"},
                        "construct": {
                            "type": "string",
                            "description": "What a refusal refused (e.g. a function name).",
                        },
                    },
                }
            },
        },
    }


def build_spec(
    server_url: str,
    *,
    settings: Settings | None = None,
    docs: SchemaDocs | None = None,
    named: NamedQueries | None = None,
) -> dict[str, Any]:
    """The OpenAPI 3.1 document for a gateway reached at `server_url`: runQuery (unless
    `settings.free_sql` is off), getSchema, and the `named` queries."""
    free_sql = settings is None or settings.free_sql
    operations = {"runQuery": _run_query(), "getSchema": _get_schema()}
    paths: dict[str, Any] = {
        endpoint.path: {endpoint.method.lower(): operations[endpoint.operation]}
        for endpoint in ENDPOINTS
        if endpoint.operation is not None and (free_sql or endpoint.operation != "runQuery")
    }
    for query in named or ():
        responses = _query_responses(unprocessable=False)
        paths[named_path(query.name)] = {"post": named_operation(query, responses)}
    schemes = security_schemes(settings)
    description = describe_data(docs, named=bool(named), free_sql=free_sql)
    return {
        "openapi": "3.1.0",
        "info": {"title": "sqlgateway", "version": __version__, "description": description},
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {"securitySchemes": schemes, "schemas": _schemas()},
        "security": [
            {name: list(settings.oauth_scopes) if settings and scheme["type"] == "oauth2" else []}
            for name, scheme in schemes.items()
        ],
    }


def render_yaml(spec: dict[str, Any]) -> str:
    text: str = yaml.safe_dump(spec, sort_keys=False, allow_unicode=True, width=100)
    return text
