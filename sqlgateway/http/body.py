"""Reading a request body without ever holding more than the limit in memory."""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from sqlgateway.errors import InvalidRequestError, PayloadTooLargeError

M = TypeVar("M", bound=BaseModel)


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The body, or PayloadTooLargeError as soon as it is known to exceed `max_bytes`.

    A declared Content-Length over the limit is refused before a byte is read; a body without
    one (chunked) is counted while it arrives."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            length = int(declared)
        except ValueError:
            raise InvalidRequestError("Content-Length is not a number", status_code=400) from None
        if length > max_bytes:
            raise _too_large(max_bytes, length)
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > max_bytes:
            raise _too_large(max_bytes, None)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(max_bytes: int, length: int | None) -> PayloadTooLargeError:
    size = f" ({length} bytes)" if length is not None else ""
    return PayloadTooLargeError(
        f"the request body{size} is over SQLGATEWAY_MAX_REQUEST_CHARS={max_bytes}",
        hint="send a shorter SQL statement",
    )


def parse_json_body(raw: bytes, model: type[M]) -> M:
    """`raw` as JSON validated against `model`; InvalidRequestError says what is wrong."""
    return validated(load_json(raw, hint='send a JSON object such as {"sql": "SELECT 1"}'), model)


def load_json(raw: bytes, *, hint: str) -> Any:
    """`raw` decoded as JSON; InvalidRequestError (400) naming the problem, and `hint`."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise InvalidRequestError(
            f"the body is not valid JSON: {error}", status_code=400, hint=hint
        ) from None


def validated(data: Any, model: type[M], hint: str = 'send {"sql": "SELECT …"}') -> M:
    """Decoded JSON `data` (a body, or an MCP tool's arguments) validated against `model`;
    InvalidRequestError names every field that is wrong."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in error.errors()
        )
        raise InvalidRequestError(f"invalid request: {problems}", hint=hint) from None
