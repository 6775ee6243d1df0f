"""The SQL guard: decides whether a statement may run and what SQL to run for it.

Pure and thread-safe; an allowlist at every level (statement kinds, tree nodes, functions,
relations). See docs/guard.md for the rules and their order.

    from sqlgateway.guard import check_sql, GuardPolicy
    verdict = check_sql("SELECT * FROM claims LIMIT 5", GuardPolicy())
"""

from sqlgateway.guard.check import check_sql
from sqlgateway.guard.policy import GuardPolicy
from sqlgateway.guard.verdict import Verdict

__all__ = ["GuardPolicy", "Verdict", "check_sql"]
