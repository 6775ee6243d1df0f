"""The identity provider's signing keys (a JWKS), fetched, cached and refreshed with care.

Keys are fetched over HTTP(S), or read from disk for a `file://` URL (the local key set of
`sqlgateway dev-token`), and used for SQLGATEWAY_OAUTH_JWKS_CACHE_S seconds. A token whose
`kid` is not in the set triggers one early refetch (the provider may have rotated its keys),
but at most once per SQLGATEWAY_OAUTH_JWKS_MIN_REFRESH_S: `kid` is chosen by whoever sends
the token, so without that bound random kids would turn every request into a fetch. Fetches
are serialized by one lock, and whoever waited on it reuses the fetch that just finished
instead of starting another. A failed refresh keeps the old keys while they are within their
cache life; with no usable keys left the caller gets 503, not 401: the token may be fine.

Only public signature keys are kept: a member with `use` other than `sig`, `key_ops` without
`verify`, private parameters, an unsupported `kty`, or one PyJWT cannot parse is skipped.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

import httpx2
import jwt

from sqlgateway.errors import UnavailableError

logger = logging.getLogger("sqlgateway")

#: Key types with a public key; `oct` (HMAC secrets) never belongs in a JWKS we trust.
PUBLIC_KEY_TYPES = frozenset({"RSA", "EC", "OKP"})
#: The curve each ECDSA algorithm is defined on (RFC 7518 §3.4).
EC_CURVES = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
#: Edwards curves EdDSA is defined on (RFC 8037).
OKP_CURVES = frozenset({"Ed25519", "Ed448"})
#: Private JWK members (RFC 7518 §6): a key set carrying them is a mistake we do not use.
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
#: Largest key set accepted; real ones are a few kilobytes.
MAX_JWKS_BYTES = 1_000_000
#: Least time between two attempts while no usable keys are cached and the provider fails.
FAILED_FETCH_BACKOFF_S = 5.0


class JwksError(ValueError):
    """The key set could not be read or holds no usable signature key."""


@dataclass(frozen=True, slots=True)
class Jwk:
    """One public signature key of the set, as published (`data`), and its PyJWT form for
    each algorithm it was used with (a PyJWK is bound to one algorithm)."""

    kid: str | None
    kty: str
    crv: str | None
    alg: str | None
    data: Mapping[str, Any]
    _verifiers: dict[str, jwt.PyJWK] = field(default_factory=dict, compare=False, repr=False)

    def fits(self, alg: str) -> bool:
        """Whether this key may verify a signature made with `alg`: the key type (and curve)
        must be the algorithm's, and a key that names its algorithm allows only that one."""
        if self.alg is not None and self.alg != alg:
            return False
        if alg.startswith(("RS", "PS")):
            return self.kty == "RSA"
        if alg in EC_CURVES:
            return self.kty == "EC" and self.crv == EC_CURVES[alg]
        if alg == "EdDSA":
            return self.kty == "OKP" and self.crv in OKP_CURVES
        return False

    def verifier(self, alg: str) -> jwt.PyJWK:
        """The key bound to `alg`, for `jwt.decode`; call only when `fits(alg)`."""
        if not self.fits(alg):
            raise ValueError(f"key does not fit {alg}")
        if alg not in self._verifiers:
            self._verifiers[alg] = jwt.PyJWK(dict(self.data), algorithm=alg)
        return self._verifiers[alg]


