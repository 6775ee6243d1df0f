"""auth.introspection: opaque tokens checked by an RFC 7662 endpoint on 127.0.0.1, answers
cached by token hash (positive until exp, negative briefly), provider failures as 503."""

from __future__ import annotations

import asyncio
import base64
import socket
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any
from urllib.parse import parse_qs

import httpx2
import orjson
import pytest
from loopback_http import Clock, LoopbackServer, QuietHandler
from starlette.datastructures import Headers

from sqlgateway.auth import Identity
from sqlgateway.auth.introspection import Introspector, TokenRejectedError
from sqlgateway.auth.oauth import INVALID_TOKEN_MESSAGE, OAuthAuthenticator
from sqlgateway.errors import ForbiddenError, UnauthorizedError, UnavailableError
from sqlgateway.settings import Settings

ISSUER = "https://idp.example.test/"
AUDIENCE = "sqlgateway-test"
CLIENT_ID = "gateway"
CLIENT_SECRET = "client-secret-0123456789"
TOKEN = "opaque-access-token-0123456789"


class Endpoint:
    """An introspection endpoint on 127.0.0.1: answers from `answers` (inactive for unknown
    tokens) to requests with our client credentials and the RFC 7662 form, 401 to others."""

    def __init__(self) -> None:
        self.answers: dict[str, dict[str, Any]] = {}
        self.status = 200
        self.hits = 0
        endpoint = self
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                endpoint.hits += 1
                length = int(self.headers.get("Content-Length", "0"))
                form = parse_qs(self.rfile.read(length).decode())
                token = form.get("token", [""])[0]
                status = endpoint.status
                if self.headers.get("Authorization") != expected:
                    status = 401
                elif form.get("token_type_hint") != ["access_token"]:
                    status = 400
                self.reply(status, orjson.dumps(endpoint.answers.get(token, {"active": False})))

        self._server = LoopbackServer(Handler, "/introspect")
        self.url = self._server.url

    def close(self) -> None:
        self._server.close()


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    served = Endpoint()
    yield served
    served.close()


def active(**changes: Any) -> dict[str, Any]:
    answer = {"active": True, "sub": "alice", "scope": "sql:read", "iss": ISSUER, "aud": AUDIENCE}
    answer.update(changes)
    return {name: value for name, value in answer.items() if value is not None}


def settings_for(url: str, **changes: Any) -> Settings:
    values: dict[str, Any] = {
        "auth": "oauth",
        "oauth_issuer": ISSUER,
        "oauth_audience": AUDIENCE,
        "oauth_introspection_url": url,
        "oauth_client_id": CLIENT_ID,
        "oauth_client_secret": CLIENT_SECRET,
        "oauth_introspection_cache_s": 300,
    }
    return Settings(**(values | changes))


Body = Callable[[Callable[..., Awaitable[Identity]]], Awaitable[None]]


def run(settings: Settings, clock: Clock, body: Body) -> None:
    """`body(authenticate)` with one authenticator; `authenticate(token=TOKEN)`."""

    async def main() -> None:
        authenticator = OAuthAuthenticator(settings, clock=clock)

        async def authenticate(token: str = TOKEN) -> Identity:
            return await authenticator.authenticate(Headers({"authorization": f"Bearer {token}"}))

        try:
            await body(authenticate)
        finally:
            await authenticator.aclose()

    asyncio.run(main())


async def refused(authenticate: Callable[..., Awaitable[Identity]], reason: str) -> None:
    with pytest.raises(UnauthorizedError) as info:
        await authenticate()
    error = info.value
    assert error.reason == reason and error.message == INVALID_TOKEN_MESSAGE
    assert error.headers["WWW-Authenticate"] == (
        'Bearer realm="sqlgateway", error="invalid_token", '
        'resource_metadata="http://127.0.0.1:8000/.well-known/oauth-protected-resource"'
    )
    assert TOKEN not in f"{error} {error!r} {vars(error)}"


def test_an_active_token_is_accepted_and_cached(endpoint: Endpoint) -> None:
    endpoint.answers[TOKEN] = active()
    clock = Clock()

    async def body(authenticate: Callable[..., Awaitable[Identity]]) -> None:
        identity = await authenticate()
        assert identity == Identity(actor="alice", auth_mode="oauth", claims=active())
        await authenticate()
        assert endpoint.hits == 1
        clock.now += 301  # past SQLGATEWAY_OAUTH_INTROSPECTION_CACHE_S
        await authenticate()
        assert endpoint.hits == 2

    run(settings_for(endpoint.url), clock, body)


def test_the_cache_never_outlives_the_token(endpoint: Endpoint) -> None:
    clock = Clock()
    endpoint.answers[TOKEN] = active(exp=int(clock.now) + 10)

    async def body(authenticate: Callable[..., Awaitable[Identity]]) -> None:
        await authenticate()
        await authenticate()
        assert endpoint.hits == 1
        clock.now += 11
        await refused(authenticate, "expired")
        assert endpoint.hits == 2

    run(settings_for(endpoint.url, oauth_leeway_s=0), clock, body)


