"""One named query's way, whatever protocol asked: find → validate → bind → run.

`answer_named` needs no HTTP request: `POST /queries/{name}` (api/named.py) calls it with the
parsed JSON body, and an MCP tool call can call it with the tool's arguments. Everything is
checked before any database work: the name (404 not_found), the arguments (400
invalid_request, naming each parameter and what it allows), the identity parameters (403
forbidden when the caller's identity lacks them). Values travel as bind parameters; the SQL
is the one compiled at start. The answer has the same shape, limits, truncation and notices
as `POST /query`, through the same `run_plan`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson

from sqlgateway.auth import Identity
from sqlgateway.auth.scoping import DbScope
from sqlgateway.catalog.suggest import closest
from sqlgateway.db.encode import EncodedResult, clip_text
from sqlgateway.db.executor import QueryPlan
from sqlgateway.errors import ForbiddenError, InvalidRequestError, NotFoundError
from sqlgateway.guard.sensitive import check_sensitive
from sqlgateway.http.record import RequestRecord, application_name, correlation_comment
from sqlgateway.named.compile import NamedQueries, NamedQuery
from sqlgateway.named.docs import ParameterDoc
from sqlgateway.named.values import BadValueError, allowed, convert, json_ready
from sqlgateway.query import run_plan

if TYPE_CHECKING:
    from sqlgateway.services import Services

__all__ = ["MASKED", "answer_named", "bind", "example_arguments", "find"]

#: What the audit trail records instead of a sensitive parameter's value.
MASKED = "[masked]"
#: Longest text of one argument the audit trail records for a refused request.
MAX_AUDITED_ARGUMENT_CHARS = 200
#: Most arguments of a refused request the audit trail records.
MAX_AUDITED_ARGUMENTS = 20
#: A claim value that is a plain integer (as `sub` often is), for integer identity parameters.
_INTEGER_TEXT = frozenset("0123456789")


async def answer_named(
    services: Services,
    name: str,
    arguments: Any,
    identity: Identity,
    record: RequestRecord,
    scope: DbScope,
) -> EncodedResult:
    """Run the named query `name` with `arguments` (a JSON object's value, or None for none)
    for `identity`; GatewayError when it cannot (nothing has reached the database then)."""
    query = find(services.named, name)
    record.operation = query.name
    record.sql_received = query.doc.sql
    record.tables = query.verdict.tables
    record.functions = query.verdict.functions
    record.db_role = scope.role
    record.parameters = _audited(query, arguments)
    values = bind(query, arguments, identity)
    record.parameters = {
        name: MASKED if query.doc.parameters[name].sensitive else json_ready(value)
        for name, value in zip(query.order, values, strict=True)
    }
    if services.sensitive:
        await _check_sensitive(services, query)
    record.sql_executed = query.sql  # only once nothing refuses it before the database
    plan = QueryPlan(
        sql=query.sql,
        has_order_by=query.verdict.has_order_by,
        max_rows=query.doc.max_rows,
        streams_rows=query.verdict.streams_rows,
        scope=scope,
        comment=correlation_comment(record.request_id, record.actor),
        application_name=application_name(record.request_id),
        args=values,
        statement_timeout_ms=query.timeout_ms,
        timeout_source=f"{query.name}'s timeout_ms"
        if query.timeout_ms
        else "SQLGATEWAY_STATEMENT_TIMEOUT_MS",
    )
    return await run_plan(services, plan, query.verdict, record)


def find(named: NamedQueries, name: str) -> NamedQuery:
    """The served query `name`; NotFoundError (with the closest names) or ForbiddenError
    (known, but not served with these settings)."""
    query = named.get(name)
    if query is not None:
        return query
    reason = named.unavailable.get(name)
    if reason is not None:
        raise ForbiddenError(
            f"the named query {name} is not available on this gateway: {reason}",
            hint=_available(named),
        )
    guesses = closest(name, named.names)
    maybe = f"; did you mean {' or '.join(guesses)}?" if guesses else ""
    raise NotFoundError(f"no named query {name!r}{maybe}", hint=_available(named))


def bind(query: NamedQuery, arguments: Any, identity: Identity) -> tuple[Any, ...]:
    """The values of $1 … $n: the caller's arguments (validated, defaults filled in) and the
    identity parameters (from `identity`, never from `arguments`)."""
    if arguments is None:
        arguments = {}
    doc = query.doc
    if not isinstance(arguments, Mapping):
        raise InvalidRequestError(
            f"the body of {doc.name} must be a JSON object of its parameters",
            status_code=400,
            hint=_example_hint(query),
        )
    problems = [
        f"{key} is set from the caller's identity and cannot be sent"
        if key in doc.identity_parameters
        else f"unknown parameter {key!r}"
        for key in arguments
        if key not in doc.caller_parameters
    ]
    values: list[Any] = []
    for name in query.order:
        parameter = doc.parameters[name]
        if parameter.identity is not None:
            values.append(_from_identity(query, name, parameter, identity))
            continue
        value = arguments.get(name)
        if value is None:
            if parameter.is_required:
                problems.append(f"{name} is required: {allowed(parameter)}")
                continue
            value = parameter.default
        try:
            values.append(None if value is None else convert(parameter, value))
        except BadValueError as error:
            problems.append(f"{name} {error}")
    if problems:
        takes = ", ".join(doc.caller_parameters) or "no parameters"
        raise InvalidRequestError(
            f"invalid parameters for {doc.name}: {'; '.join(problems)}",
            status_code=400,
            hint=f"{doc.name} takes {takes}; {_example_hint(query)}",
        )
    return tuple(values)


def example_arguments(query: NamedQuery) -> dict[str, Any]:
    """A valid body for `query`: each caller parameter's example, else its default (required
    parameters without either are left out)."""
    body = {}
    for name, parameter in query.doc.caller_parameters.items():
        value = parameter.example if parameter.example is not None else parameter.default
        if value is not None:
            body[name] = json_ready(value)
    return body


def _from_identity(
    query: NamedQuery, name: str, parameter: ParameterDoc, identity: Identity
) -> Any:
    source = parameter.identity
    assert source is not None
    raw = identity.actor if source.claim is None else identity.claims.get(source.claim)
    if parameter.type == "integer" and isinstance(raw, str) and raw and set(raw) <= _INTEGER_TEXT:
        raw = int(raw) if len(raw) <= 19 else raw
    elif (
        parameter.type in ("string", "enum") and isinstance(raw, int) and not isinstance(raw, bool)
    ):
        raw = str(raw)
    try:
        if raw is None or raw == "":
            raise BadValueError("is missing")
        return convert(parameter, raw)
    except BadValueError as error:
        raise ForbiddenError(
            f"{query.name} answers for the signed-in caller, and the identity's "
            f"{source.shown} {error} (it is the query's {name})",
            hint="sign in again, or ask the operator which claims the token must carry",
        ) from None


async def _check_sensitive(services: Services, query: NamedQuery) -> None:
    """Refuse a query that reads a sensitive column; checked once per catalog it is read
    against (the catalog is re-read every SQLGATEWAY_CATALOG_REFRESH_S)."""
    catalog = await services.catalog.get()
    checked = services.named.sensitive_checked
    if checked.get(query.name) is catalog:
        return
    check_sensitive(query.sql, catalog.column_map, services.sensitive)
    checked[query.name] = catalog


def _audited(query: NamedQuery, arguments: Any) -> dict[str, Any] | None:
    """What the audit trail records of arguments that were not (yet) accepted: each one
    clipped, sensitive ones masked, at most MAX_AUDITED_ARGUMENTS."""
    if not isinstance(arguments, Mapping):
        return None if arguments is None else {"(body)": _clipped(arguments)}
    shown: dict[str, Any] = {}
    for key in list(arguments)[:MAX_AUDITED_ARGUMENTS]:
        parameter = query.doc.parameters.get(str(key))
        sensitive = parameter is not None and parameter.sensitive
        shown[str(key)[:MAX_AUDITED_ARGUMENT_CHARS]] = (
            MASKED if sensitive else _clipped(arguments[key])
        )
    return shown


def _clipped(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return clip_text(text, MAX_AUDITED_ARGUMENT_CHARS)


def _available(named: NamedQueries) -> str:
    names = ", ".join(named.names)
    return f"named queries: {names}" if names else "this gateway serves no named queries"


def _example_hint(query: NamedQuery) -> str:
    return f"send a JSON object such as {orjson.dumps(example_arguments(query)).decode()}"
