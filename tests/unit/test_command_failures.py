"""command.py: every failure a command meets becomes one message and an exit code."""

from __future__ import annotations

import argparse
import socket
from collections.abc import Callable

import asyncpg.exceptions as pgerr
import pytest

from sqlgateway.catalog.schema_docs import SchemaDocsError
from sqlgateway.command import (
    FAILED,
    USAGE,
    CommandError,
    load_settings,
    on_database,
    run_command,
)
from sqlgateway.db.driver_errors import connection_problem
from sqlgateway.demo.embedded import EmbeddedServerError


def _raising(error: BaseException) -> Callable[[argparse.Namespace], int]:
    def command(args: argparse.Namespace) -> int:
        raise error

    return command


@pytest.mark.parametrize(
    ("error", "code", "says"),
    [
        (CommandError("give --dir", code=USAGE), USAGE, "give --dir"),
        (ConnectionRefusedError(111, "Connect call failed"), FAILED, "connection refused"),
        (socket.gaierror(-2, "Name or service not known"), FAILED, "does not resolve"),
        (TimeoutError(), FAILED, "timed out"),
        (FileNotFoundError(2, "No such file or directory", "spec.yaml"), FAILED, "spec.yaml: No"),
        (pgerr.InvalidCatalogNameError('database "x" does not exist'), FAILED, "database name"),
        (pgerr.InsufficientPrivilegeError("permission denied for table t"), FAILED, "refused"),
        (pgerr.QueryCanceledError("canceling statement"), FAILED, "statement_timeout"),
        (SchemaDocsError(["claims.yaml:3: unknown key"]), FAILED, "  claims.yaml:3"),
        (EmbeddedServerError("did not start"), FAILED, "did not start"),
        (KeyboardInterrupt(), 130, ""),
    ],
)
def test_failures_become_one_message_and_a_code(
    error: BaseException, code: int, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_command(_raising(error), argparse.Namespace()) == code
    err = capsys.readouterr().err
    assert says in err
    assert "Traceback" not in err
    assert err.count("\n") <= 1 or isinstance(error, SchemaDocsError)


def test_a_bug_is_not_hidden() -> None:
    with pytest.raises(ZeroDivisionError):
        run_command(_raising(ZeroDivisionError()), argparse.Namespace())


def test_invalid_settings_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SQLGATEWAY_PORT", "eighty")
    with pytest.raises(CommandError) as info:
        load_settings()
    assert info.value.code == USAGE
    assert "SQLGATEWAY_PORT" in info.value.message


@pytest.mark.parametrize(
    ("error", "cause", "step"),
    [
        (pgerr.InvalidPasswordError('password authentication failed for user "r"'), "r", "user name and the password"),
        (pgerr.InvalidAuthorizationSpecificationError('role "r" does not exist'), "role", "provision-role"),
        (pgerr.TooManyConnectionsError("too many clients"), "too many", "max_connections"),
        (pgerr.CannotConnectNowError("the database system is starting up"), "starting", "retry"),
        (FileNotFoundError(2, "No such file or directory"), "no server socket", "socket"),
    ],
)  # fmt: skip
def test_each_connection_problem_has_a_cause_and_a_next_step(
    error: BaseException, cause: str, step: str
) -> None:
    problem = connection_problem(error)
    assert problem is not None
    assert cause in problem[0] and step in problem[1]


def test_other_errors_are_not_connection_problems() -> None:
    assert connection_problem(pgerr.UndefinedTableError("no such table")) is None
    assert connection_problem(ValueError("x")) is None


def test_a_url_that_cannot_be_one_is_a_usage_error() -> None:
    async def never() -> None:
        raise AssertionError("not reached")

    with pytest.raises(CommandError) as info:
        on_database("postgresql://u@h:port/db", never)
    assert info.value.code == USAGE and "not valid" in info.value.message


def test_a_refused_connection_names_the_database_and_what_to_do() -> None:
    async def refused() -> None:
        raise ConnectionRefusedError(111, "Connect call failed")

    with pytest.raises(CommandError) as info:
        on_database("postgresql://ann:pw@db:5433/claims", refused, what="check the role")
    message = info.value.message
    assert message.startswith("cannot connect to ann@db:5433/claims to check the role")
    assert "connection refused" in message and "Next: check the host and port" in message
    assert "pw" not in message.replace("pwd", "")
