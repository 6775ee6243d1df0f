"""The settings table of the README, generated from the fields' own descriptions."""

from __future__ import annotations

from pydantic_core import PydanticUndefined

from sqlgateway.settings import Settings


def _default(name: str) -> str:
    field = Settings.model_fields[name]
    if field.default_factory is not None:
        return "(see description)"
    value = field.default
    if value is None or value == () or value is PydanticUndefined:
        return "unset"
    return f"`{value}`"


def settings_markdown() -> str:
    lines = ["| Variable | Default | Meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        description = (field.description or "").replace("|", "\\|")
        lines.append(f"| `SQLGATEWAY_{name.upper()}` | {_default(name)} | {description} |")
    return "\n".join(lines) + "\n"
