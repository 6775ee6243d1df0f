"""Whether the audit sink is down, and when to try it again: the retry interval doubles from
`retry_min_s` to `retry_max_s` while it keeps failing; the failure is logged at error level
once, then as a warning every DOWN_REPORT_S (failed retries in between at debug)."""

from __future__ import annotations

import logging
from pathlib import Path

__all__ = ["DOWN_REPORT_S", "SinkHealth"]

_log = logging.getLogger("sqlgateway.audit")

#: While the sink stays down, a warning is logged this often.
DOWN_REPORT_S = 60.0


class SinkHealth:
    """The sink's state for the trail's writer (times are the event loop's)."""

    def __init__(self, spill_dir: Path, retry_min_s: float, retry_max_s: float) -> None:
        self.spill_dir = spill_dir
        self.retry_min_s = retry_min_s
        self.retry_max_s = retry_max_s
        self.down = False
        #: when to try the sink again, while it is down
        self.retry_at = 0.0
        self._retry_s = retry_min_s
        self._since: float | None = None
        self._reported = 0.0

    def failed(self, exc: BaseException, now: float, spilled: int) -> None:
        """The sink failed (`spilled`: events spilled so far, for the report)."""
        what = f"{type(exc).__name__}: {exc}"
        if self._since is None:
            self._since = self._reported = now
            _log.error(
                "audit sink failed (%s); events go to the spill directory %s until it "
                "answers again",
                what,
                self.spill_dir,
            )
        elif now - self._reported >= DOWN_REPORT_S:
            self._reported = now
            _log.warning(
                "audit sink still failing after %.0f s (%s); %d event(s) spilled so far",
                now - self._since,
                what,
                spilled,
            )
        else:
            _log.debug("audit sink retry failed: %s", what)
        self.down = True
        self.retry_at = now + self._retry_s
        self._retry_s = min(self._retry_s * 2, self.retry_max_s)

    def answered(self, now: float) -> None:
        """The sink answered again."""
        self.down = False
        self._retry_s = self.retry_min_s
        if self._since is not None:
            _log.warning(
                "audit sink answers again after %.1f s; replaying the spilled events",
                now - self._since,
            )
        self._since = None
