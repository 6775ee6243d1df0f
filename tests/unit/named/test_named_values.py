"""values.py: each parameter type takes one JSON shape, within its constraints, and says what
it allows otherwise."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from sqlgateway.named.docs import ParameterDoc
from sqlgateway.named.values import (
    BIGINT_MAX,
    DEFAULT_MAX_STRING_CHARS,
    BadValueError,
    allowed,
    convert,
    json_ready,
)


def parameter(kind: str, **fields: Any) -> ParameterDoc:
    return ParameterDoc.model_validate({"type": kind, "description": "x", **fields})


CLAIM = parameter("string", pattern="^CLM-[0-9]{7}$")
STATUS = parameter("enum", allowed_values={"open": "not settled", "paid": "settled"})
COUNT = parameter("integer", minimum=1, maximum=50)
AMOUNT = parameter("number", minimum=0)
FLAG = parameter("boolean")
DAY = parameter("date", minimum="2021-01-01", maximum=date(2026, 7, 1))
MOMENT = parameter("timestamp")


@pytest.mark.parametrize(
    ("spec", "value", "bound"),
    [
        (CLAIM, "CLM-0000123", "CLM-0000123"),
        (parameter("string"), "O'Brien -- /* */ ; DELETE", "O'Brien -- /* */ ; DELETE"),
        (STATUS, "paid", "paid"),
        (COUNT, 50, 50),
        (AMOUNT, 0, 0),
        (AMOUNT, 12.5, 12.5),
        (FLAG, False, False),
        (DAY, "2026-06-30", date(2026, 6, 30)),
        (MOMENT, "2026-06-30T12:00:00Z", datetime(2026, 6, 30, 12, tzinfo=UTC)),
        (
            MOMENT,
            "2026-06-30 12:00:00.5+02:00",
            datetime(2026, 6, 30, 12, 0, 0, 500000, tzinfo=timezone(timedelta(hours=2))),
        ),
    ],
)
def test_accepted_values_are_bound_as_their_type(
    spec: ParameterDoc, value: Any, bound: Any
) -> None:
    result = convert(spec, value)
    assert result == bound and type(result) is type(bound)


@pytest.mark.parametrize(
    ("spec", "value", "says"),
    [
        (CLAIM, "CLM-123", "matching ^CLM-[0-9]{7}$"),
        (CLAIM, "CLM-0000123\n", "matching"),  # Python's $ would match before the newline
        (CLAIM, "' OR '1'='1", "matching"),
        (CLAIM, 123, "a string"),
        (CLAIM, ["CLM-0000123"], "a string"),
        (parameter("string"), "x" * (DEFAULT_MAX_STRING_CHARS + 1), "at most 1000 characters"),
        (parameter("string", max_length=5), "abcdef", "at most 5 characters"),
        (parameter("string", min_length=2), "a", "of 2 to 1000 characters"),
        (parameter("string"), "nul\x00byte", "a string"),
        (STATUS, "closed", "one of open, paid"),
        (STATUS, "PAID", "one of open, paid"),
        (COUNT, "5", "an integer from 1 to 50"),
        (COUNT, 5.5, "an integer"),
        (COUNT, True, "an integer"),
        (COUNT, 0, "an integer from 1 to 50"),
        (COUNT, 51, "an integer from 1 to 50"),
        (COUNT, [1], "an integer"),
        (COUNT, {"$gt": 1}, "an integer"),
        (COUNT, "1; DELETE FROM claims", "an integer"),
        (parameter("integer"), BIGINT_MAX + 1, "from -9223372036854775808"),
        (AMOUNT, -0.01, "a number of at least 0"),
        (AMOUNT, "12.5", "a number"),
        (AMOUNT, float("inf"), "finite"),
        (FLAG, "true", "true or false"),
        (FLAG, 1, "true or false"),
        (DAY, "2026-02-30", "a date YYYY-MM-DD"),
        (DAY, "20260630", "a date YYYY-MM-DD"),
        (DAY, "2020-12-31", "from 2021-01-01 to 2026-07-01"),
        (MOMENT, "2026-06-30T12:00:00", "a date-time with a UTC offset"),
        (MOMENT, "yesterday", "a date-time"),
    ],
)
def test_refused_values_say_what_is_allowed(spec: ParameterDoc, value: Any, says: str) -> None:
    with pytest.raises(BadValueError) as refused:
        convert(spec, value)
    assert says in str(refused.value)


@pytest.mark.parametrize("spec", [CLAIM, STATUS, COUNT, AMOUNT, FLAG, DAY, MOMENT])
def test_refused_values_are_never_echoed(spec: ParameterDoc) -> None:
    with pytest.raises(BadValueError) as refused:
        convert(spec, "secret-value-Zq9")
    assert "Zq9" not in str(refused.value)


def test_an_integral_number_is_an_integer() -> None:
    assert convert(COUNT, 5.0) == 5 and type(convert(COUNT, 5.0)) is int


def test_yaml_dates_and_naive_date_times() -> None:
    assert convert(DAY, date(2026, 1, 1)) == date(2026, 1, 1)
    assert convert(MOMENT, datetime(2026, 1, 1)) == datetime(2026, 1, 1, tzinfo=UTC)
    assert json_ready(date(2026, 1, 1)) == "2026-01-01"
    assert json_ready(7) == 7


def test_allowed_reads_as_a_phrase() -> None:
    assert allowed(COUNT) == "an integer from 1 to 50"
    assert allowed(FLAG) == "true or false"
    assert allowed(parameter("number", maximum=9.5)) == "a number of at most 9.5"
    assert allowed(STATUS) == "one of open, paid"
