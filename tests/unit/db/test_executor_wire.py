"""The executor streams through asyncpg's protocol object (one round trip fewer than the
public cursor). If an asyncpg release moves that interface, this fails instead of the
gateway silently falling back to the slower path."""

from __future__ import annotations

import inspect

from asyncpg.protocol.protocol import BaseProtocol


def test_asyncpg_protocol_has_the_calls_the_executor_uses() -> None:
    assert callable(BaseProtocol.bind_execute)
    assert callable(BaseProtocol.execute)
    doc_or_sig = inspect.signature(BaseProtocol.bind_execute)
    assert list(doc_or_sig.parameters)[:7] == [
        "self",
        "state",
        "args",
        "portal_name",
        "limit",
        "return_extra",
        "timeout",
    ]


def test_execute_continues_a_portal() -> None:
    assert list(inspect.signature(BaseProtocol.execute).parameters)[:6] == [
        "self",
        "state",
        "portal_name",
        "limit",
        "return_extra",
        "timeout",
    ]
