"""The gateway under test: `python -m sqlgateway serve` in a subprocess (uvicorn exactly as
users run it), configured through SQLGATEWAY_* variables, on a free port of 127.0.0.1.

Every server gets its own API key (configured as a hashed entry whose name is the actor the
audit trail records), the audit trail off unless asked for, and its audit file and spill
directory under the harness's temporary directory: nothing is written to the user's home.
A server may run another version of the gateway: `source`, a source tree (`baseline.py`)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import TracebackType

import psutil

from sqlgateway.auth.api_keys import key_entry, new_key

HOST = "127.0.0.1"
#: The audit trail's figures on /metrics: `sqlgateway_audit_<name>[_total] <value>`.
AUDIT_METRIC = re.compile(rb"^sqlgateway_audit_(\w+?)(?:_total)? ([0-9.e+-]+)$", re.MULTILINE)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


class GatewayProcess:
    """`with GatewayProcess(dsn, log_dir, name, **settings) as gateway:` a running server.

    `settings` become SQLGATEWAY_<NAME> variables (e.g. max_plan_cost=0, audit_sink="jsonl").
    The API key's name, so the actor of every audit event, is `bench-<name>`. The server's
    output goes to a log file, never to a pipe that could fill up and stall it.
    """

    def __init__(
        self,
        dsn: str,
        log_dir: Path,
        name: str,
        *,
        command: list[str] | None = None,
        source: Path | None = None,
        audit_sink: str = "none",
        **settings: object,
    ) -> None:
        self.command = command or [sys.executable, "-m", "sqlgateway", "serve"]
        self.port = free_port()
        self.actor = f"bench-{name}"
        self.api_key = new_key()
        self.log_path = log_dir / f"gateway-{name}-{self.port}.log"
        self.audit_file = log_dir / f"audit-{name}-{self.port}" / "audit.jsonl"
        self.audit_spill_dir = log_dir / f"audit-{name}-{self.port}" / "spill"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("SQLGATEWAY_")},
            "SQLGATEWAY_DATABASE_URL": dsn,
            "SQLGATEWAY_API_KEYS": key_entry(self.actor, self.api_key),
            "SQLGATEWAY_HOST": HOST,
            "SQLGATEWAY_PORT": str(self.port),
            "SQLGATEWAY_LOG_LEVEL": "warning",  # no request log: one line per request costs CPU
            "SQLGATEWAY_AUDIT_SINK": audit_sink,
            "SQLGATEWAY_AUDIT_FILE": str(self.audit_file),
            "SQLGATEWAY_AUDIT_SPILL_DIR": str(self.audit_spill_dir),
        }
        self.env.update({f"SQLGATEWAY_{k.upper()}": str(v) for k, v in settings.items()})
        self.audit_file = Path(self.env["SQLGATEWAY_AUDIT_FILE"])
        self.audit_spill_dir = Path(self.env["SQLGATEWAY_AUDIT_SPILL_DIR"])
        #: run from this source tree (first on the path, and the working directory: `-m`
        #: imports from the working directory first) instead of the installed package
        self.source = source
        if source is not None:
            self.env["PYTHONPATH"] = os.pathsep.join(
                filter(None, [str(source), os.environ.get("PYTHONPATH")])
            )
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    @property
    def process(self) -> psutil.Process:
        return psutil.Process(self.pid)

    def start(self, timeout_s: float = 60.0) -> None:
        with open(self.log_path, "wb") as log:
            self._process = subprocess.Popen(
                self.command,
                env=self.env,
                cwd=self.source,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"the gateway exited at start:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"http://{HOST}:{self.port}/healthz", timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the gateway did not answer /healthz in {timeout_s} s")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def kill(self) -> None:
        """SIGKILL, as the OOM killer or a node failure would."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    def audit_counters(self) -> dict[str, float]:
        """The audit trail's figures from GET /metrics (`queue_depth`, `events_written`,
        `events_spilled`, `events_replayed`, `events_dropped`); empty when auditing is off."""
        url = f"http://{HOST}:{self.port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            body: bytes = response.read()
        return {name.decode(): float(value) for name, value in AUDIT_METRIC.findall(body)}

    def implementations(self) -> str:
        """Which event loop and HTTP parser the server runs on, from its loaded libraries."""
        maps = Path(f"/proc/{self.pid}/maps").read_text()
        loop = "uvloop" if "uvloop" in maps else "asyncio"
        http = "httptools" if "httptools" in maps else "h11"
        return f"uvicorn on {loop} + {http}"

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> GatewayProcess:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
