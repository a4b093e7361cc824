"""A change detector for a model's realised quality: Page-Hinkley on its excess error.

Each value is how much worse the model did than its own evaluation promised (realised WAPE
minus the backtest WAPE of the version that made the forecast). The detector sums the excess
beyond a tolerance and fires when that sum has risen more than ``threshold`` above its lowest
point: one bad day moves it by that day's excess only, a lasting drop keeps adding up. It is
the classic test of Page (1954) and Hinkley (1971), one-sided for a rise in error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ChangeResult:
    fired: bool
    at: int | None  # index of the value at which it fired first
    statistic: float  # the last value of the Page-Hinkley statistic
    values: int


def page_hinkley(excess: Sequence[float], *, tolerance: float, threshold: float) -> ChangeResult:
    cumulative, lowest, statistic, fired_at = 0.0, 0.0, 0.0, None
    for index, value in enumerate(excess):
        cumulative += value - tolerance
        lowest = min(lowest, cumulative)
        statistic = cumulative - lowest
        if fired_at is None and statistic > threshold:
            fired_at = index
    return ChangeResult(fired_at is not None, fired_at, statistic, len(excess))
