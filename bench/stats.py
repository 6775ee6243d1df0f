"""Summaries of repeated measurements and the Markdown tables they are printed in."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], fraction: float) -> float:
    """The `fraction` quantile (0..1) of `values`, nearest-rank; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1))
    return ordered[rank]


@dataclass(frozen=True)
class Spread:
    """min / median / max of one metric over the rounds of a run."""

    min: float
    median: float
    max: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        if not values:
            return cls(math.nan, math.nan, math.nan, 0)
        return cls(min(values), statistics.median(values), max(values), len(values))

    def render(self, digits: int = 1) -> str:
        if self.n == 0:
            return "–"
        if self.n == 1:
            return f"{self.median:,.{digits}f}"
        return f"{self.median:,.{digits}f} ({self.min:,.{digits}f}–{self.max:,.{digits}f})"

    def as_dict(self) -> dict[str, float | int]:
        return {"min": self.min, "median": self.median, "max": self.max, "n": self.n}


def ratio(numerator: Sequence[float], denominator: Sequence[float]) -> Spread:
    """Same-round ratios (round i of one variant over round i of another): on a noisy machine
    only numbers measured side by side mean anything."""
    return Spread.of([a / b for a, b in zip(numerator, denominator, strict=True) if b])


def difference(minuend: Sequence[float], subtrahend: Sequence[float]) -> Spread:
    """Same-round differences (round i of one variant minus round i of another)."""
    return Spread.of([a - b for a, b in zip(minuend, subtrahend, strict=True)])


def rotated(items: Sequence[str], round_index: int) -> list[str]:
    """The variants in the order of round `round_index`: each round starts one later."""
    shift = round_index % len(items) if items else 0
    return [*items[shift:], *items[:shift]]


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" if i == 0 else "--:" for i in range(len(header))) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def verdict(ok: bool) -> str:
    return "met" if ok else "**MISSED**"
