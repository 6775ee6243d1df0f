"""Who is asking: API keys sent as `Authorization: Bearer <key>`.

Keys are compared in constant time (hmac.compare_digest against every configured key, so the
time taken does not depend on which key, if any, matched)."""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from pydantic import SecretStr

from sqlgateway.errors import UnauthorizedError

_CHALLENGE = 'Bearer realm="sqlgateway"'


class ApiKeyAuthenticator:
    def __init__(self, keys: Sequence[SecretStr]) -> None:
        if not keys:
            raise ValueError("at least one API key is required")
        self._keys = [
            (f"key{i + 1}", key.get_secret_value().encode()) for i, key in enumerate(keys)
        ]

    def authenticate(self, authorization: str | None) -> str:
        """The actor name for a valid `Authorization` header value, else UnauthorizedError."""
        if not authorization:
            raise UnauthorizedError(
                "missing credentials: send the API key as 'Authorization: Bearer <key>'",
                challenge=_CHALLENGE,
            )
        scheme, _, credential = authorization.partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            raise UnauthorizedError(
                "unsupported credentials: send the API key as 'Authorization: Bearer <key>'",
                challenge=f'{_CHALLENGE}, error="invalid_request"',
            )
        offered = credential.strip().encode()
        actor: str | None = None
        for name, key in self._keys:
            if hmac.compare_digest(offered, key) and actor is None:
                actor = name
        if actor is None:
            raise UnauthorizedError(
                "invalid API key", challenge=f'{_CHALLENGE}, error="invalid_token"'
            )
        return actor
