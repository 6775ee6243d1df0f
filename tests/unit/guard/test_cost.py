"""cost: judging EXPLAIN (FORMAT JSON) estimates the way the gateway consumes rows."""

from __future__ import annotations

from typing import Any

import pytest

from sqlgateway.errors import RejectedError
from sqlgateway.guard.cost import STREAMED_ROWS_ESTIMATE, check_plan, estimate


def node(kind: str, startup: float, total: float, rows: float, *children: Any) -> dict[str, Any]:
    plan: dict[str, Any] = {
        "Node Type": kind,
        "Startup Cost": startup,
        "Total Cost": total,
        "Plan Rows": rows,
    }
    if children:
        plan["Plans"] = list(children)
    return plan


def explain(root: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"Plan": root}]


def test_streaming_scan_is_charged_for_the_rows_a_response_can_hold() -> None:
    scan = node("Seq Scan", 0, 1_000_000, 100_000_000)
    plan = estimate(explain(scan))
    assert plan.total_cost == 1_000_000
    assert plan.effective_cost == pytest.approx(1_000_000 * STREAMED_ROWS_ESTIMATE / 100_000_000)
    check_plan(plan, max_cost=10_000, max_rows=1e9)  # cheap to truncate: allowed


def test_max_rows_narrows_the_charge_further() -> None:
    scan = node("Seq Scan", 0, 1_000_000, 100_000_000)
    assert estimate(explain(scan), max_rows=10).effective_cost == pytest.approx(0.1)


def test_sort_pays_its_startup_cost() -> None:
    sort = node("Sort", 9_000_000, 9_500_000, 100_000_000, node("Seq Scan", 0, 1e6, 1e8))
    plan = estimate(explain(sort))
    assert plan.effective_cost > 9_000_000
    with pytest.raises(RejectedError) as info:
        check_plan(plan, max_cost=1e7 - 2e6, max_rows=0)
    assert info.value.construct == "cost" and "WHERE" in (info.value.hint or "")


def test_rows_consumed_below_a_blocking_node_are_bounded() -> None:
    aggregate = node(
        "Aggregate", 2e6, 2e6, 1, node("Nested Loop", 0, 1.5e6, 1e10, node("Seq Scan", 0, 1, 1e5))
    )
    plan = estimate(explain(aggregate))
    assert plan.max_consumed_rows == 1e10
    with pytest.raises(RejectedError) as info:
        check_plan(plan, max_cost=0, max_rows=1e9)
    assert info.value.construct == "rows"


def test_rows_on_the_streaming_spine_do_not_count() -> None:
    join = node("Nested Loop", 0, 1.5e8, 1e10, node("Seq Scan", 0, 1, 1e5))
    assert estimate(explain(join)).max_consumed_rows == 0


def test_zero_disables_both_checks() -> None:
    plan = estimate(explain(node("Aggregate", 1e12, 1e12, 1, node("Seq Scan", 0, 1e12, 1e15))))
    check_plan(plan, max_cost=0, max_rows=0)


@pytest.mark.parametrize("output", [["Utility Statement"], [], {}, [{"Plan": {}}], None])
def test_output_that_is_not_a_query_plan_is_refused(output: Any) -> None:
    with pytest.raises(RejectedError) as info:
        estimate(output)
    assert info.value.construct == "statement"
