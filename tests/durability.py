"""What the audit durability tests share: a load that records every answer's request id, the
events a sink holds per request id, an audit database that refuses connections, and a tiny
file system that can be filled up."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
from conftest import TEST_API_KEY, TEST_AUDIT_DATABASE, audit_fetch, execute_sql

from sqlgateway.audit.jsonl import decode_line, rotated_files

AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}
#: Longest a load runs, whatever happens to the server.
LOAD_LIMIT_S = 60.0


def point_lookup(number: int) -> str:
    return f"SELECT claim_id, status FROM claims WHERE claim_id = {1 + number * 7919 % 20_000}"


@dataclass
class Answers:
    """Request ids of the answers that arrived (their status line and headers did), by status,
    and how many requests got none (the server was killed, or refused the connection)."""

    ids: dict[str, int] = field(default_factory=dict)
    unanswered: int = 0

    @property
    def statuses(self) -> Counter[int]:
        return Counter(self.ids.values())


class Load:
    """`concurrency` clients sending point lookups to `url` from a thread of their own, until
    `stop()` (or LOAD_LIMIT_S, or `requests` sent); every answer's X-Request-Id is recorded
    as soon as its headers arrive."""

    def __init__(
        self, url: str, answers: Answers, concurrency: int = 8, requests: int = 1_000_000
    ) -> None:
        self._url = url
        self._answers = answers
        self._concurrency = concurrency
        self._left = requests
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=LOAD_LIMIT_S)

    def wait(self) -> None:
        """Until every request was sent and answered (or not)."""
        self._thread.join(timeout=LOAD_LIMIT_S)

    async def _run(self) -> None:
        deadline = time.monotonic() + LOAD_LIMIT_S
        limits = httpx2.Limits(max_connections=self._concurrency)
        async with httpx2.AsyncClient(
            base_url=self._url, headers=AUTH, timeout=10, limits=limits
        ) as http:

            async def client(number: int) -> None:
                while not self._stop.is_set() and self._left > 0 and time.monotonic() < deadline:
                    self._left -= 1
                    number += self._concurrency
                    body = {"sql": point_lookup(number)}
                    try:
                        async with http.stream("POST", "/query", json=body) as response:
                            request_id = response.headers["X-Request-Id"]
                            self._answers.ids[request_id] = response.status_code
                            await response.aread()
                    except httpx2.HTTPError:
                        self._answers.unanswered += 1
                        await asyncio.sleep(0.01)

            await asyncio.gather(*(client(number) for number in range(self._concurrency)))


def jsonl_events(audit_file: Path) -> tuple[Counter[str], int]:
    """How many events each request id has in the audit file and its rotated siblings, and
    how many lines are unreadable (torn by a kill)."""
    found: Counter[str] = Counter()
    unreadable = 0
    for path in rotated_files(audit_file):
        for line in path.read_bytes().splitlines():
            event = decode_line(line) if line.strip() else {}
            if event is None:
                unreadable += 1
            elif event:
                found[event["request_id"]] += 1
    return found, unreadable


def table_events(pg_admin_dsn: str, schema: str) -> Counter[str]:
    """How many rows each request id has in `<schema>.audit_events` of the audit database."""
    rows = audit_fetch(
        pg_admin_dsn, f"SELECT request_id, count(*) AS n FROM {schema}.audit_events GROUP BY 1"
    )
    return Counter({row["request_id"]: row["n"] for row in rows})


def refuse_audit_database(pg_admin_dsn: str, refused: bool) -> None:
    """Make the test audit database refuse connections (and end its sessions), or accept
    them again: as if its server were down."""
    allow = "false" if refused else "true"
    statements = [f"ALTER DATABASE {TEST_AUDIT_DATABASE} ALLOW_CONNECTIONS {allow}"]
    if refused:
        statements.append(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{TEST_AUDIT_DATABASE}'"
        )
    execute_sql(pg_admin_dsn, *statements)


@contextlib.contextmanager
def tiny_filesystem(size_kib: int = 256) -> Iterator[Path]:
    """A tmpfs of `size_kib` mounted on a new directory, unmounted and removed afterwards.
    Raises OSError (the caller skips) when mounting is impossible (not root, no tmpfs)."""
    mount_point = Path(tempfile.mkdtemp(prefix="sqlgateway-tiny-fs-"))
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kib}k,mode=0700", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        mount_point.rmdir()
        raise OSError(f"cannot mount a tmpfs: {result.stderr.strip() or result.returncode}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)
        mount_point.rmdir()


def fill(directory: Path) -> Path:
    """Fill the file system of `directory` to the last byte with one file (returned: remove
    it to free the space)."""
    filler = directory / "filler"
    block = b"\0" * 4096
    with filler.open("wb", buffering=0) as handle:
        with contextlib.suppress(OSError):
            while True:
                handle.write(block)
        with contextlib.suppress(OSError):  # and the last partial page
            while True:
                handle.write(b"\0")
    return filler
