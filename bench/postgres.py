"""The harness's own PostgreSQL: an embedded server in a temporary directory (deleted on
exit) holding the demo database(s) and the audit database, and the CPU time its processes
use."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

from sqlgateway.audit.provision import ensure_audit_database
from sqlgateway.demo.database import DemoDatabase, ensure_demo
from sqlgateway.demo.embedded import EmbeddedServer, start_embedded

READER_ROLE = "sqlgateway_bench_reader"


@dataclass(frozen=True)
class BenchDatabase:
    claims: int
    demo: DemoDatabase
    build_s: float

    @property
    def reader_dsn(self) -> str:
        return self.demo.reader_dsn


class BenchServer:
    """The embedded server and the demo databases built on it, by number of claims."""

    def __init__(self, server: EmbeddedServer, workdir: Path) -> None:
        self.server = server
        self.workdir = workdir
        self.databases: dict[int, BenchDatabase] = {}
        self._audit_dsn: str | None = None

    def database(self, claims: int) -> BenchDatabase:
        if claims not in self.databases:
            started = time.perf_counter()
            demo = asyncio.run(
                ensure_demo(
                    self.server.admin_dsn(),
                    database=f"claims_bench_{claims}",
                    reader_role=READER_ROLE,
                    claims=claims,
                )
            )
            self.databases[claims] = BenchDatabase(claims, demo, time.perf_counter() - started)
        return self.databases[claims]

    def audit_dsn(self) -> str:
        """The audit writer's DSN to the audit database of this server, made (as `serve`
        does for the embedded demo) on first use; the bench reader may not connect to it."""
        if self._audit_dsn is None:
            self._audit_dsn = asyncio.run(
                ensure_audit_database(self.server.admin_dsn(), reader_role=READER_ROLE)
            )
        return self._audit_dsn

    def postmaster(self) -> psutil.Process:
        pid = int((self.server.data_dir / "postmaster.pid").read_text().split()[0])
        return psutil.Process(pid)


@contextmanager
def bench_server() -> Iterator[BenchServer]:
    workdir = Path(tempfile.mkdtemp(prefix="sqlgateway-bench-"))
    server = start_embedded(workdir / "pgdata", delete_on_stop=True)
    try:
        yield BenchServer(server, workdir)
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


class CpuMeter:
    """CPU seconds (user + system) used by a set of processes between `start` and `stop`:
    the harness itself, the gateway server, and every PostgreSQL process (backends come and
    go, so the postmaster's children are listed at both ends)."""

    def __init__(self, groups: dict[str, list[psutil.Process] | psutil.Process]) -> None:
        self._groups = groups
        self._before: dict[str, dict[int, float]] = {}

    @staticmethod
    def _members(group: list[psutil.Process] | psutil.Process) -> list[psutil.Process]:
        if isinstance(group, list):
            return group
        return [group, *group.children(recursive=True)]

    def _read(self) -> dict[str, dict[int, float]]:
        reading: dict[str, dict[int, float]] = {}
        for name, group in self._groups.items():
            times: dict[int, float] = {}
            for process in self._members(group):
                try:
                    cpu = process.cpu_times()
                except psutil.NoSuchProcess:
                    continue
                times[process.pid] = cpu.user + cpu.system
            reading[name] = times
        return reading

    def start(self) -> None:
        self._before = self._read()

    def stop(self) -> dict[str, float]:
        after = self._read()
        used: dict[str, float] = {}
        for name, times in after.items():
            before = self._before.get(name, {})
            used[name] = sum(t - before.get(pid, 0.0) for pid, t in times.items())
        return used
