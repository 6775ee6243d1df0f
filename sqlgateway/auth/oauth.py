"""OAuth 2.0 bearer access tokens (SQLGATEWAY_AUTH=oauth), as a GPT action sends them.

A token that looks like a JWT (three dot-separated parts) is verified here against the
provider's JWKS (jwks.py) when SQLGATEWAY_OAUTH_JWKS_URL is set; any other token goes to RFC
7662 introspection (introspection.py) when SQLGATEWAY_OAUTH_INTROSPECTION_URL is set.

JWT verification refuses algorithm confusion before it touches a key: the header's `alg`
must be on the configured allowlist, which never holds `none` or HMAC (an HS256 token "signed"
with an RSA public key must not verify), and the key chosen by `kid` must be of that
algorithm's type and curve, and name no other algorithm. Then PyJWT checks the signature,
`exp`/`nbf`/`iat` (with SQLGATEWAY_OAUTH_LEEWAY_S, against the system clock), `iss` and `aud`.

Every refusal is a 401 with one generic message and an RFC 6750 challenge, so a caller learns
nothing about which check failed; the specific reason ("expired", "unknown kid", …) goes to
the audit log only. No message, reason or log line holds the token or any part of it. A valid
token without SQLGATEWAY_OAUTH_REQUIRED_SCOPES gets 403 (`insufficient_scope`); an identity
provider we cannot reach gets 503: the caller's token may well be fine.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx2
import jwt
import jwt.exceptions
from starlette.datastructures import Headers

from sqlgateway.auth import REALM, Identity
from sqlgateway.auth.introspection import Introspector, TokenRejectedError
from sqlgateway.auth.jwks import JwksCache
from sqlgateway.auth.resource_metadata import metadata_url
from sqlgateway.errors import ForbiddenError, UnauthorizedError
from sqlgateway.settings import ASYMMETRIC_ALGORITHMS, Settings

#: Timeout of each call to the identity provider (JWKS, introspection), in seconds.
HTTP_TIMEOUT_S = 5.0
#: Longest token accepted; real access tokens are a few kilobytes at most.
MAX_TOKEN_CHARS = 16_384
#: What every refused token is told, whatever the reason.
INVALID_TOKEN_MESSAGE = "invalid or expired access token"
#: Claims a JWT access token must carry (RFC 9068 §2.2); the actor claim is checked apart.
REQUIRED_CLAIMS = ("exp", "iss", "aud")

_CHALLENGE = f'Bearer realm="{REALM}"'
#: RFC 6750 §2.1 `b64token`.
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
#: PyJWT exception → audit reason; the first match wins (InvalidSignatureError is a DecodeError).
_JWT_REASONS: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.ExpiredSignatureError, "expired"),
    (jwt.ImmatureSignatureError, "not yet valid"),
    (jwt.InvalidIssuerError, "wrong issuer"),
    (jwt.InvalidAudienceError, "wrong audience"),
    (jwt.InvalidSignatureError, "bad signature"),
    (jwt.InvalidAlgorithmError, "algorithm not allowed"),
    (jwt.InvalidKeyError, "unusable key (e.g. RSA shorter than 2048 bits)"),
    (jwt.InvalidIssuedAtError, "malformed iat claim"),
    (jwt.exceptions.InvalidSubjectError, "malformed sub claim"),
    (jwt.exceptions.InvalidJTIError, "malformed jti claim"),
    (jwt.DecodeError, "malformed token"),
)


def invalid_token(reason: str) -> UnauthorizedError:
    """The one 401 every refused token gets; `reason` is for the audit log."""
    return UnauthorizedError(
        INVALID_TOKEN_MESSAGE, challenge=f'{_CHALLENGE}, error="invalid_token"', reason=reason
    )


def bearer_token(headers: Headers) -> str:
    """The token of the one `Authorization: Bearer <token>` header, else UnauthorizedError
    (no error attribute when there are no credentials at all, RFC 6750 §3.1)."""
    values = [value.strip() for value in headers.getlist("authorization")]
    if not any(values):
        raise UnauthorizedError(
            "missing access token: send 'Authorization: Bearer <token>'",
            challenge=_CHALLENGE,
            reason="no credentials",
        )
    scheme, _, token = values[0].partition(" ")
    token = token.strip()
    if len(values) > 1:
        reason = "several Authorization headers"
    elif scheme.lower() != "bearer":
        reason = "authorization scheme is not Bearer"
    elif len(token) > MAX_TOKEN_CHARS:
        reason = f"token longer than {MAX_TOKEN_CHARS} characters"
    elif not _B64TOKEN.fullmatch(token):
        reason = "malformed bearer token"
    else:
        return token
    raise UnauthorizedError(
        "malformed Authorization header: send 'Authorization: Bearer <token>'",
        challenge=f'{_CHALLENGE}, error="invalid_request"',
        reason=reason,
    )


def granted_scopes(claims: Mapping[str, Any]) -> frozenset[str]:
    """Scopes of `scope` (RFC 8693: space-separated) and `scp` (a list, or a string, as
    some providers send it)."""
    granted: set[str] = set()
    for name in ("scope", "scp"):
        value = claims.get(name)
        if isinstance(value, str):
            granted.update(value.split())
        elif isinstance(value, list):
            granted.update(item for item in value if isinstance(item, str))
    return frozenset(granted)


def _jwt_reason(error: jwt.PyJWTError) -> str:
    if isinstance(error, jwt.MissingRequiredClaimError):
        return f"missing {error.claim} claim"  # a name from REQUIRED_CLAIMS, not token data
    return next((reason for kind, reason in _JWT_REASONS if isinstance(error, kind)), "invalid")


class OAuthAuthenticator:
    """Bearer access tokens, verified as the module docstring says. `http` is the client for
    the provider (one is made, and closed by `aclose`, when not given); `clock` gives the
    seconds the JWKS and introspection caches and introspection's `exp` are measured in."""

    mode = "oauth"

    def __init__(
        self,
        settings: Settings,
        *,
        http: httpx2.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not (settings.oauth_issuer and settings.oauth_audience):
            raise ValueError("OAuth needs SQLGATEWAY_OAUTH_ISSUER and SQLGATEWAY_OAUTH_AUDIENCE")
        self._algorithms = tuple(
            alg
            for alg in settings.oauth_algorithms
            if alg in ASYMMETRIC_ALGORITHMS and not _symmetric_or_none(alg)
        )
        if not self._algorithms:
            raise ValueError("SQLGATEWAY_OAUTH_ALGORITHMS holds no public-key algorithm")
        self._issuer = settings.oauth_issuer
        self._audience = settings.oauth_audience
        self._leeway_s = settings.oauth_leeway_s
        self._actor_claim = settings.oauth_actor_claim
        self._required_scopes = settings.oauth_required_scopes
        self._metadata_url = metadata_url(settings)
        self._owns_http = http is None
        self._http = http if http is not None else httpx2.AsyncClient(timeout=HTTP_TIMEOUT_S)
        self._jwks: JwksCache | None = None
        self._introspector: Introspector | None = None
        if settings.oauth_jwks_url:
            self._jwks = JwksCache(
                settings.oauth_jwks_url,
                http=self._http,
                cache_s=settings.oauth_jwks_cache_s,
                min_refresh_s=settings.oauth_jwks_min_refresh_s,
                clock=clock,
            )
        if settings.oauth_introspection_url:
            self._introspector = self._make_introspector(settings, clock)
        if self._jwks is None and self._introspector is None:
            raise ValueError(
                "OAuth needs SQLGATEWAY_OAUTH_JWKS_URL or SQLGATEWAY_OAUTH_INTROSPECTION_URL"
            )

    def _make_introspector(self, settings: Settings, clock: Callable[[], float]) -> Introspector:
        if not (settings.oauth_introspection_url and settings.oauth_client_id):
            raise ValueError("introspection needs SQLGATEWAY_OAUTH_CLIENT_ID")
        if settings.oauth_client_secret is None:
            raise ValueError("introspection needs SQLGATEWAY_OAUTH_CLIENT_SECRET")
        return Introspector(
            settings.oauth_introspection_url,
            client_id=settings.oauth_client_id,
            client_secret=settings.oauth_client_secret.get_secret_value(),
            issuer=self._issuer,
            audience=self._audience,
            http=self._http,
            cache_s=settings.oauth_introspection_cache_s,
            leeway_s=settings.oauth_leeway_s,
            clock=clock,
        )

    async def authenticate(self, headers: Headers) -> Identity:
        """The caller's identity; every refusal's challenge names the protected resource
        metadata (RFC 9728 §5.1), where MCP clients find the provider to sign in with."""
        try:
            return await self._identity(headers)
        except (UnauthorizedError, ForbiddenError) as error:
            challenge = error.headers.get("WWW-Authenticate")
            if challenge is not None:
                error.headers["WWW-Authenticate"] = (
                    f'{challenge}, resource_metadata="{self._metadata_url}"'
                )
            raise

    async def _identity(self, headers: Headers) -> Identity:
        claims = await self._claims(bearer_token(headers))
        actor = claims.get(self._actor_claim)
        if not isinstance(actor, str) or not actor.strip():
            raise invalid_token("missing actor claim")
        missing = [scope for scope in self._required_scopes if scope not in granted_scopes(claims)]
        if missing:
            needed = " ".join(self._required_scopes)
            raise ForbiddenError(
                f"the access token lacks the required scope {', '.join(missing)}",
                headers={
                    "WWW-Authenticate": f'{_CHALLENGE}, error="insufficient_scope", '
                    f'scope="{needed}"'
                },
            )
        return Identity(actor=actor, auth_mode=self.mode, claims=claims)

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def _claims(self, token: str) -> dict[str, Any]:
        if token.count(".") == 2 and self._jwks is not None:
            return await self._verify_jwt(token, self._jwks)
        if self._introspector is not None:
            try:
                return dict(await self._introspector.introspect(token))
            except TokenRejectedError as error:
                raise invalid_token(error.reason) from None
        raise invalid_token("not a JWT, and no introspection endpoint is configured")

    async def _verify_jwt(self, token: str, jwks: JwksCache) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise invalid_token("malformed token") from None
        alg, kid = header.get("alg"), header.get("kid")
        if not isinstance(alg, str) or _symmetric_or_none(alg) or alg not in self._algorithms:
            raise invalid_token("algorithm not allowed")
        if kid is not None and not isinstance(kid, str):
            raise invalid_token("malformed token")
        key = await self._key(jwks, alg, kid)
        try:
            return jwt.decode(
                token,
                key,
                algorithms=list(self._algorithms),
                issuer=self._issuer,
                audience=self._audience,
                leeway=self._leeway_s,
                options={"require": list(REQUIRED_CLAIMS), "enforce_minimum_key_length": True},
            )
        except jwt.PyJWTError as error:
            raise invalid_token(_jwt_reason(error)) from None

    async def _key(self, jwks: JwksCache, alg: str, kid: str | None) -> jwt.PyJWK:
        """The key `kid` names (the only fitting key when there is no kid), if it fits `alg`."""
        keys = await jwks.find(kid)
        if kid is not None and not keys:
            raise invalid_token("unknown kid")
        fitting = [key for key in keys if key.fits(alg)]
        if not fitting:
            raise invalid_token("key does not match algorithm" if kid else "no key for algorithm")
        if kid is None and len(fitting) > 1:
            raise invalid_token("no kid, and several keys could have signed")
        try:
            return fitting[0].verifier(alg)
        except (jwt.PyJWTError, ValueError):
            raise invalid_token("unusable key") from None


def _symmetric_or_none(alg: str) -> bool:
    """`none` and HMAC: refused whatever the allowlist says (the settings refuse them too)."""
    return alg.lower() == "none" or alg.upper().startswith("HS")
