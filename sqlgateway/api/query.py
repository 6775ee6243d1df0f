"""POST /query: SQL string in, bounded JSON records out."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from sqlgateway.body import parse_json_body, read_body
from sqlgateway.executor import QueryPlan
from sqlgateway.responses import JSON
from sqlgateway.services import Services


class QueryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    sql: str = Field(
        min_length=1,
        description="One read-only PostgreSQL statement: SELECT, WITH … SELECT, VALUES or TABLE.",
    )
    max_rows: int | None = Field(
        default=None, ge=1, description="Return at most this many rows (lowers the limit only)."
    )


async def run_query(request: Request) -> Response:
    services: Services = request.state.services
    raw = await read_body(request, services.settings.max_request_chars)
    query = parse_json_body(raw, QueryRequest)
    verdict = services.check_sql(query.sql)
    plan = QueryPlan(sql=verdict.sql, has_order_by=verdict.has_order_by, max_rows=query.max_rows)
    result = await services.database.run(plan)
    return Response(result.body, media_type=JSON)
