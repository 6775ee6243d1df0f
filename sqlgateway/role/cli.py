"""`sqlgateway check-role` and `sqlgateway provision-role`: flags → role/ → a report.

Registered on the main parser by `add_role_parsers`. Exit codes of `check-role`: 0 safe at
full depth (warnings allowed), 1 unsafe (the gateway will not serve with it), 3 reduced depth
(safe to serve; a layer behind the guard is missing). `provision-role --apply` exits 0 when the
role it made is safe to serve with (reduced depth included: it says what needs a superuser),
1 when it is not.
"""

from __future__ import annotations

import argparse
import sys

import asyncpg

from sqlgateway.command import (
    FAILED,
    OK,
    REDUCED_DEPTH,
    USAGE,
    CommandError,
    load_settings,
    on_database,
)
from sqlgateway.db.pools import describe_dsn
from sqlgateway.role.definition import Severity
from sqlgateway.role.inspect import RoleNotFoundError, inspect_role
from sqlgateway.role.provision import ProvisionResult, apply_provision, provision_sql, superuser_sql
from sqlgateway.role.report import RoleReport
from sqlgateway.target import add_database_url_flag, database_target

__all__ = ["add_role_parsers"]

DEFAULT_ROLE = "sqlgateway_reader"


def add_role_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `check-role` and `provision-role`."""
    check = commands.add_parser(
        "check-role",
        help="check the database role against the safe serving role (exit 1 unsafe, "
        "3 reduced depth)",
    )
    add_database_url_flag(check, "URL of the role to check")
    check.add_argument(
        "--role", help="check this role instead of the URL's own (e.g. with an admin's URL)"
    )
    check.set_defaults(func=_check_role)

    provision = commands.add_parser(
        "provision-role", help="print (or --apply) the SQL that makes a safe serving role"
    )
    provision.add_argument("--role", default=DEFAULT_ROLE, help="role name")
    provision.add_argument("--database", required=True, help="database the role reads")
    provision.add_argument(
        "--schema", action="append", help="schema to grant SELECT on (repeatable; default public)"
    )
    provision.add_argument("--password", help="login password to set (omit for peer/cert auth)")
    provision.add_argument(
        "--no-grant-back",
        action="store_true",
        help="do not grant what is revoked from PUBLIC back to the database's other roles",
    )
    provision.add_argument("--apply", action="store_true", help="run the SQL instead of printing")
    provision.add_argument(
        "--admin-url", help="an administrator's URL (superuser or database owner), for --apply"
    )
    provision.set_defaults(func=_provision_role)


def _check_role(args: argparse.Namespace) -> int:
    settings = load_settings()
    with database_target(settings, args.database_url) as target:
        url = target.database_url

        async def inspect() -> RoleReport:
            conn = await asyncpg.connect(url)
            try:
                return await inspect_role(conn, args.role)
            finally:
                await conn.close()

        try:
            report = on_database(url, inspect, what="check the role")
        except RoleNotFoundError as error:
            where = describe_dsn(url, with_user=True)
            raise CommandError(
                f"{error} on {where}. Next: check --role, or make it with "
                "`sqlgateway provision-role`."
            ) from None
    print(report.render())
    return exit_code(report)


def exit_code(report: RoleReport) -> int:
    """check-role's exit code for `report`: 1 unsafe, 3 reduced depth, else 0."""
    if report.severity is Severity.UNSAFE:
        return FAILED
    return REDUCED_DEPTH if report.severity is Severity.REDUCED else OK


def _provision_role(args: argparse.Namespace) -> int:
    schemas = tuple(args.schema or ["public"])
    grant_back = not args.no_grant_back
    sql = provision_sql(
        args.role, args.database, schemas, password=args.password, grant_back=grant_back
    )
    if not args.apply:
        sys.stdout.write(sql)
        return OK
    if not args.admin_url:
        raise CommandError(
            "--apply needs --admin-url: the URL of a superuser, or of the database's owner "
            "with CREATEROLE (a managed database's administrator)",
            code=USAGE,
        )
    from sqlgateway.demo.database import derive_dsn

    try:
        url = derive_dsn(args.admin_url, database=args.database)
    except ValueError as error:
        raise CommandError(f"--admin-url is not usable: {error}", code=USAGE) from None
    result = on_database(url, lambda: apply_provision(url, sql, args.role), what="provision")
    print(_summary(result, args.database, grant_back))
    return OK if result.report.safe else FAILED


def _summary(result: ProvisionResult, database: str, grant_back: bool) -> str:
    report = result.report
    who = "a superuser" if result.superuser else "not a superuser"
    lines = [
        f"sqlgateway: role {report.role} provisioned in database {database} "
        f"by {result.administrator} ({who})",
        *(f"  {notice}" for notice in result.notices),
    ]
    # what needs a superuser is printed once, below, as the script a superuser would run
    lines.append(report.render(superuser_fixes=not result.needs_superuser))
    if result.needs_superuser:
        lines += [
            "",
            f"Reduced depth: {report.role} is safe to serve with, but only a superuser can "
            f"close these layers behind the guard: {', '.join(result.needs_superuser)}. Until "
            "then the guard alone stops what they would. A superuser (or the provider's "
            f"support) would run, in database {database}:",
            "",
            superuser_sql(report.role, grant_back=grant_back),
        ]
    return "\n".join(lines)
