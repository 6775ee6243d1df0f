"""The action schema: built from code, served at /openapi.yaml and /openapi.json.

`openapi.yaml` at the repository root is this spec rendered for the default URL; a test keeps
the two identical (`sqlgateway openapi > openapi.yaml` regenerates it)."""

from __future__ import annotations

from typing import Any

import orjson
import yaml
from starlette.requests import Request
from starlette.responses import Response

from sqlgateway import __version__
from sqlgateway.services import Services

ERROR_CODES = (
    "rejected",
    "syntax_error",
    "query_error",
    "timeout",
    "invalid_request",
    "payload_too_large",
    "unauthorized",
    "not_found",
    "method_not_allowed",
    "unavailable",
    "internal_error",
)

_DESCRIPTION = (
    "Read-only SQL access to a PostgreSQL database (the demo holds an insurer's policyholders, "
    "policies, claims with their status history, adjusters and payments). Send one SELECT "
    "statement; the answer is raw rows as JSON, cut to fit the response limit."
)


def _error_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def build_spec(server_url: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "sqlgateway", "version": __version__, "description": _DESCRIPTION},
        "servers": [{"url": server_url}],
        "paths": {
            "/query": {
                "post": {
                    "operationId": "runQuery",
                    "summary": "Run one read-only SQL query",
                    "description": (
                        "Runs one PostgreSQL SELECT (or WITH/VALUES/TABLE) read-only and returns "
                        "columns and rows as arrays. If truncated is true, narrow or aggregate "
                        "the query. Errors carry a code, a message and often a hint to fix the SQL."
                    ),
                    "x-openai-isConsequential": False,
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/QueryRequest"},
                                "example": {
                                    "sql": "SELECT status, count(*) FROM claims GROUP BY status"
                                },
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "The rows, cut to the response limit.",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/QueryResult"}
                                }
                            },
                        },
                        "400": _error_response("Refused, syntax error or PostgreSQL error."),
                        "401": _error_response("Missing or invalid API key."),
                        "413": _error_response("Request body too large."),
                        "422": _error_response("Body does not match the schema."),
                        "503": _error_response("Database unavailable; retry shortly."),
                        "504": _error_response("Query ran longer than the statement timeout."),
                    },
                }
            },
            "/healthz": {
                "get": {
                    "operationId": "getHealth",
                    "summary": "Liveness check",
                    "description": "Answers ok while the service runs; needs no credentials.",
                    "x-openai-isConsequential": False,
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "The service is up.",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {"status": {"type": "string"}},
                                        "required": ["status"],
                                    }
                                }
                            },
                        }
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "QueryRequest": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["sql"],
                    "properties": {
                        "sql": {
                            "type": "string",
                            "minLength": 1,
                            "description": (
                                "Exactly one PostgreSQL statement that only reads: SELECT, "
                                "WITH … SELECT, VALUES or TABLE. Writes, settings, locks and "
                                "system catalogs are refused. Prefer aggregates and WHERE "
                                "filters over fetching whole tables."
                            ),
                        },
                        "max_rows": {
                            "type": "integer",
                            "minimum": 1,
                            "description": "Return at most this many rows (can only lower the "
                            "server's limits).",
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
                    "required": [
                        "columns",
                        "rows",
                        "row_count",
                        "truncated",
                        "notice",
                        "elapsed_ms",
                    ],
                    "properties": {
                        "columns": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Column"},
                        },
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
                            "description": "How to narrow the query when truncated.",
                        },
                        "elapsed_ms": {"type": "number"},
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
                                "position": {"type": "integer"},
                            },
                        }
                    },
                },
            },
        },
        "security": [{"apiKey": []}],
    }


def render_yaml(spec: dict[str, Any]) -> str:
    text: str = yaml.safe_dump(spec, sort_keys=False, allow_unicode=True, width=100)
    return text


async def openapi_yaml(request: Request) -> Response:
    services: Services = request.state.services
    body = render_yaml(build_spec(services.settings.served_url))
    return Response(body, media_type="application/yaml")


async def openapi_json(request: Request) -> Response:
    services: Services = request.state.services
    return Response(
        orjson.dumps(build_spec(services.settings.served_url)), media_type="application/json"
    )
