"""Which backtested candidate is published, and why.

Selection (``choose``). The lowest mean backtest WAPE wins; candidates within
``TIE_TOLERANCE`` (relative) of it count as tied and the simplest of them wins (each
candidate class has a ``simplicity`` rank: seasonal naive, trailing mean, theta, ets, stl,
arima, combination, prophet). Seasonal naive is the simplest, so unless some candidate
beats it by more than the tolerance, seasonal naive is published.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ml.forecast.backtesting import ForecastNotPossible
from ml.forecast.candidates import SeasonalNaiveCandidate, default_candidates
from ml.forecast.candidates.base import ForecastCandidate

# Mean WAPEs this close (relative) are a tie that the simpler candidate wins: over five
# folds a 1% difference is well within the fold-to-fold spread.
TIE_TOLERANCE = 0.01


def simplicity(candidate: ForecastCandidate) -> int:
    """The candidate class's ``simplicity`` rank; one past every built-in rank when it has none."""
    return getattr(type(candidate), "simplicity", len(default_candidates()))


@dataclass(frozen=True)
class Choice:
    name: str
    reason: str


def choose(
    mean_wape: dict[str, float], candidates: Sequence[ForecastCandidate], tolerance: float = TIE_TOLERANCE
) -> Choice:
    """The candidate to publish among those with a mean backtest WAPE, and why, in one line.

    The lowest WAPE wins; every candidate within ``tolerance`` (relative) of it is tied,
    and the tie goes to the simplest (``simplicity``, then the order of ``candidates``).
    Seasonal naive is the simplest built-in candidate, so it is published unless another
    beats it by more than the tolerance. When WAPE is undefined for all of them (no revenue
    in any backtest window) seasonal naive is published if it took part.
    """
    position = {candidate.name: index for index, candidate in enumerate(candidates)}
    by_name = {candidate.name: candidate for candidate in candidates}
    scored = [name for name in position if name in mean_wape]
    if not scored:
        raise ForecastNotPossible("no candidate forecast every backtest fold")
    finite = [name for name in scored if math.isfinite(mean_wape[name])]
    naive = next((name for name in scored if isinstance(by_name[name], SeasonalNaiveCandidate)), None)
    if not finite:
        if naive is None:
            raise ForecastNotPossible("WAPE is undefined: every day of the backtest windows has zero revenue")
        return Choice(
            naive, f"{naive}: every backtest day had zero revenue, so WAPE is undefined; seasonal naive is published"
        )
    best = min(finite, key=lambda name: (mean_wape[name], position[name]))
    tied = [name for name in finite if mean_wape[name] <= mean_wape[best] * (1 + tolerance)]
    chosen = min(tied, key=lambda name: (simplicity(by_name[name]), position[name]))
    figure = f"mean backtest WAPE {mean_wape[chosen]:.3f}"
    if chosen == naive:
        if chosen == best:
            return Choice(chosen, f"{chosen}: {figure}, the lowest; no candidate beats seasonal naive")
        return Choice(
            chosen,
            f"{chosen}: {figure}; no candidate beats it by more than {tolerance:.0%} "
            f"(best {best} {mean_wape[best]:.3f}), so seasonal naive is published",
        )
    against = f" vs seasonal naive {mean_wape[naive]:.3f}" if naive is not None else ""
    if chosen == best:
        return Choice(chosen, f"{chosen}: lowest {figure}{against}")
    return Choice(
        chosen,
        f"{chosen}: {figure}, within {tolerance:.0%} of the lowest ({best} {mean_wape[best]:.3f}) and simpler{against}",
    )
