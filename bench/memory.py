"""Resident memory of a process: current, peak (VmHWM), and a peak sampled while work runs.

Linux only. The kernel's high-water mark can be reset to the current RSS by writing "5" to
/proc/<pid>/clear_refs (Linux 4.0+, own processes or root); where that is refused the sampler
(RSS read every ~1 ms from another thread) still bounds the peak from below.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

MIB = 1024 * 1024


def _status_kib(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field):
                return int(line.split()[1])
    raise LookupError(field)


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def hwm_bytes(pid: int) -> int:
    return _status_kib(pid, "VmHWM:") * 1024


def reset_hwm(pid: int) -> bool:
    """Reset the peak RSS to the current RSS; False when the kernel refuses."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w", encoding="ascii") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


@dataclass(frozen=True)
class MemoryGrowth:
    rss_before: int
    peak: int  # the larger of the sampled peak and VmHWM (when it could be reset)
    samples: int
    hwm_reset: bool

    @property
    def growth_mib(self) -> float:
        return max(0, self.peak - self.rss_before) / MIB


class PeakSampler:
    """`with PeakSampler(pid) as sampler: <work>`; then `sampler.result`."""

    def __init__(self, pid: int, interval_s: float = 0.001) -> None:
        self.pid = pid
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._peak = 0
        self._samples = 0
        self.result: MemoryGrowth | None = None

    def _sample(self) -> None:
        while not self._stop.is_set():
            self._peak = max(self._peak, rss_bytes(self.pid))
            self._samples += 1
            time.sleep(self.interval_s)

    def __enter__(self) -> PeakSampler:
        self._hwm_reset = reset_hwm(self.pid)
        self._before = rss_bytes(self.pid)
        self._peak = self._before
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        peak = max(self._peak, rss_bytes(self.pid))
        if self._hwm_reset:
            peak = max(peak, hwm_bytes(self.pid))
        self.result = MemoryGrowth(self._before, peak, self._samples, self._hwm_reset)
