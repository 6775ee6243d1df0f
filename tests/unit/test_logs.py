"""logs: one JSON object per line with the request's fields; no SQL in the request line."""

from __future__ import annotations

import io
import json
import logging
import logging.config
from collections.abc import Iterator
from datetime import datetime

import pytest

from sqlgateway.http.record import RequestRecord
from sqlgateway.logs import (
    JsonFormatter,
    TextFormatter,
    configure_logging,
    log_level,
    request_log_fields,
    uvicorn_log_config,
)
from sqlgateway.settings import Settings

SQL = "SELECT secret_column FROM claims WHERE note = 'hunter2'"


def finished_record() -> RequestRecord:
    record = RequestRecord(
        method="POST",
        path="/query",
        actor="analyst-key",
        sql_received=SQL,
        sql_executed=SQL + " LIMIT 101",
        outcome="ok",
        status=200,
        rows=3,
        guard_ms=0.4321,
        db_ms=12.34567,
    )
    record.finish()
    return record


def log_line(formatter: logging.Formatter, message: str, **extra: object) -> str:
    logger = logging.Logger("sqlgateway.test")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger.addHandler(handler)
    logger.info(message, extra=extra)
    return stream.getvalue()


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """configure_logging changes process-wide logging: put the loggers back afterwards."""
    names = ["", "sqlgateway", "uvicorn", "uvicorn.error", "uvicorn.access"]
    saved = [
        (logger, logger.level, list(logger.handlers), logger.propagate)
        for logger in map(logging.getLogger, names)
    ]
    yield
    for logger, level, handlers, propagate in saved:
        logger.setLevel(level)
        logger.handlers = handlers
        logger.propagate = propagate


def test_request_fields_are_the_summary_without_sql() -> None:
    record = finished_record()
    fields = request_log_fields(record)
    assert fields["request_id"] == record.request_id
    assert {"method": "POST", "path": "/query", "status": 200, "outcome": "ok"}.items() <= (
        fields.items()
    )
    assert fields["actor"] == "analyst-key"
    assert fields["db_ms"] == 12.346
    assert isinstance(fields["total_ms"], float)
    text = json.dumps(fields)
    assert "SELECT" not in text
    assert "hunter2" not in text
    assert not {"sql_received", "sql_executed", "client_addr", "user_agent"} & fields.keys()


def test_request_fields_do_not_clash_with_log_record_attributes() -> None:
    # logging raises KeyError when `extra` would overwrite a LogRecord attribute
    line = log_line(JsonFormatter(), "request", **request_log_fields(finished_record()))
    assert json.loads(line)["path"] == "/query"


def test_json_line_is_one_object_with_the_request_id() -> None:
    record = finished_record()
    line = log_line(JsonFormatter(), "request", **request_log_fields(record))
    assert line.count("\n") == 1
    event = json.loads(line)
    assert event["message"] == "request"
    assert event["level"] == "info"
    assert event["logger"] == "sqlgateway.test"
    assert event["request_id"] == record.request_id
    assert event["status"] == 200
    assert event["db_ms"] == 12.346
    ts = event["ts"]
    assert ts.endswith("Z")
    assert len(ts.split(".")[1]) == len("123Z")  # milliseconds
    assert datetime.fromisoformat(ts).utcoffset() is not None


def test_json_line_keeps_exceptions_and_odd_values_on_one_line() -> None:
    logger = logging.Logger("sqlgateway.test")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        logger.exception("failed %s", "here", extra={"odd": object(), "big": 2**70})
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    event = json.loads(lines[0])
    assert event["message"] == "failed here"
    assert event["level"] == "error"
    assert "ValueError: boom" in event["exc"]
    assert event["odd"].startswith("<object")
    assert event["big"] == 2**70


def test_text_line_is_readable_with_its_fields() -> None:
    line = log_line(TextFormatter(), "request", request_id="abc", status=200, db_ms=None)
    assert " INFO " in line
    assert "sqlgateway.test: request request_id=abc status=200" in line
    assert "db_ms" not in line


@pytest.mark.parametrize(
    ("name", "level"), [("info", logging.INFO), ("DEBUG", logging.DEBUG), ("trace", 5)]
)
def test_log_levels(name: str, level: int) -> None:
    assert log_level(name) == level


def test_an_unknown_log_level_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown log level 'loud'"):
        log_level("loud")


@pytest.mark.parametrize(
    ("log_format", "formatter"), [("json", JsonFormatter), ("text", TextFormatter)]
)
def test_uvicorn_config_uses_the_format_and_drops_the_access_log(
    log_format: str, formatter: type[logging.Formatter]
) -> None:
    config = uvicorn_log_config(Settings(log_format=log_format, log_level="debug"))
    assert config["formatters"]["default"]["()"] == f"sqlgateway.logs.{formatter.__name__}"
    assert config["loggers"]["sqlgateway"]["level"] == logging.DEBUG
    access = config["loggers"]["uvicorn.access"]
    assert access["handlers"] == []
    assert access["propagate"] is False


def test_configured_logging_writes_json_for_ours_and_uvicorns_loggers(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(Settings(log_format="json", log_level="info"))
    logging.getLogger("sqlgateway").info("request", extra={"request_id": "r1"})
    logging.getLogger("sqlgateway.audit").debug("not at info")
    logging.getLogger("uvicorn.error").info("Started server process")
    logging.getLogger("uvicorn.access").info('127.0.0.1 - "GET / HTTP/1.1" 200')
    assert not logging.getLogger("uvicorn.access").hasHandlers()  # uvicorn then skips it
    lines = capsys.readouterr().err.splitlines()
    events = [json.loads(line) for line in lines]
    assert [(e["logger"], e["message"]) for e in events] == [
        ("sqlgateway", "request"),
        ("uvicorn.error", "Started server process"),
    ]
    assert events[0]["request_id"] == "r1"
    assert "color_message" not in events[1]
