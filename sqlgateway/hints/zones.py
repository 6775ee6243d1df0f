"""Time zone names PostgreSQL does not know (22023): Windows names (``'Eastern Standard
Time'``, as SQL Server's AT TIME ZONE takes them) → the IANA name; a misspelt IANA name → the
closest one. Pure; registered in postgres.py's RULES.
"""

from __future__ import annotations

import difflib
import re
import zoneinfo
from functools import cache

from sqlgateway.hints.failure import Failure

#: Windows time zone names (as SQL Server's AT TIME ZONE takes them), by their words without
#: "standard"/"daylight"/"time", → the IANA name PostgreSQL knows (CLDR's mapping).
_WINDOWS_ZONES = {
    "eastern": "America/New_York",
    "us eastern": "America/Indiana/Indianapolis",
    "central": "America/Chicago",
    "mountain": "America/Denver",
    "us mountain": "America/Phoenix",
    "pacific": "America/Los_Angeles",
    "alaskan": "America/Anchorage",
    "hawaiian": "Pacific/Honolulu",
    "atlantic": "America/Halifax",
    "gmt": "Europe/London",
    "greenwich": "Atlantic/Reykjavik",
    "coordinated universal": "UTC",
    "w. europe": "Europe/Berlin",
    "central europe": "Europe/Budapest",
    "central european": "Europe/Warsaw",
    "romance": "Europe/Paris",
    "e. europe": "Europe/Chisinau",
    "gtb": "Europe/Bucharest",
    "russian": "Europe/Moscow",
    "india": "Asia/Kolkata",
    "china": "Asia/Shanghai",
    "singapore": "Asia/Singapore",
    "tokyo": "Asia/Tokyo",
    "korea": "Asia/Seoul",
    "aus eastern": "Australia/Sydney",
    "e. australia": "Australia/Brisbane",
    "new zealand": "Pacific/Auckland",
    "e. south america": "America/Sao_Paulo",
}
_ZONE_MESSAGE = re.compile(r'^time zone "(.*)" not recognized')


def time_zone(failure: Failure) -> list[str]:
    """22023 ``time zone "Eastern Standard Time" not recognized`` → the IANA name."""
    match = _ZONE_MESSAGE.match(failure.message)
    if match is None:
        return []
    written = match.group(1)
    words = " ".join(
        w for w in written.lower().split() if w not in {"standard", "daylight", "time"}
    )
    meant = _WINDOWS_ZONES.get(words) or _close_zone(written)
    if meant is not None:
        return [
            f"PostgreSQL names time zones as IANA does: write AT TIME ZONE '{meant}' "
            f"(for '{_clip(written, 60)}'), or timezone('{meant}', …)"
        ]
    return [
        "PostgreSQL names time zones as IANA does, e.g. 'America/New_York', 'Europe/Berlin' "
        "or 'UTC' (or an offset such as INTERVAL '-05:00')"
    ]


def _close_zone(written: str) -> str | None:
    if len(written) > 64:  # no time zone name is this long
        return None
    found = difflib.get_close_matches(written.lower(), list(_iana_zones()), n=1, cutoff=0.8)
    return _iana_zones()[found[0]] if found else None


@cache
def _iana_zones() -> dict[str, str]:
    return {name.lower(): name for name in zoneinfo.available_timezones()}


def _clip(text: str, most: int) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"