def parse_jwks(document: object) -> tuple[Jwk, ...]:
    """The usable public signature keys of a JWKS document; JwksError if there are none."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise JwksError("not a JWKS document (an object with a `keys` array)")
    keys = tuple(key for member in document["keys"] if (key := _parse_key(member)) is not None)
    if not keys:
        raise JwksError("the key set holds no usable public signature key")
    return keys


def _parse_key(member: object) -> Jwk | None:
    if not isinstance(member, dict):
        return None
    kty, kid, alg, crv = (member.get(name) for name in ("kty", "kid", "alg", "crv"))
    ops = member.get("key_ops")
    if (
        kty not in PUBLIC_KEY_TYPES
        or member.get("use", "sig") != "sig"
        or (ops is not None and (not isinstance(ops, list) or "verify" not in ops))
        or PRIVATE_MEMBERS & member.keys()
        or not all(value is None or isinstance(value, str) for value in (kid, alg, crv))
    ):
        return None
    try:
        jwt.PyJWK(member)  # parses the key material; checks `alg` is one PyJWT knows
    except (jwt.PyJWTError, ValueError, TypeError):
        return None
    return Jwk(kid=kid, kty=kty, crv=crv, alg=alg, data=dict(member))


class JwksCache:
    """The key set at `url`, refreshed as the module docstring says. `clock` gives seconds
    (injectable so tests can move time)."""

    def __init__(
        self,
        url: str,
        *,
        http: httpx2.AsyncClient,
        cache_s: float,
        min_refresh_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._url = url
        self._http = http
        self._cache_s = cache_s
        self._min_refresh_s = min_refresh_s
        self._clock = clock
        self._keys: tuple[Jwk, ...] = ()
        self._fetched_at: float | None = None  # last successful fetch
        self._attempted_at: float | None = None  # last fetch, successful or not
        self._attempts = 0  # finished fetches: lets lock waiters see one just happened
        self._lock = asyncio.Lock()

    async def find(self, kid: str | None) -> tuple[Jwk, ...]:
        """The keys with this `kid` (all keys if `kid` is None), refetching the set once if
        the kid is unknown and the refresh interval allows. UnavailableError when no
        usable keys can be had."""
        if not self._fresh():
            backoff_s = self._backoff_s()
            if backoff_s > 0:
                raise _unreachable(backoff_s)
            await self._refresh()
            if not self._fresh():
                raise _unreachable(FAILED_FETCH_BACKOFF_S)
        matches = self._matching(kid)
        if kid is not None and not matches and self._may_refresh_early():
            await self._refresh()
            matches = self._matching(kid)
        return matches

    def _matching(self, kid: str | None) -> tuple[Jwk, ...]:
        if kid is None:
            return self._keys
        return tuple(key for key in self._keys if key.kid == kid)

    def _fresh(self) -> bool:
        return self._fetched_at is not None and self._clock() < self._fetched_at + self._cache_s

    def _backoff_s(self) -> float:
        """Seconds to wait before trying again after the last fetch failed, else 0."""
        if self._attempted_at is None or self._attempted_at == self._fetched_at:
            return 0
        return self._attempted_at + FAILED_FETCH_BACKOFF_S - self._clock()

    def _may_refresh_early(self) -> bool:
        return (
            self._attempted_at is None or self._clock() - self._attempted_at >= self._min_refresh_s
        )

    async def _refresh(self) -> None:
        """Fetch the set unless a fetch finished while we waited for the lock."""
        attempts = self._attempts
        async with self._lock:
            if self._attempts != attempts:
                return
            started = self._clock()
            try:
                keys = parse_jwks(await self._fetch())
            except (httpx2.HTTPError, httpx2.InvalidURL, OSError, ValueError) as error:
                # the URL and the response body are operator data, never a caller's
                logger.warning("JWKS fetch failed: %s: %s", type(error).__name__, error)
            else:
                self._keys, self._fetched_at = keys, started
                logger.info("JWKS fetched: %d usable keys", len(keys))
            finally:
                self._attempted_at = started
                self._attempts += 1

    async def _fetch(self) -> object:
        url = urlparse(self._url)
        if url.scheme == "file":
            if url.netloc not in ("", "localhost"):
                raise JwksError("a file:// JWKS URL must name a local file")
            body = await asyncio.to_thread(Path(url2pathname(url.path)).read_bytes)
        else:
            response = await self._http.get(self._url, headers={"Accept": "application/json"})
            if response.status_code != 200:
                raise JwksError(f"HTTP {response.status_code} from the JWKS URL")
            body = response.content
        if len(body) > MAX_JWKS_BYTES:
            raise JwksError(f"key set larger than {MAX_JWKS_BYTES} bytes")
        return json.loads(body)


def _unreachable(retry_after_s: float) -> UnavailableError:
    return UnavailableError(
        "identity provider unreachable", retry_after_s=max(1, math.ceil(retry_after_s))
    )
