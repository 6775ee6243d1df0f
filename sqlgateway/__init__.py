"""sqlgateway: a read-only SQL gateway for GPT actions and LLM agents over PostgreSQL.

The public API is the names in ``__all__``; everything else is internal and may change.
They are imported on first use, so ``import sqlgateway`` (and the CLI) stays cheap::

    from sqlgateway import Settings, create_app
    app = create_app(Settings(database_url="postgresql://reader@db/claims"))

    from sqlgateway import GuardPolicy, check_sql
    check_sql("SELECT count(*) FROM claims", GuardPolicy()).sql
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: Public name → the module that defines it.
_EXPORTS = {
    "create_app": "sqlgateway.app",
    "Settings": "sqlgateway.settings",
    "GatewayError": "sqlgateway.errors",
    "check_sql": "sqlgateway.guard",
    "GuardPolicy": "sqlgateway.guard",
    "Verdict": "sqlgateway.guard",
}

__all__ = [
    "GatewayError",
    "GuardPolicy",
    "Settings",
    "Verdict",
    "__version__",
    "check_sql",
    "create_app",
]

if TYPE_CHECKING:
    from sqlgateway.app import create_app
    from sqlgateway.errors import GatewayError
    from sqlgateway.guard import GuardPolicy, Verdict, check_sql
    from sqlgateway.settings import Settings


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sqlgateway' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value
