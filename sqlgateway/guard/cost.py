"""The resource guard: judge PostgreSQL's own estimate (`EXPLAIN (FORMAT JSON)`, never
ANALYZE) before a statement runs. Pure: it reads the plan, it does not fetch it.

The gateway streams rows and stops at the response budget, so a plan is charged the way
PostgreSQL charges a LIMIT: its startup cost plus the share of the run cost needed for the rows
the gateway can actually return. `SELECT * FROM big_table` is cheap to truncate; sorting it, or
aggregating a cartesian product, is not.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlgateway.errors import RejectedError

#: Rows the gateway can hardly ever return in one response (budget / smallest useful row).
STREAMED_ROWS_ESTIMATE = 5_000

#: Nodes that read all of their input before returning their first row.
_BLOCKING = frozenset(
    {"Sort", "Aggregate", "Hash", "Materialize", "WindowAgg", "SetOp", "Gather Merge"}
)


@dataclass(frozen=True, slots=True)
class PlanEstimate:
    effective_cost: float
    total_cost: float
    rows: float
    max_consumed_rows: float


def estimate(plan_json: Any, max_rows: int | None = None) -> PlanEstimate:
    """Summarise the output of `EXPLAIN (FORMAT JSON)` for one statement.

    RejectedError if PostgreSQL did not plan it as a query (utility statements explain as
    `["Utility Statement"]`)."""
    try:
        root = plan_json[0]["Plan"]
        root["Total Cost"]
    except (LookupError, TypeError):
        raise RejectedError(
            "PostgreSQL does not plan this statement as a query",
            construct="statement",
            hint="only SELECT, WITH … SELECT, VALUES and TABLE are run",
        ) from None
    startup = float(root["Startup Cost"])
    total = float(root["Total Cost"])
    rows = max(float(root["Plan Rows"]), 1.0)
    wanted = min(rows, float(max_rows or STREAMED_ROWS_ESTIMATE))
    effective = startup + (total - startup) * (wanted / rows)
    consumed = [float(node["Plan Rows"]) for node, fully in _walk(root, False) if fully]
    return PlanEstimate(
        effective_cost=effective,
        total_cost=total,
        rows=rows,
        max_consumed_rows=max(consumed, default=0.0),
    )


def _walk(node: dict[str, Any], fully: bool) -> Iterator[tuple[dict[str, Any], bool]]:
    yield node, fully
    below = fully or node.get("Node Type") in _BLOCKING
    for child in node.get("Plans", ()):
        yield from _walk(child, below)


def check_plan(plan: PlanEstimate, *, max_cost: float, max_rows: float) -> None:
    """RejectedError if the estimate is over a threshold (0 disables a threshold)."""
    if max_cost and plan.effective_cost > max_cost:
        raise RejectedError(
            f"the query is estimated to be too expensive (cost {plan.effective_cost:,.0f}, "
            f"limit {max_cost:,.0f})",
            construct="cost",
            hint="add a selective WHERE filter, aggregate fewer rows, avoid sorting or joining "
            "whole large tables, or add LIMIT",
        )
    if max_rows and plan.max_consumed_rows > max_rows:
        raise RejectedError(
            f"the query would process about {plan.max_consumed_rows:,.0f} rows in one step "
            f"(limit {max_rows:,.0f})",
            construct="rows",
            hint="join on keys, filter before aggregating, or bound generate_series",
        )
