"""The entry point: backtest the candidates, choose one, refit it on all history and forecast.

``forecast_revenue(daily)`` takes the ``daily_revenue`` mart (one row per calendar day,
zero days included, columns ``date`` and ``revenue``) and returns a ``ForecastResult``:
the next ``horizon`` days from the chosen candidate, refit on all history, with the
backtest that chose it, a per-candidate table (figures, or the reason it stepped aside),
a one-line reason for the choice and a PNG plot.

Stepping aside. A candidate that cannot support the data (too short, no variation) or
whose fit raises or predicts non-finite values steps aside with the reason, and the
others go on: in the backtest it is out for every fold (its mean would not be
comparable), at the final refit the next in line is refit instead. Yearly terms need no
such rule: Prophet and STL leave them out below two years.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ml.forecast.backtesting import (
    AGGREGATE_FOLD,
    DEFAULT_FOLDS,
    ForecastNotPossible,
    _fit_predict,
    backtest,
    prepare_history,
)
from ml.forecast.candidates import ProphetCandidate, default_candidates
from ml.forecast.candidates.base import ForecastCandidate, _step_aside_reason
from ml.forecast.metrics import METRIC_COLUMNS
from ml.forecast.plot import plot_forecast
from ml.forecast.selection import choose

FITTED, STEPPED_ASIDE = "fitted", "stepped_aside"
CANDIDATE_COLUMNS = ["candidate", "status", "reason", "chosen", "folds_scored", *METRIC_COLUMNS]
_log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class ForecastResult:
    """What ``forecast_revenue`` decided and why.

    - ``forecast``: date, yhat, yhat_lower, yhat_upper (80% interval), model_name; the
      ``horizon`` days after the last day of data, from the chosen candidate refit on all
      history.
    - ``backtest``: the per-fold table of ``backtest`` (fitted candidates only).
    - ``candidates``: one row per candidate, in the order given: ``status`` (``fitted`` or
      ``stepped_aside``), ``reason`` (why it stepped aside, else empty), ``chosen``,
      ``folds_scored`` and the mean backtest metrics (NaN when it stepped aside in the
      backtest; kept when only its final refit failed).
    - ``winner``: the chosen candidate's name (see ``choose``); ``reason``: one line saying
      why; ``model``: that candidate, fitted on all history.
    - ``ranking``: the candidates that forecast every fold, lowest mean WAPE first (the
      earlier candidate on an exact tie).
    - ``prophet_lost_to``: the winner's name when a Prophet candidate took part and was not
      chosen, else None.
    - ``plot_png``: PNG bytes of the last days of history, the forecast and its interval.
    """

    forecast: pd.DataFrame
    backtest: pd.DataFrame
    candidates: pd.DataFrame
    winner: str
    reason: str
    ranking: tuple[str, ...]
    prophet_lost_to: str | None
    model: ForecastCandidate = field(repr=False)
    plot_png: bytes = field(repr=False)


def _candidate_table(
    candidates: Sequence[ForecastCandidate],
    aggregate: pd.DataFrame,
    folds_scored: pd.Series,
    stepped_aside: dict[str, str],
    chosen: str,
) -> pd.DataFrame:
    rows = []
    for candidate in candidates:
        name = candidate.name
        row: dict[str, Any] = {
            "candidate": name,
            "status": STEPPED_ASIDE if name in stepped_aside else FITTED,
            "reason": stepped_aside.get(name, ""),
            "chosen": name == chosen,
            "folds_scored": int(folds_scored.get(name, 0)),
        }
        for metric in METRIC_COLUMNS:
            row[metric] = float(aggregate.loc[name, metric]) if name in aggregate.index else math.nan
        rows.append(row)
    return pd.DataFrame(rows, columns=CANDIDATE_COLUMNS)


def forecast_revenue(
    daily: pd.DataFrame,
    horizon: int = 30,
    folds: int = DEFAULT_FOLDS,
    seed: int = 0,
    candidates: Sequence[ForecastCandidate] | None = None,
) -> ForecastResult:
    """Backtest the candidates on up to ``folds`` windows (``backtest_windows``), choose one
    (``choose``), refit it on all of ``daily`` and forecast the next ``horizon`` days.

    ``candidates`` defaults to ``default_candidates()``. A candidate that cannot fit steps
    aside (see ``backtest``); when the chosen one fails its final refit it steps aside too
    and the choice is made again among the rest. Raises ForecastNotPossible (a ValueError)
    when the history is too short for any backtest window or no candidate is left, and
    ValueError for a malformed frame (see ``prepare_history``).
    """
    history = prepare_history(daily)
    taking_part = list(candidates) if candidates is not None else default_candidates()
    run = backtest(history, taking_part, horizon=horizon, folds=folds, seed=seed)
    table, stepped_aside = run.table, dict(run.stepped_aside)
    aggregate = table[table["fold"] == AGGREGATE_FOLD].set_index("candidate")
    folds_scored = table[table["fold"] != AGGREGATE_FOLD].groupby("candidate").size()
    mean_wape = {name: float(value) for name, value in aggregate["wape"].items()}
    position = {candidate.name: index for index, candidate in enumerate(taking_part)}
    ranking = tuple(sorted(mean_wape, key=lambda name: (_nan_last(mean_wape[name]), position[name])))
    by_name = {candidate.name: candidate for candidate in taking_part}

    notes = []
    while True:
        if not mean_wape:
            reasons = "; ".join(f"{name}: {reason}" for name, reason in stepped_aside.items())
            raise ForecastNotPossible(f"every candidate stepped aside ({reasons})")
        choice = choose(mean_wape, taking_part)
        candidate = by_name[choice.name]
        try:
            forecast = _fit_predict(candidate, history, horizon, seed)
            break
        except Exception as error:
            stepped_aside[choice.name] = f"final refit on {len(history)} days: {_step_aside_reason(error)}"
            _log.info("forecast candidate %s steps aside: %s", choice.name, stepped_aside[choice.name])
            notes.append(f"{choice.name} was chosen first but its final refit failed")
            del mean_wape[choice.name]
    reason = "; ".join([choice.reason, *notes])
    forecast = forecast.assign(date=forecast["date"].dt.date, model_name=choice.name)
    prophet_took_part = any(isinstance(member, ProphetCandidate) for member in taking_part)
    prophet_lost_to = choice.name if prophet_took_part and not isinstance(candidate, ProphetCandidate) else None
    return ForecastResult(
        forecast=forecast,
        backtest=table,
        candidates=_candidate_table(taking_part, aggregate, folds_scored, stepped_aside, choice.name),
        winner=choice.name,
        reason=reason,
        ranking=ranking,
        prophet_lost_to=prophet_lost_to,
        model=candidate,
        plot_png=plot_forecast(history, forecast, title=_plot_title(choice.name, mean_wape[choice.name])),
    )


def _nan_last(value: float) -> float:
    return math.inf if math.isnan(value) else value


def _plot_title(name: str, mean_wape: float) -> str:
    return f"{name}: backtest WAPE {mean_wape:.1%}" if math.isfinite(mean_wape) else f"{name}: backtest WAPE undefined"
