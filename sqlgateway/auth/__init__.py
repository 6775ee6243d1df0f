"""Who is asking. One authenticator per app, chosen by SQLGATEWAY_AUTH:

- `none`: everyone is `anonymous` (loopback only unless explicitly allowed, see settings);
- `api_key`: named keys whose SHA-256 hashes are configured (api_keys.py);
- `oauth`: JWT access tokens checked against the provider's JWKS, or opaque tokens checked by
  RFC 7662 introspection (oauth.py).

Every authenticator turns request headers into an `Identity` or raises UnauthorizedError
(401, with a WWW-Authenticate challenge that says no more than RFC 6750 allows) or
ForbiddenError (403: valid identity, not allowed). Secrets never leave this package: not in
errors, not in the Identity, not in logs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from starlette.datastructures import Headers

REALM = "sqlgateway"


@dataclass(frozen=True, slots=True)
class Identity:
    """An authenticated caller. `claims` are the token's claims (OAuth) and feed per-user
    scoping; they never hold the token itself."""

    actor: str
    auth_mode: str
    claims: Mapping[str, Any] = field(default_factory=dict)


class Authenticator(Protocol):
    mode: str

    async def authenticate(self, headers: Headers) -> Identity: ...

    async def aclose(self) -> None: ...


class NoAuthenticator:
    """SQLGATEWAY_AUTH=none: every request is `anonymous`."""

    mode = "none"

    async def authenticate(self, headers: Headers) -> Identity:
        return Identity(actor="anonymous", auth_mode=self.mode)

    async def aclose(self) -> None:
        return None
