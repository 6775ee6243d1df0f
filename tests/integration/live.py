"""A real uvicorn server on 127.0.0.1 in a background thread, for tests that need real sockets:
concurrency, disconnects, slow clients, faults."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from sqlgateway.app import create_app
from sqlgateway.settings import Settings


@contextmanager
def live_server(settings: Settings, **app_options: Any) -> Iterator[str]:
    """Serve `create_app(settings, **app_options)`; yields the base URL."""
    config = uvicorn.Config(
        create_app(settings, **app_options),
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="live-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the live server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
