"""auth.oauth + auth.jwks: JWT access tokens verified against a JWKS served on 127.0.0.1,
refused with a generic 401 and a specific audit reason, never echoing the token."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import socket
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm
from loopback_http import Clock, LoopbackServer, QuietHandler
from starlette.datastructures import Headers

from sqlgateway.auth import Identity
from sqlgateway.auth.jwks import JwksError, parse_jwks
from sqlgateway.auth.oauth import INVALID_TOKEN_MESSAGE, OAuthAuthenticator
from sqlgateway.errors import ForbiddenError, UnauthorizedError, UnavailableError
from sqlgateway.settings import Settings

#: Every challenge names the protected resource metadata (RFC 9728), for MCP clients.
METADATA = ', resource_metadata="http://127.0.0.1:8000/.well-known/oauth-protected-resource"'

ISSUER = "https://idp.example.test/"
AUDIENCE = "sqlgateway-test"
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


class Provider:
    """A JWKS endpoint on 127.0.0.1 that counts its hits and fails on demand."""

    def __init__(self) -> None:
        self.jwks: dict[str, Any] = {"keys": []}
        self.status = 200
        self.hits = 0
        provider = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                provider.hits += 1
                self.reply(provider.status, json.dumps(provider.jwks).encode())

        self._server = LoopbackServer(Handler, "/jwks.json")
        self.url = self._server.url

    def close(self) -> None:
        self._server.close()


@pytest.fixture
def provider() -> Iterator[Provider]:
    served = Provider()
    yield served
    served.close()


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def ed_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


def public_jwk(key: PrivateKey, kid: str | None, **members: Any) -> dict[str, Any]:
    if isinstance(key, rsa.RSAPrivateKey):
        jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        jwk = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    else:
        jwk = OKPAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**jwk, **({"kid": kid} if kid else {}), "use": "sig", **members}


def claims(**changes: Any) -> dict[str, Any]:
    """Good claims, with `changes` applied (None removes a claim)."""
    now = int(time.time())
    base = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "iat": now, "exp": now + 300}
    base.update(changes)
    return {name: value for name, value in base.items() if value is not None}


def sign(key: PrivateKey, alg: str, kid: str | None, payload: dict[str, Any] | None = None) -> str:
    headers = {"kid": kid} if kid else None
    return jwt.encode(payload or claims(), key, algorithm=alg, headers=headers)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: dict[str, Any]) -> str:
    return b64(json.dumps(value).encode())


def oauth_settings(jwks_url: str | None, **changes: Any) -> Settings:
    values: dict[str, Any] = {
        "auth": "oauth",
        "oauth_issuer": ISSUER,
        "oauth_audience": AUDIENCE,
        "oauth_jwks_url": jwks_url,
        "oauth_algorithms": ("RS256", "PS256", "ES256", "EdDSA"),
        "oauth_jwks_min_refresh_s": 0,
    }
    return Settings(**(values | changes))


def bearer(token: str) -> Headers:
    return Headers({"authorization": f"Bearer {token}"})


def authenticate(settings: Settings, headers: Headers, clock: Clock | None = None) -> Identity:
    async def run() -> Identity:
        authenticator = OAuthAuthenticator(settings, clock=clock or Clock())
        try:
            return await authenticator.authenticate(headers)
        finally:
            await authenticator.aclose()

    return asyncio.run(run())


def assert_refused(error: BaseException, reason: str, token: str = "") -> None:
    """A 401 with the generic message, an RFC 6750 challenge, the expected audit reason, and
    no trace of the token anywhere the caller or the audit log could see."""
    assert isinstance(error, UnauthorizedError), repr(error)
    assert error.reason == reason
    assert error.message == INVALID_TOKEN_MESSAGE
    assert error.headers == {
        "WWW-Authenticate": 'Bearer realm="sqlgateway", error="invalid_token"' + METADATA
    }
    assert_no_leak(error, token)


def assert_no_leak(error: BaseException, token: str) -> None:
    visible = " ".join([str(error), repr(error), *map(str, vars(error).values())])
    for part in [token, *token.split(".")]:
        if len(part) >= 8:
            assert part not in visible


def refused(settings: Settings, token: str, reason: str) -> None:
    with pytest.raises(UnauthorizedError) as info:
        authenticate(settings, bearer(token))
    assert_refused(info.value, reason, token)


@pytest.fixture
def keyset(
    provider: Provider,
    rsa_key: rsa.RSAPrivateKey,
    ec_key: ec.EllipticCurvePrivateKey,
    ed_key: ed25519.Ed25519PrivateKey,
) -> Settings:
    """The provider publishes RSA (alg RS256), the same RSA key without alg, EC and Ed25519."""
    provider.jwks = {
        "keys": [
            public_jwk(rsa_key, "rsa-1", alg="RS256"),
            public_jwk(rsa_key, "rsa-any"),
            public_jwk(ec_key, "ec-1"),
            public_jwk(ed_key, "ed-1"),
            public_jwk(rsa_key, "rsa-384", alg="RS384"),
        ]
    }
    return oauth_settings(provider.url)


@pytest.mark.parametrize(
    ("key_name", "alg", "kid"),
    [
        ("rsa_key", "RS256", "rsa-1"),
        ("rsa_key", "RS256", "rsa-any"),
        ("rsa_key", "PS256", "rsa-any"),
        ("ec_key", "ES256", "ec-1"),
        ("ed_key", "EdDSA", "ed-1"),
    ],
)
def test_rsa_ec_and_ed25519_tokens_are_accepted(
    keyset: Settings, request: pytest.FixtureRequest, key_name: str, alg: str, kid: str
) -> None:
    payload = claims(scope="sql:read", email="alice@example.test")
    identity = authenticate(
        keyset, bearer(sign(request.getfixturevalue(key_name), alg, kid, payload))
    )
    assert identity == Identity(actor="alice", auth_mode="oauth", claims=payload)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"exp": int(time.time()) - 3600}, "expired"),
        ({"nbf": int(time.time()) + 3600}, "not yet valid"),
        ({"iat": int(time.time()) + 3600}, "not yet valid"),
        ({"iss": "https://evil.example.test/"}, "wrong issuer"),
        ({"aud": "another-api"}, "wrong audience"),
        ({"aud": ["another-api", "yet-another"]}, "wrong audience"),
        ({"exp": None}, "missing exp claim"),
        ({"iss": None}, "missing iss claim"),
        ({"aud": None}, "missing aud claim"),
        ({"sub": None}, "missing actor claim"),
        ({"sub": ""}, "missing actor claim"),
        ({"sub": 42}, "malformed sub claim"),
        ({"exp": "tomorrow"}, "malformed token"),
    ],
)
def test_claims_are_checked(
    keyset: Settings, rsa_key: rsa.RSAPrivateKey, changes: dict[str, Any], reason: str
) -> None:
    refused(keyset, sign(rsa_key, "RS256", "rsa-1", claims(**changes)), reason)


def test_leeway_forgives_small_clock_skew(keyset: Settings, rsa_key: rsa.RSAPrivateKey) -> None:
    token = sign(rsa_key, "RS256", "rsa-1", claims(exp=int(time.time()) - 10))
    assert authenticate(keyset, bearer(token)).actor == "alice"
    refused(oauth_settings(keyset.oauth_jwks_url, oauth_leeway_s=0), token, "expired")


def test_audience_may_be_one_of_several(keyset: Settings, rsa_key: rsa.RSAPrivateKey) -> None:
    token = sign(rsa_key, "RS256", "rsa-1", claims(aud=["other", AUDIENCE]))
    assert authenticate(keyset, bearer(token)).actor == "alice"


def test_the_actor_claim_is_configurable(keyset: Settings, rsa_key: rsa.RSAPrivateKey) -> None:
    settings = oauth_settings(keyset.oauth_jwks_url, oauth_actor_claim="email")
    token = sign(rsa_key, "RS256", "rsa-1", claims(email="alice@example.test"))
    assert authenticate(settings, bearer(token)).actor == "alice@example.test"
    refused(settings, sign(rsa_key, "RS256", "rsa-1"), "missing actor claim")


def test_alg_none_is_refused(keyset: Settings) -> None:
    for alg in ("none", "None", "NONE"):
        token = f"{segment({'alg': alg, 'kid': 'rsa-1'})}.{segment(claims())}."
        refused(keyset, token, "algorithm not allowed")


def test_hmac_keyed_with_the_rsa_public_key_is_refused(
    keyset: Settings, rsa_key: rsa.RSAPrivateKey
) -> None:
    """The classic confusion: a verifier that lets the token pick HS256 would use the public
    key (which anyone has) as the HMAC secret, and accept the forgery."""
    pem = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for alg, kid in [("HS256", "rsa-1"), ("HS256", "rsa-any"), ("HS256", None)]:
        header = {"alg": alg, "typ": "JWT", **({"kid": kid} if kid else {})}
        signing_input = f"{segment(header)}.{segment(claims(sub='mallory'))}"
        mac = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
        refused(keyset, f"{signing_input}.{b64(mac)}", "algorithm not allowed")
    # the same forgery claiming RS256 fails the signature check instead
    header = {"alg": "RS256", "kid": "rsa-1"}
    signing_input = f"{segment(header)}.{segment(claims(sub='mallory'))}"
    mac = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    refused(keyset, f"{signing_input}.{b64(mac)}", "bad signature")


def test_an_algorithm_outside_the_allowlist_is_refused(
    keyset: Settings, rsa_key: rsa.RSAPrivateKey
) -> None:
    settings = oauth_settings(keyset.oauth_jwks_url, oauth_algorithms="ES256")
    refused(settings, sign(rsa_key, "RS256", "rsa-1"), "algorithm not allowed")


def test_the_key_must_fit_the_algorithm(
    keyset: Settings, rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    # an EC signature naming an RSA key, and an RS256 signature naming a key marked RS384
    refused(keyset, sign(ec_key, "ES256", "rsa-1"), "key does not match algorithm")
    refused(keyset, sign(rsa_key, "RS256", "rsa-384"), "key does not match algorithm")
    refused(keyset, sign(rsa_key, "PS256", "rsa-1"), "key does not match algorithm")


def test_a_tampered_payload_fails_the_signature(
    keyset: Settings, rsa_key: rsa.RSAPrivateKey
) -> None:
    header, _, signature = sign(rsa_key, "RS256", "rsa-1").split(".")
    refused(keyset, f"{header}.{segment(claims(sub='admin'))}.{signature}", "bad signature")


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("abc.def.ghi", "malformed token"),
        (f"{segment({'alg': 'RS256', 'kid': 7})}.{segment(claims())}.c2ln", "malformed token"),
        (f"{segment({'kid': 'rsa-1'})}.{segment(claims())}.c2ln", "algorithm not allowed"),
        (f"{segment({'alg': 'RS256', 'kid': 'rsa-1'})}.{segment(claims())}.c2ln", "bad signature"),
    ],
)
def test_garbage_is_refused(keyset: Settings, token: str, reason: str) -> None:
    refused(keyset, token, reason)


def test_a_signed_payload_that_is_not_a_claims_object_is_malformed(
    keyset: Settings, rsa_key: rsa.RSAPrivateKey
) -> None:
    for payload in (b"not json", b"[1, 2]"):
        token = jwt.PyJWS().encode(payload, rsa_key, algorithm="RS256", headers={"kid": "rsa-1"})
        refused(keyset, token, "malformed token")


def test_an_unknown_kid_is_refused(keyset: Settings, rsa_key: rsa.RSAPrivateKey) -> None:
    refused(keyset, sign(rsa_key, "RS256", "rsa-2"), "unknown kid")


def test_without_kid_only_a_single_fitting_key_is_used(
    provider: Provider, ec_key: ec.EllipticCurvePrivateKey, rsa_key: rsa.RSAPrivateKey
) -> None:
    provider.jwks = {"keys": [public_jwk(ec_key, None), public_jwk(rsa_key, "r1", alg="RS256")]}
    settings = oauth_settings(provider.url)
    assert authenticate(settings, bearer(sign(ec_key, "ES256", None))).actor == "alice"
    provider.jwks["keys"].append(public_jwk(rsa_key, "r2"))
    reason = "no kid, and several keys could have signed"
    refused(settings, sign(rsa_key, "RS256", None), reason)


def test_weak_rsa_keys_are_refused(provider: Provider) -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    provider.jwks = {"keys": [public_jwk(weak, "weak")]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyJWT warns when signing with a short key
        token = sign(weak, "RS256", "weak")
    refused(oauth_settings(provider.url), token, "unusable key (e.g. RSA shorter than 2048 bits)")


def test_key_rotation_is_picked_up_but_unknown_kids_cannot_hammer_the_provider(
    provider: Provider, rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    provider.jwks = {"keys": [public_jwk(rsa_key, "old")]}
    clock = Clock()
    settings = oauth_settings(provider.url, oauth_jwks_min_refresh_s=30)

    async def run(authenticator: OAuthAuthenticator) -> None:
        await authenticator.authenticate(bearer(sign(rsa_key, "RS256", "old")))
        assert provider.hits == 1
        provider.jwks["keys"].append(public_jwk(ec_key, "new"))
        new_token = sign(ec_key, "ES256", "new")
        # a fetch just happened: the new kid must wait for the refresh interval
        with pytest.raises(UnauthorizedError) as info:
            await authenticator.authenticate(bearer(new_token))
        assert_refused(info.value, "unknown kid", new_token)
        assert provider.hits == 1
        clock.now += 31
        assert (await authenticator.authenticate(bearer(new_token))).actor == "alice"
        assert provider.hits == 2
        # random kids, one after another and then all at once: at most one fetch per interval
        for number in range(30):
            with pytest.raises(UnauthorizedError):
                await authenticator.authenticate(bearer(sign(ec_key, "ES256", f"r{number}")))
        assert provider.hits == 2
        clock.now += 31
        results = await asyncio.gather(
            *(
                authenticator.authenticate(bearer(sign(ec_key, "ES256", f"s{number}")))
                for number in range(30)
            ),
            return_exceptions=True,
        )
        for result in results:
            assert isinstance(result, UnauthorizedError) and result.reason == "unknown kid"
        assert provider.hits == 3
        # known kids never cause a fetch
        await authenticator.authenticate(bearer(sign(rsa_key, "RS256", "old")))
        assert provider.hits == 3

    asyncio.run(_with_authenticator(settings, clock, run))


def test_old_keys_serve_while_the_provider_is_down_then_503(
    provider: Provider, rsa_key: rsa.RSAPrivateKey
) -> None:
    provider.jwks = {"keys": [public_jwk(rsa_key, "k1")]}
    clock = Clock()
    settings = oauth_settings(provider.url, oauth_jwks_cache_s=100)
    token = sign(rsa_key, "RS256", "k1")

    async def run(authenticator: OAuthAuthenticator) -> None:
        await authenticator.authenticate(bearer(token))
        provider.status = 500
        clock.now += 50
        with pytest.raises(UnauthorizedError):  # refresh for the unknown kid fails...
            await authenticator.authenticate(bearer(sign(rsa_key, "RS256", "k2")))
        assert provider.hits == 2
        assert (await authenticator.authenticate(bearer(token))).actor == "alice"  # ...k1 lives
        clock.now += 60  # past the cache life: no keys to trust
        for _ in range(3):  # and only one attempt per backoff
            with pytest.raises(UnavailableError) as info:
                await authenticator.authenticate(bearer(token))
            assert info.value.status_code == 503
            assert int(info.value.headers["Retry-After"]) >= 1
            assert_no_leak(info.value, token)
        assert provider.hits == 3
        provider.status = 200
        clock.now += 6
        assert (await authenticator.authenticate(bearer(token))).actor == "alice"
        assert provider.hits == 4

    asyncio.run(_with_authenticator(settings, clock, run))


def test_an_unreachable_provider_is_503_not_401(rsa_key: rsa.RSAPrivateKey) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = oauth_settings(f"http://127.0.0.1:{port}/jwks.json")
    with pytest.raises(UnavailableError) as info:
        authenticate(settings, bearer(sign(rsa_key, "RS256", "k1")))
    assert info.value.message == "identity provider unreachable"
    assert "Retry-After" in info.value.headers


def test_a_local_key_set_works_through_a_file_url(
    tmp_path: Path, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [public_jwk(ec_key, "local")]}))
    settings = oauth_settings(path.as_uri())
    assert authenticate(settings, bearer(sign(ec_key, "ES256", "local"))).actor == "alice"


def test_only_public_signature_keys_are_kept(
    rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    private = RSAAlgorithm.to_jwk(rsa_key, as_dict=True)
    keys = parse_jwks(
        {
            "keys": [
                public_jwk(ec_key, "enc", use="enc"),
                {**private, "kid": "private"},
                {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
                {"kty": "RSA", "kid": "broken", "n": "AQAB"},
                public_jwk(rsa_key, "ops", key_ops=["encrypt"]),
                "not a key",
                public_jwk(ec_key, "good"),
            ]
        }
    )
    assert [key.kid for key in keys] == ["good"]
    with pytest.raises(JwksError):
        parse_jwks({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]})
    with pytest.raises(JwksError):
        parse_jwks([])


def test_required_scopes_missing_is_403(keyset: Settings, rsa_key: rsa.RSAPrivateKey) -> None:
    settings = oauth_settings(keyset.oauth_jwks_url, oauth_required_scopes="sql:read")
    for granted in ({"scope": "openid sql:read"}, {"scp": ["sql:read"]}, {"scp": "sql:read x"}):
        token = sign(rsa_key, "RS256", "rsa-1", claims(**granted))
        assert authenticate(settings, bearer(token)).actor == "alice"
    token = sign(rsa_key, "RS256", "rsa-1", claims(scope="openid profile"))
    with pytest.raises(ForbiddenError) as info:
        authenticate(settings, bearer(token))
    assert info.value.status_code == 403 and "sql:read" in info.value.message
    assert 'error="insufficient_scope"' in info.value.headers["WWW-Authenticate"]
    assert_no_leak(info.value, token)


@pytest.mark.parametrize(
    ("raw", "challenge", "reason"),
    [
        ([], 'Bearer realm="sqlgateway"', "no credentials"),
        ([b"  "], 'Bearer realm="sqlgateway"', "no credentials"),
        ([b"Basic YWxpY2U6c2VjcmV0"], "invalid_request", "authorization scheme is not Bearer"),
        (
            [b"eyJhbGciOiJSUzI1NiJ9.e30.sig"],
            "invalid_request",
            "authorization scheme is not Bearer",
        ),
        ([b"Bearer"], "invalid_request", "malformed bearer token"),
        ([b"Bearer a b"], "invalid_request", "malformed bearer token"),
        ([b"Bearer " + b"a" * 20_000], "invalid_request", "token longer than 16384 characters"),
        ([b"Bearer a.b.c", b"Bearer d.e.f"], "invalid_request", "several Authorization headers"),
    ],
)
def test_the_authorization_header_must_be_one_bearer_token(
    keyset: Settings, raw: list[bytes], challenge: str, reason: str
) -> None:
    headers = Headers(raw=[(b"authorization", value) for value in raw])
    with pytest.raises(UnauthorizedError) as info:
        authenticate(keyset, headers)
    assert info.value.reason == reason
    expected = (
        challenge
        if challenge.startswith("Bearer")
        else f'Bearer realm="sqlgateway", error="{challenge}"'
    )
    assert info.value.headers["WWW-Authenticate"] == expected + METADATA
    for value in raw:
        assert_no_leak(info.value, value.decode().removeprefix("Bearer "))


def test_an_opaque_token_needs_introspection(keyset: Settings) -> None:
    token = "opaque-token-0123456789"
    refused(keyset, token, "not a JWT, and no introspection endpoint is configured")


def test_incomplete_settings_are_refused() -> None:
    settings = Settings(auth="api_key")
    with pytest.raises(ValueError, match="ISSUER"):
        OAuthAuthenticator(settings)


async def _with_authenticator(settings: Settings, clock: Clock, body: Any) -> None:
    authenticator = OAuthAuthenticator(settings, clock=clock)
    try:
        await body(authenticator)
    finally:
        await authenticator.aclose()
