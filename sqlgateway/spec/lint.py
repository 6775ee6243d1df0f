"""Checks an action schema against what the GPT action platform accepts and what we promise.

Pure. `lint_spec` returns the problems, one line each (empty: none):

- every operation has a unique operationId of letters, digits, ``_`` and ``-``;
- summary and description are present and at most 300 characters;
- every parameter and every request-body property has a description of at most 700
  characters (``$ref`` schemas are followed);
- every operation says ``x-openai-isConsequential: false`` (the gateway only reads);
- at most 30 operations (the editor imports no more);
- ``servers[0].url`` exists.
"""

from __future__ import annotations

import re
from typing import Any

MAX_OPERATIONS = 30
MAX_OPERATION_TEXT_CHARS = 300
MAX_FIELD_DESCRIPTION_CHARS = 700
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_OPERATION_ID = re.compile(r"^[A-Za-z0-9_-]+$")


def lint_spec(spec: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    servers = spec.get("servers") or []
    if not servers or not isinstance(servers[0], dict) or not servers[0].get("url"):
        problems.append("servers[0].url is missing")
    seen: dict[str, str] = {}
    count = 0
    for path, item in (spec.get("paths") or {}).items():
        for method in METHODS:
            operation = (item or {}).get(method)
            if isinstance(operation, dict):
                count += 1
                where = f"{method.upper()} {path}"
                problems.extend(_operation(where, operation, seen))
                problems.extend(_parameters(where, spec, operation, item))
                problems.extend(_request_body(where, spec, operation))
    if count > MAX_OPERATIONS:
        problems.append(f"{count} operations (the GPT editor imports at most {MAX_OPERATIONS})")
    return problems


def _operation(where: str, operation: dict[str, Any], seen: dict[str, str]) -> list[str]:
    problems = []
    operation_id = operation.get("operationId")
    if not operation_id:
        problems.append(f"{where}: no operationId")
    elif not _OPERATION_ID.match(str(operation_id)):
        problems.append(
            f"{where}: operationId {operation_id!r} has characters other than "
            "letters, digits, _ and -"
        )
    elif operation_id in seen:
        problems.append(
            f"{where}: operationId {operation_id!r} is also used by {seen[operation_id]}"
        )
    else:
        seen[str(operation_id)] = where
    for field in ("summary", "description"):
        text = operation.get(field)
        if not text:
            problems.append(f"{where}: no {field}")
        elif len(str(text)) > MAX_OPERATION_TEXT_CHARS:
            problems.append(
                f"{where}: {field} has {len(str(text))} characters "
                f"(at most {MAX_OPERATION_TEXT_CHARS})"
            )
    if operation.get("x-openai-isConsequential") is not False:
        problems.append(f"{where}: x-openai-isConsequential must be false (the gateway only reads)")
    return problems


def _resolve(spec: dict[str, Any], node: Any) -> Any:
    """`node` with local ``$ref``s followed (a bounded number of times)."""
    for _ in range(16):
        if not (isinstance(node, dict) and isinstance(node.get("$ref"), str)):
            return node
        target: Any = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target.get(part) if isinstance(target, dict) else None
        node = target
    return node


def _described(where: str, what: str, description: Any) -> list[str]:
    if not description:
        return [f"{where}: {what} has no description"]
    if len(str(description)) > MAX_FIELD_DESCRIPTION_CHARS:
        return [
            f"{where}: {what} description has {len(str(description))} characters "
            f"(at most {MAX_FIELD_DESCRIPTION_CHARS})"
        ]
    return []


def _parameters(
    where: str, spec: dict[str, Any], operation: dict[str, Any], item: dict[str, Any]
) -> list[str]:
    problems = []
    for raw in [*(item.get("parameters") or []), *(operation.get("parameters") or [])]:
        parameter = _resolve(spec, raw) or {}
        name = parameter.get("name", "?")
        problems.extend(_described(where, f"parameter {name}", parameter.get("description")))
    return problems


def _request_body(where: str, spec: dict[str, Any], operation: dict[str, Any]) -> list[str]:
    body = _resolve(spec, operation.get("requestBody")) or {}
    problems = []
    for media in (body.get("content") or {}).values():
        schema = _resolve(spec, (media or {}).get("schema")) or {}
        for name, prop in (schema.get("properties") or {}).items():
            prop = _resolve(spec, prop) or {}
            problems.extend(_described(where, f"request property {name}", prop.get("description")))
    return problems
