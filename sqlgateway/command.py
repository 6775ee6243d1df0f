"""How every `sqlgateway` command runs: its settings, its database work, and its failures.

A command is a function of the parsed flags that returns an exit code. `run_command` runs it
and turns every database and configuration failure into one message on standard error that
names the cause and the next step, with a non-zero exit code: never a traceback.

Exit codes, for every command:

- 0: done (a check found nothing to report);
- 1: a check found problems (drift, an unsafe role, spec problems), or the command could not
  do its work (database unreachable or refusing, a file unreadable, the demo not set up);
- 2: bad flags or configuration (an invalid SQLGATEWAY_* setting, a missing URL);
- 3: `check-role` only: the role is safe to serve with, but a layer behind the guard is
  missing (reduced depth);
- 130: interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar
from urllib.parse import urlsplit

import asyncpg.exceptions as pgerr
from pydantic import ValidationError

from sqlgateway.db.driver_errors import DATABASE_ERRORS, connection_problem, gateway_error
from sqlgateway.db.pools import describe_dsn
from sqlgateway.settings import Settings

__all__ = [
    "FAILED",
    "OK",
    "REDUCED_DEPTH",
    "USAGE",
    "CommandError",
    "database_failure",
    "load_settings",
    "on_database",
    "run_command",
]

OK = 0
FAILED = 1
USAGE = 2
REDUCED_DEPTH = 3
INTERRUPTED = 130

T = TypeVar("T")


class CommandError(Exception):
    """A command cannot go on: `message` says why and what to do; `code` is the exit code."""

    def __init__(self, message: str, *, code: int = FAILED) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment with the given flags on top; CommandError (exit 2)
    naming every invalid variable."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as error:
        raise CommandError(_invalid_settings(error), code=USAGE) from None


def _invalid_settings(error: ValidationError) -> str:
    lines = ["invalid configuration:"]
    for problem in error.errors():
        field = ".".join(str(p) for p in problem["loc"])
        name = f"SQLGATEWAY_{field.upper()}" if field else "settings"
        lines.append(f"  {name}: {problem['msg']}")
    return "\n".join(lines)


def on_database(url: str, work: Callable[[], Coroutine[Any, Any, T]], *, what: str = "") -> T:
    """Run `work()` (which connects to `url`) to completion; a failure to reach or log in to
    the database becomes a CommandError naming `url` (without its password), the cause and
    what to do."""
    try:
        urlsplit(url).port  # noqa: B018 (a port that is not a number raises ValueError)
    except ValueError as error:
        raise CommandError(f"the database URL is not valid: {error}", code=USAGE) from None
    try:
        return asyncio.run(work())
    except DATABASE_ERRORS as error:
        problem = connection_problem(error)
        if problem is None:
            raise
        cause, step = problem
        doing = f" to {what}" if what else ""
        raise CommandError(
            f"cannot connect to {describe_dsn(url, with_user=True)}{doing}: {cause}. Next: {step}."
        ) from None


def run_command(command: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """`command(args)`'s exit code; failures as one message on standard error."""
    try:
        return command(args)
    except CommandError as error:
        _tell(error.message)
        return error.code
    except KeyboardInterrupt:
        return INTERRUPTED
    except ValidationError as error:  # settings built outside load_settings
        _tell(_invalid_settings(error))
        return USAGE
    except DATABASE_ERRORS as error:
        _tell(database_failure(error))
        return FAILED
    except _failures() as error:
        _tell(str(error))
        return FAILED


def database_failure(error: BaseException) -> str:
    """One line for a database failure no `on_database` caught: the same mapping as the
    HTTP API's (`gateway_error`), or the connection problem."""
    if isinstance(error, OSError) and getattr(error, "filename", None):
        return f"{error.filename}: {error.strerror}"
    problem = connection_problem(error)
    if problem is not None:
        return f"cannot connect to the database: {problem[0]}. Next: {problem[1]}."
    if isinstance(error, pgerr.QueryCanceledError):
        return "the database cancelled a statement that ran past its statement_timeout"
    mapped = gateway_error(error, "", timeout_ms=0)
    if mapped is None:  # not reached: DATABASE_ERRORS are all mapped
        return f"the database failed: {type(error).__name__}: {error}"
    hint = f" ({mapped.hint})" if mapped.hint else ""
    return f"the database refused: {mapped.message}{hint}"


def _failures() -> tuple[type[Exception], ...]:
    """The library's configuration and set-up errors, whose message says what to fix."""
    import yaml

    from sqlgateway.api.privacy import PrivacyPolicyError
    from sqlgateway.audit.provision import ProvisionError
    from sqlgateway.catalog.schema_docs import SchemaDocsError
    from sqlgateway.demo.database import DemoError
    from sqlgateway.demo.embedded import EmbeddedServerError
    from sqlgateway.role.inspect import RoleNotFoundError
    from sqlgateway.role.report import UnsafeRoleError

    return (
        SchemaDocsError,
        PrivacyPolicyError,
        EmbeddedServerError,
        DemoError,
        ProvisionError,
        RoleNotFoundError,
        UnsafeRoleError,
        yaml.YAMLError,  # names the file and the line
    )


def _tell(message: str) -> None:
    print(f"sqlgateway: {message}", file=sys.stderr, flush=True)
