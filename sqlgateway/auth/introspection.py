"""RFC 7662 token introspection, for opaque access tokens the gateway cannot verify itself.

The provider is asked `POST token=…&token_type_hint=access_token` with the gateway's client
credentials (HTTP Basic). Its answer must say `active: true`; `iss` and `aud`, when present,
must be ours, and `exp`/`nbf` are honoured like a JWT's (with the same leeway).

Answers are cached under SHA-256 of the token, never the token: a positive one until the
token expires or SQLGATEWAY_OAUTH_INTROSPECTION_CACHE_S passes, whichever is first; a negative
one for NEGATIVE_CACHE_S, so a caller repeating a bad token cannot make us ask the provider
on every request. Both caches are bounded and drop their oldest entry when full. The price of
caching is that a revoked token is honoured for up to the positive cache time; set it to 0
to ask on every request.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx2

from sqlgateway.errors import UnavailableError

logger = logging.getLogger("sqlgateway")

#: Entries each cache holds before it drops its oldest.
MAX_CACHE_ENTRIES = 10_000
#: How long a refused token stays refused without asking the provider again, in seconds.
NEGATIVE_CACHE_S = 10.0
#: Retry-After sent while the provider cannot be reached.
RETRY_AFTER_S = 5


class TokenRejectedError(Exception):
    """The token is not acceptable; `reason` is for the audit log and never holds the token.
    The authenticator turns it into a 401 with an RFC 6750 challenge."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def token_digest(token: str) -> bytes:
    """The cache key of `token`: keeping the hash, not the token, means a memory dump or a
    debugger shows no usable credential."""
    return hashlib.sha256(token.encode()).digest()


class _BoundedCache:
    """digest → (valid until, value); insertion-ordered so the oldest entry goes first."""

    def __init__(self, max_entries: int) -> None:
        self._max_entries = max_entries
        self._entries: dict[bytes, tuple[float, Any]] = {}

    def get(self, digest: bytes, now: float) -> Any | None:
        entry = self._entries.get(digest)
        if entry is None:
            return None
        if now >= entry[0]:
            del self._entries[digest]
            return None
        return entry[1]

    def put(self, digest: bytes, until: float, value: Any) -> None:
        self._entries.pop(digest, None)
        while len(self._entries) >= self._max_entries:
            del self._entries[next(iter(self._entries))]
        self._entries[digest] = (until, value)

    def __len__(self) -> int:
        return len(self._entries)


class Introspector:
    """Asks the RFC 7662 endpoint at `url` about tokens and checks its answers."""

    def __init__(
        self,
        url: str,
        *,
        client_id: str,
        client_secret: str,
        issuer: str,
        audience: str,
        http: httpx2.AsyncClient,
        cache_s: float,
        leeway_s: float = 0,
        clock: Callable[[], float] = time.time,
        max_entries: int = MAX_CACHE_ENTRIES,
    ) -> None:
        self._url = url
        self._auth = httpx2.BasicAuth(client_id, client_secret)
        self._issuer = issuer
        self._audience = audience
        self._http = http
        self._cache_s = cache_s
        self._leeway_s = leeway_s
        self._clock = clock
        self._active = _BoundedCache(max_entries)
        self._refused = _BoundedCache(max_entries)

    @property
    def cached_entries(self) -> int:
        """Entries in both caches (for tests and metrics)."""
        return len(self._active) + len(self._refused)

    async def introspect(self, token: str) -> Mapping[str, Any]:
        """The provider's claims about an active, acceptable `token`; TokenRejectedError if
        it is not, UnavailableError if the provider cannot answer."""
        digest, now = token_digest(token), self._clock()
        if (claims := self._active.get(digest, now)) is not None:
            return dict(claims)
        if (reason := self._refused.get(digest, now)) is not None:
            raise TokenRejectedError(reason)
        try:
            answer = await self._ask(token)
            until = self._check(answer, now)
        except TokenRejectedError as error:
            self._refused.put(digest, now + NEGATIVE_CACHE_S, error.reason)
            raise
        if until > now:
            self._active.put(digest, until, answer)
        return dict(answer)

    async def _ask(self, token: str) -> Mapping[str, Any]:
        try:
            response = await self._http.post(
                self._url,
                data={"token": token, "token_type_hint": "access_token"},
                auth=self._auth,
                headers={"Accept": "application/json"},
            )
        except (httpx2.HTTPError, httpx2.InvalidURL) as error:
            logger.warning("token introspection failed: %s", type(error).__name__)
            raise UnavailableError(
                "identity provider unreachable", retry_after_s=RETRY_AFTER_S
            ) from None
        if response.status_code >= 500 or response.status_code == 429:
            logger.warning("token introspection answered HTTP %d", response.status_code)
            raise UnavailableError("identity provider unreachable", retry_after_s=RETRY_AFTER_S)
        if response.status_code != 200:
            # RFC 7662 answers 200 `active: false` for a bad token, so this is most likely
            # about our client credentials: tell the operator
            logger.warning("token introspection refused: HTTP %d", response.status_code)
            raise TokenRejectedError(f"introspection unavailable (HTTP {response.status_code})")
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            logger.warning("token introspection answered something other than a JSON object")
            raise UnavailableError("identity provider unreachable", retry_after_s=RETRY_AFTER_S)
        return answer

    def _check(self, answer: Mapping[str, Any], now: float) -> float:
        """Refuse an answer we may not accept; else the time until which it may be reused."""
        if answer.get("active") is not True:
            raise TokenRejectedError("inactive token")
        if answer.get("token_type") == "refresh_token":
            raise TokenRejectedError("not an access token")
        if "iss" in answer and answer["iss"] != self._issuer:
            raise TokenRejectedError("wrong issuer")
        audience = answer.get("aud")
        audiences = [audience] if isinstance(audience, str) else audience
        if audience is not None and (
            not isinstance(audiences, list) or self._audience not in audiences
        ):
            raise TokenRejectedError("wrong audience")
        until = now + self._cache_s
        exp, nbf = answer.get("exp"), answer.get("nbf")
        if exp is not None:
            if not _is_number(exp):
                raise TokenRejectedError("malformed exp claim")
            if exp <= now - self._leeway_s:
                raise TokenRejectedError("expired")
            until = min(until, exp)
        if nbf is not None and (not _is_number(nbf) or nbf > now + self._leeway_s):
            raise TokenRejectedError("not yet valid")
        return until


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
