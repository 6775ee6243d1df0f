"""API keys: named, configured only as SHA-256 hashes, compared in constant time.

A key is accepted as `Authorization: Bearer <key>`, as the password of `Authorization: Basic`
(any user name), or in the configured custom header (the GPT editor's "Custom" option).

Keys are random 32-byte secrets (`sqlgateway hash-key` makes them), so a fast hash is the
right one: there is nothing to brute-force that a slow KDF would protect, and a slow one
would cost every request. The offered key is hashed once, then compared with
`hmac.compare_digest` against every configured hash, so the time taken does not depend on
which key, if any, matched.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Sequence

from pydantic import SecretStr
from starlette.datastructures import Headers

from sqlgateway.auth import REALM, Identity
from sqlgateway.errors import UnauthorizedError

#: Shortest key `hash-key` accepts: keys must be random secrets, not passwords.
MIN_KEY_CHARS = 24

_CHALLENGE = f'Bearer realm="{REALM}"'


def new_key() -> str:
    """A fresh random key (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    """`sha256:<hex>` of `key`, the form SQLGATEWAY_API_KEYS holds."""
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def key_entry(name: str, key: str) -> str:
    """The SQLGATEWAY_API_KEYS entry for `key` under `name`."""
    return f"{name}:{hash_key(key)}"


class ApiKeyAuthenticator:
    mode = "api_key"

    def __init__(self, entries: Sequence[SecretStr], *, header: str | None = None) -> None:
        if not entries:
            raise ValueError("at least one API key is required (SQLGATEWAY_API_KEYS)")
        self._hashes: list[tuple[str, bytes]] = []
        for entry in entries:
            name, _, digest = entry.get_secret_value().partition(":")
            self._hashes.append((name, bytes.fromhex(digest.removeprefix("sha256:"))))
        self._header = header.lower() if header else None

    async def authenticate(self, headers: Headers) -> Identity:
        return Identity(actor=self.actor_for(self._offered(headers)), auth_mode=self.mode)

    async def aclose(self) -> None:
        return None

    def actor_for(self, key: str) -> str:
        """The name of the configured key equal to `key`, else UnauthorizedError."""
        offered = hashlib.sha256(key.encode()).digest()
        actor: str | None = None
        for name, digest in self._hashes:  # every hash, whatever matched
            if hmac.compare_digest(offered, digest) and actor is None:
                actor = name
        if actor is None:
            raise UnauthorizedError(
                "invalid API key",
                challenge=f'{_CHALLENGE}, error="invalid_token"',
                reason="unknown API key",
            )
        return actor

    def _offered(self, headers: Headers) -> str:
        if self._header is not None and (custom := headers.get(self._header)):
            return custom.strip()
        authorization = headers.get("authorization")
        if not authorization:
            raise UnauthorizedError(
                f"missing credentials: send the API key as 'Authorization: Bearer <key>'"
                f"{self._also()}",
                challenge=_CHALLENGE,
                reason="no credentials",
            )
        scheme, _, credential = authorization.strip().partition(" ")
        credential = credential.strip()
        if scheme.lower() == "bearer" and credential:
            return credential
        if scheme.lower() == "basic" and credential:
            try:
                decoded = base64.b64decode(credential, validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                decoded = ""
            _, colon, password = decoded.partition(":")
            if colon and password:
                return password
        raise UnauthorizedError(
            f"unsupported credentials: send the API key as 'Authorization: Bearer <key>'"
            f"{self._also()}",
            challenge=f'{_CHALLENGE}, error="invalid_request"',
            reason=f"unsupported authorization scheme {scheme[:20]!r}",
        )

    def _also(self) -> str:
        basic = ", as the password of Basic auth"
        return f"{basic} or in the {self._header} header" if self._header else basic