def test_an_inactive_token_is_refused_and_briefly_remembered(endpoint: Endpoint) -> None:
    clock = Clock()

    async def body(authenticate: Callable[..., Awaitable[Identity]]) -> None:
        for _ in range(5):
            await refused(authenticate, "inactive token")
        assert endpoint.hits == 1
        clock.now += 11
        await refused(authenticate, "inactive token")
        assert endpoint.hits == 2

    run(settings_for(endpoint.url), clock, body)


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (active(active="true"), "inactive token"),
        (active(iss="https://evil.example.test/"), "wrong issuer"),
        (active(aud="another-api"), "wrong audience"),
        (active(aud=["another-api"]), "wrong audience"),
        (active(aud=7), "wrong audience"),
        (active(exp=int(time.time()) - 3600), "expired"),
        (active(exp="soon"), "malformed exp claim"),
        (active(nbf=int(time.time()) + 3600), "not yet valid"),
        (active(token_type="refresh_token"), "not an access token"),
        (active(sub=None), "missing actor claim"),
    ],
)
def test_answers_are_checked(endpoint: Endpoint, answer: dict[str, Any], reason: str) -> None:
    endpoint.answers[TOKEN] = answer

    async def body(authenticate: Callable[..., Awaitable[Identity]]) -> None:
        await refused(authenticate, reason)

    run(settings_for(endpoint.url), Clock(), body)


def test_iss_and_aud_are_optional_and_aud_may_be_a_list(endpoint: Endpoint) -> None:
    endpoint.answers[TOKEN] = active(iss=None, aud=["other", AUDIENCE])
    endpoint.answers["second-opaque-token-0123"] = active(iss=None, aud=None)

    async def body(authenticate: Callable[..., Awaitable[Identity]]) -> None:
        assert (await authenticate()).actor == "alice"
        assert (await authenticate("second-opaque-token-0123")).actor == "alice"

    run(settings_for(endpoint.url), Clock(), body)


def test_a_jwt_goes_to_introspection_when_there_is_no_jwks(endpoint: Endpoint) -> None:
    token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJib2IifQ.c2lnbmF0dXJl"
    endpoint.answers[token] = active(sub="bob")

    async def body(authenticate: Callable[..., Awaitable[Identity]]) -> None:
        assert (await authenticate(token)).actor == "bob"

    run(settings_for(endpoint.url), Clock(), body)


def test_required_scopes_missing_is_403(endpoint: Endpoint) -> None:
    endpoint.answers[TOKEN] = active(scope="openid")

    async def body(authenticate: Callable[..., Awaitable[Identity]]) -> None:
        with pytest.raises(ForbiddenError, match="sql:read"):
            await authenticate()

    run(settings_for(endpoint.url, oauth_required_scopes="sql:read"), Clock(), body)


def test_wrong_client_credentials_are_an_operator_problem(endpoint: Endpoint) -> None:
    endpoint.answers[TOKEN] = active()

    async def body(authenticate: Callable[..., Awaitable[Identity]]) -> None:
        await refused(authenticate, "introspection unavailable (HTTP 401)")

    run(settings_for(endpoint.url, oauth_client_secret="wrong-secret"), Clock(), body)


def test_a_failing_provider_is_503_and_not_cached(endpoint: Endpoint) -> None:
    endpoint.answers[TOKEN] = active()
    endpoint.status = 500

    async def body(authenticate: Callable[..., Awaitable[Identity]]) -> None:
        with pytest.raises(UnavailableError) as info:
            await authenticate()
        assert info.value.status_code == 503 and info.value.headers["Retry-After"] == "5"
        assert TOKEN not in f"{info.value} {vars(info.value)}"
        endpoint.status = 200
        assert (await authenticate()).actor == "alice"

    run(settings_for(endpoint.url), Clock(), body)


def test_an_unreachable_provider_is_503() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def body(authenticate: Callable[..., Awaitable[Identity]]) -> None:
        with pytest.raises(UnavailableError, match="identity provider unreachable"):
            await authenticate()

    run(settings_for(f"http://127.0.0.1:{port}/introspect"), Clock(), body)


def test_the_caches_are_bounded(endpoint: Endpoint) -> None:
    tokens = [f"opaque-token-number-{number}" for number in range(4)]
    for token in tokens[:3]:
        endpoint.answers[token] = active()

    async def main() -> None:
        async with httpx2.AsyncClient() as http:
            introspector = Introspector(
                endpoint.url,
                client_id=CLIENT_ID,
                client_secret=CLIENT_SECRET,
                issuer=ISSUER,
                audience=AUDIENCE,
                http=http,
                cache_s=300,
                max_entries=2,
            )
            for token in tokens[:3]:
                await introspector.introspect(token)
            with pytest.raises(TokenRejectedError):
                await introspector.introspect(tokens[3])
            assert introspector.cached_entries == 3  # two active, one refused
            await introspector.introspect(tokens[2])  # still cached
            assert endpoint.hits == 4
            await introspector.introspect(tokens[0])  # the oldest was dropped
            assert endpoint.hits == 5

    asyncio.run(main())
