"""Every command that reads a database, against one that cannot be reached and as a role that
does not exist: one message naming the cause and the next step, a non-zero exit, no traceback
(an exception escaping `main` would fail the test; `sqlgateway` is `sys.exit(main())`)."""

from __future__ import annotations

import socket
import subprocess
import sys
from typing import Any

import pytest
from conftest import ROOT

from sqlgateway.cli import main
from sqlgateway.demo.database import DemoDatabase, derive_dsn
from sqlgateway.demo.files import demo_docs_dir

MISSING_ROLE = "sgw_no_such_role"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


UNREACHABLE = f"postgresql://reader@127.0.0.1:{_closed_port()}/claims"


def _commands(url: str) -> list[list[str]]:
    return [
        ["schema-docs", "check", "--dir", str(demo_docs_dir()), "--database-url", url],
        ["schema-docs", "generate", "--database-url", url],
        ["gpt-instructions", "--database-url", url],
        ["queries", "check", "--dir", str(demo_docs_dir()), "--database-url", url],
        ["check-role", "--database-url", url],
        ["provision-role", "--database", "claims", "--apply", "--admin-url", url],
        *(
            ["audit", sub, "--database-url", url]
            for sub in ("tail", "search", "top", "rejected", "slow", "export")
        ),
    ]


def _ids(commands: list[list[str]]) -> list[str]:
    return [" ".join(argv[:2]) for argv in commands]


@pytest.mark.parametrize("argv", _commands(UNREACHABLE), ids=_ids(_commands(UNREACHABLE)))
def test_an_unreachable_database_is_one_message(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 1
    out, err = capsys.readouterr()
    assert "connection refused" in err and "Next: check the host and port" in err, err
    assert err.startswith("sqlgateway: ") and err.count("\n") == 1, err
    assert "Traceback" not in out + err


@pytest.mark.parametrize("which", range(len(_commands(""))), ids=_ids(_commands("")))
def test_a_missing_role_is_one_message(
    which: int, pg_admin_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = derive_dsn(pg_admin_dsn, user=MISSING_ROLE, password="not-a-password")
    assert main(_commands(url)[which]) == 1
    out, err = capsys.readouterr()
    assert MISSING_ROLE in err and "Next: check the user name" in err, err
    assert err.startswith("sqlgateway: ") and err.count("\n") == 1, err
    assert "not-a-password" not in err and "Traceback" not in out + err


def test_checking_a_role_that_does_not_exist(
    demo: DemoDatabase, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check-role", "--database-url", demo.admin_dsn, "--role", MISSING_ROLE]) == 1
    err = capsys.readouterr().err
    assert f"role '{MISSING_ROLE}' does not exist" in err and "provision-role" in err


@pytest.fixture
def no_uvicorn(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    import uvicorn

    calls: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append(app))
    return calls


def test_serve_stops_before_listening_with_an_unsafe_role(
    demo: DemoDatabase, no_uvicorn: list[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", "--database-url", demo.admin_dsn]) == 1
    out, err = capsys.readouterr()
    assert "refusing to serve" in err and "unsafe: is a superuser" in err
    assert no_uvicorn == [] and "Traceback" not in out + err
    assert "OpenAPI spec" not in out  # no banner: it never listened


def test_serve_starts_on_an_unreachable_database(
    no_uvicorn: list[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """By design: the pools connect when the database answers (requests get 503 until)."""
    assert main(["serve", "--database-url", UNREACHABLE]) == 0
    assert len(no_uvicorn) == 1


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["openapi", "--file", "/nonexistent/spec.yaml"], "/nonexistent/spec.yaml: No such file"),
        (["openapi", "--check", "--file", str(ROOT / "README.md")], "README.md"),
        (["dev-token", "--dir", "/proc/sqlgateway-test"], "/proc/sqlgateway-test"),
        (["schema-docs", "check", "--dir", "/nonexistent", "--database-url", UNREACHABLE], "not a directory"),
    ],
)  # fmt: skip
def test_file_problems_are_one_message(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 1
    out, err = capsys.readouterr()
    assert says in err and "Traceback" not in out + err


def test_the_installed_command_prints_no_traceback() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sqlgateway", "check-role", "--database-url", UNREACHABLE],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "connection refused" in result.stderr and "Traceback" not in result.stderr
