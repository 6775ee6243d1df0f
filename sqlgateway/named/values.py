"""One parameter value: JSON (or YAML) in, the Python value the driver binds out, or a
`BadValueError` saying what is allowed. Pure.

Each type takes exactly one JSON shape (no coercion: ``"5"`` is not an integer, ``1`` is not
a boolean), so what the spec promises and what the gateway accepts are the same:

| type      | JSON                         | bound as                                  |
|-----------|------------------------------|-------------------------------------------|
| string    | string                       | str (no NUL; at most max_length, default 1,000 characters) |
| enum      | string, one of allowed_values | str                                      |
| integer   | integer (5.0 too)            | int, within PostgreSQL bigint             |
| number    | integer or decimal number    | int or float (finite)                     |
| boolean   | true or false                | bool                                      |
| date      | string YYYY-MM-DD            | datetime.date                             |
| timestamp | string, RFC 3339 with offset | datetime.datetime (aware)                 |

Values from YAML (defaults, examples, bounds) may also be dates and date-times, which YAML
reads from unquoted ``2026-07-01``; a YAML date-time without offset is taken as UTC.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlgateway.named.docs import ParameterDoc

__all__ = [
    "BIGINT_MAX",
    "BIGINT_MIN",
    "DEFAULT_MAX_STRING_CHARS",
    "BadValueError",
    "allowed",
    "convert",
    "json_ready",
]

#: Longest string value when the parameter declares no max_length.
DEFAULT_MAX_STRING_CHARS = 1_000
BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
#: RFC 3339 date-time: date, T (or t or space), time with optional fraction, Z or ±hh:mm.
_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})"
)


class BadValueError(ValueError):
    """A value its parameter does not accept; the message says what it accepts."""


def convert(parameter: ParameterDoc, value: Any, *, bounds: bool = True) -> Any:
    """The value to bind for `value` (not None), or BadValueError saying what is allowed.
    `bounds`: also apply minimum/maximum (off while the bounds themselves are checked)."""
    kind = parameter.type
    if kind in ("string", "enum"):
        result: Any = _string(parameter, value)
    elif kind == "integer":
        result = _integer(parameter, value)
    elif kind == "number":
        result = _number(parameter, value)
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise BadValueError(f"must be true or false ({allowed(parameter)})")
        result = value
    elif kind == "date":
        result = _date(parameter, value)
    else:
        result = _timestamp(parameter, value)
    if bounds:
        _within(parameter, result)
    return result


def allowed(parameter: ParameterDoc) -> str:
    """What `parameter` accepts, in a few words (for error messages and descriptions)."""
    kind = parameter.type
    if kind == "enum":
        return "one of " + ", ".join(parameter.allowed_values)
    if kind == "string":
        parts = ["a string"]
        if parameter.pattern:
            parts.append(f"matching {parameter.pattern}")
        most = parameter.max_length or DEFAULT_MAX_STRING_CHARS
        least = parameter.min_length or 0
        parts.append(
            f"of {least} to {most} characters" if least else f"of at most {most} characters"
        )
        return " ".join(parts)
    if kind == "boolean":
        return "true or false"
    what = {
        "integer": "an integer",
        "number": "a number",
        "date": "a date YYYY-MM-DD",
        "timestamp": "a date-time with a UTC offset, such as 2026-06-30T12:00:00Z",
    }[kind]
    low, high = _shown(parameter.minimum), _shown(parameter.maximum)
    if low is not None and high is not None:
        return f"{what} from {low} to {high}"
    if low is not None:
        return f"{what} of at least {low}"
    if high is not None:
        return f"{what} of at most {high}"
    return what


def json_ready(value: Any) -> Any:
    """`value` as JSON can hold it (dates and date-times as ISO 8601 text)."""
    if isinstance(value, date):  # datetime too
        return value.isoformat()
    return value


def _shown(bound: Any) -> str | None:
    if bound is None:
        return None
    return str(json_ready(bound))


def _string(parameter: ParameterDoc, value: Any) -> str:
    if not isinstance(value, str):
        raise BadValueError(f"must be {allowed(parameter)}")
    if parameter.type == "enum":
        if value not in parameter.allowed_values:
            raise BadValueError(f"must be {allowed(parameter)}")
        return value
    most = parameter.max_length or DEFAULT_MAX_STRING_CHARS
    if len(value) > most or len(value) < (parameter.min_length or 0) or "\x00" in value:
        raise BadValueError(f"must be {allowed(parameter)}")
    if parameter.pattern and not _matches(parameter.pattern, value):
        raise BadValueError(f"must be {allowed(parameter)}")
    return value


def _matches(pattern: str, value: str) -> bool:
    """JSON Schema's `pattern`: a search anywhere, with ``$`` at the very end only (Python's
    ``$`` also matches before a final newline, ECMA-262's does not)."""
    found = re.search(pattern, value)
    if found is None:
        return False
    return not (pattern.endswith("$") and not pattern.endswith("\\$") and found.end() != len(value))


def _integer(parameter: ParameterDoc, value: Any) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # JSON Schema: 5.0 is the integer 5
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadValueError(f"must be {allowed(parameter)}")
    if not BIGINT_MIN <= value <= BIGINT_MAX:
        raise BadValueError(f"must be an integer from {BIGINT_MIN} to {BIGINT_MAX}")
    return value


def _number(parameter: ParameterDoc, value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadValueError(f"must be {allowed(parameter)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise BadValueError(f"must be {allowed(parameter)}, and finite")
    if isinstance(value, int) and not BIGINT_MIN <= value <= BIGINT_MAX:
        raise BadValueError("must be a number of at most 19 digits")
    return value


def _date(parameter: ParameterDoc, value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise BadValueError(f"must be {allowed(parameter)}, such as 2026-06-30")


def _timestamp(parameter: ParameterDoc, value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, str) and _TIMESTAMP.fullmatch(value):
        try:
            return datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
        except ValueError:
            pass
    raise BadValueError(f"must be {allowed(parameter)} (RFC 3339)")


def _within(parameter: ParameterDoc, value: Any) -> None:
    if parameter.type not in ("integer", "number", "date", "timestamp"):
        return
    low = None if parameter.minimum is None else convert(parameter, parameter.minimum, bounds=False)
    high = (
        None if parameter.maximum is None else convert(parameter, parameter.maximum, bounds=False)
    )
    if (low is not None and value < low) or (high is not None and value > high):
        raise BadValueError(f"must be {allowed(parameter)}")
