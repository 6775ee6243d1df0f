"""The service's own logs (not the audit trail): JSON lines or readable text.

With `log_format="json"` every line is one JSON object: `ts` (UTC, ISO 8601 with ms),
`level`, `logger`, `message`, then the record's `extra` fields (request_id, status, …) and
`exc` for a traceback. With "text": `ts LEVEL logger: message key=value …`.

Uvicorn's access log is switched off: `middleware.RequestLog` writes one line per request
instead, from `request_log_fields`, which never holds SQL text, keys or tokens.
"""

from __future__ import annotations

import json
import logging
import logging.config
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from sqlgateway.http.record import RequestRecord

if TYPE_CHECKING:
    from sqlgateway.settings import Settings

#: Uvicorn's TRACE level, below DEBUG.
TRACE = 5

#: Attributes every LogRecord has: anything else on a record came from `extra=`.
_RECORD_ATTRIBUTES = frozenset(
    {
        *logging.LogRecord("", 0, "", 0, "", (), None).__dict__,
        "message",
        "asctime",
        "taskName",  # 3.12+
        "color_message",  # uvicorn's colourised copy of the message
    }
)


def request_log_fields(record: RequestRecord) -> dict[str, Any]:
    """The `extra` of the one log line per request: who, what, how it ended, how long.
    Never SQL text (that goes to the audit trail), nor credentials."""
    return {
        "request_id": record.request_id,
        "method": record.method,
        "path": record.path,
        "status": record.status,
        "outcome": record.outcome,
        "actor": record.actor,
        "rows": record.rows,
        "total_ms": _ms(record.total_ms),
        "db_ms": _ms(record.db_ms),
        "guard_ms": _ms(record.guard_ms),
    }


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The fields a log call added with `extra=`."""
    return {key: value for key, value in record.__dict__.items() if key not in _RECORD_ATTRIBUTES}


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in extra_fields(record).items():
            line.setdefault(key, value)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        try:
            return orjson.dumps(line, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
        except TypeError:  # e.g. an integer beyond 64 bits: never lose the line
            return json.dumps(line, default=str)


class TextFormatter(logging.Formatter):
    """`ts LEVEL logger: message key=value …` (None values left out)."""

    def format(self, record: logging.LogRecord) -> str:
        text = f"{_timestamp(record)} {record.levelname:<7} {record.name}: {record.getMessage()}"
        extras = " ".join(
            f"{key}={value}" for key, value in extra_fields(record).items() if value is not None
        )
        if extras:
            text = f"{text} {extras}"
        if record.exc_info:
            text = f"{text}\n{self.formatException(record.exc_info)}"
        if record.stack_info:
            text = f"{text}\n{self.formatStack(record.stack_info)}"
        return text


def log_level(name: str) -> int:
    """`info`, `DEBUG`, `trace`… as a logging level; ValueError names the choices."""
    levels = {"TRACE": TRACE, **logging.getLevelNamesMapping()}
    try:
        return levels[name.strip().upper()]
    except KeyError:
        choices = "trace, debug, info, warning, error, critical"
        raise ValueError(f"unknown log level {name!r}; choose one of {choices}") from None


def uvicorn_log_config(settings: Settings) -> dict[str, Any]:
    """The `logging.config.dictConfig` of the gateway and uvicorn: give it to
    `uvicorn.run(log_config=...)` so every worker process configures the same logging.
    Uvicorn's access log has no handler (its protocols then skip it entirely)."""
    formatter = JsonFormatter if settings.log_format == "json" else TextFormatter
    level = log_level(settings.log_level)
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "default": {"()": f"{formatter.__module__}.{formatter.__qualname__}"},
        },
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "stream": "ext://sys.stderr",
            },
        },
        "root": {"handlers": ["default"], "level": "WARNING"},
        "loggers": {
            "sqlgateway": {"handlers": [], "level": level, "propagate": True},
            "uvicorn": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }


def configure_logging(settings: Settings) -> dict[str, Any]:
    """Apply `uvicorn_log_config(settings)` to this process and return it (for servers
    that do not take a log config, and for `app_from_environment` run by hand)."""
    config = uvicorn_log_config(settings)
    logging.config.dictConfig(config)
    return config
