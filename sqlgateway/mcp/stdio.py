"""`sqlgateway mcp`: the MCP server over standard input and output, for a local agent that
starts the gateway as its subprocess (Claude Desktop, Claude Code, Cursor, …).

The gateway's resources are the app's own: `create_app(settings)`'s lifespan builds the
pools, the audit trail, the services and the catalog exactly as for `serve`, and closes them
in the same order; only the transport differs (the SDK's stdio server, both protocol eras).
There is no HTTP request around a tool call, so each call gets a `RequestRecord` of its own
(protocol `mcp`, method `tools/call`, path `stdio`, its tool as the operation) that is
finished like an HTTP request's: one audit event, one metrics sample, one log line per call,
and the event durable (`middleware.commit_request`) before the answer is written.

Who calls is the local user who started the process (the pipe is the security boundary;
no credentials cross it): the actor is `stdio:<user name>`, and SQLGATEWAY_SCOPE_DEFAULT_ROLE
applies as for every request. Logs go to standard error; standard output is the protocol's.
"""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from mcp.server.stdio import stdio_server

from sqlgateway.auth import Identity
from sqlgateway.auth.scoping import scope_for
from sqlgateway.http.middleware import commit_request, finish_request
from sqlgateway.http.record import CANCELLED, OK, RequestRecord
from sqlgateway.mcp.server import Context, build_server
from sqlgateway.mcp.tools import Call, build_tools
from sqlgateway.settings import Settings

if TYPE_CHECKING:
    from sqlgateway.services import Services

#: The audit event's method and path of a tool call over stdio.
METHOD = "tools/call"
PATH = "stdio"
AUTH_MODE = "stdio"


def local_identity() -> Identity:
    """The user who started the process, as the actor of its tool calls."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (containers)
        user = "unknown"
    return Identity(actor=f"stdio:{user}"[:64], auth_mode=AUTH_MODE)


class LocalCallers:
    """Tool calls over stdio: a record per call, finished once the call is answered."""

    def __init__(self, services: Services, identity: Identity) -> None:
        self.services = services
        self.identity = identity
        self.scope = scope_for(identity, services.settings)

    @asynccontextmanager
    async def call(self, ctx: Context, operation: str) -> AsyncIterator[Call]:
        record = RequestRecord(
            method=METHOD,
            path=PATH,
            protocol="mcp",
            operation=operation,
            actor=self.identity.actor,
            auth_mode=self.identity.auth_mode,
            user_agent=_client_name(ctx),
        )
        try:
            yield Call(self.services, self.identity, record, self.scope)
        except asyncio.CancelledError:  # the client cancelled the call: nobody is answered
            record.outcome = record.outcome or CANCELLED
            finish_request(self.services, record, trail=self.services.audit, committed=False)
            raise
        except BaseException:  # answered as an error by the SDK
            record.outcome = record.outcome or OK
            await commit_request(self.services, record)
            raise
        # the answer is written once this returns: its event is durable first
        record.outcome = record.outcome or OK
        await commit_request(self.services, record)


def _client_name(ctx: Context) -> str | None:
    """`name/version` of the MCP client, as it introduced itself (audit `user_agent`)."""
    params: Any = getattr(ctx.session, "client_params", None)
    info: Any = getattr(params, "client_info", None)
    if info is None:
        return None
    return f"{info.name}/{info.version}"[:300]


async def serve_stdio(settings: Settings) -> None:
    """Serve MCP on standard input and output until the client closes them."""
    from sqlgateway.app import create_app

    app = create_app(settings)
    async with app.router.lifespan_context(app) as state:
        assert state is not None  # create_app's lifespan yields its state
        services: Services = state["services"]
        callers = LocalCallers(services, local_identity())
        server = build_server(services, build_tools(services), callers)
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())
