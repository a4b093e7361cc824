"""The day-by-day median of a fixed set of members' forecasts."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import ClassVar, Self

import numpy as np
import pandas as pd

from ml.forecast.candidates.arima import ArimaCandidate
from ml.forecast.candidates.base import (
    PREDICTION_COLUMNS,
    CandidateNotSupported,
    ForecastCandidate,
    _checked_prediction,
    _prediction_frame,
    _require_fitted,
    _step_aside_reason,
)
from ml.forecast.candidates.ets import ETSCandidate
from ml.forecast.candidates.stl import STLCandidate
from ml.forecast.candidates.theta import ThetaCandidate


def _default_members() -> list[ForecastCandidate]:
    return [ETSCandidate(), ThetaCandidate(), ArimaCandidate(), STLCandidate()]


@dataclass
class CombinationCandidate:
    """The median, day by day, of a fixed set of members' forecasts (and of their bounds).

    The members are fixed, not ranked on the backtest: ETS, Theta, ARIMA and STL, after
    the SCUM combination (Petropoulos & Svetunkov, 2020: the median of ETS, CES, ARIMA and
    Theta, which beat most M4 entries). A fixed set cannot look at the fold it is scored on;
    ranking members on earlier folds would leave the first fold without members and give
    each fold a different model. Members that step aside (their fit raises or they predict
    non-finite values) are left out; with fewer than ``min_members`` left, the combination
    steps aside too. ``used_members`` and ``left_out`` tell what happened, after ``predict``.
    The bounds are medians of the members' bounds (quantile averaging), not a quantile of
    the combined error.

    The backtest calls ``combine`` with the members' forecasts of the fold when it has
    already made them for the same candidates standing alone, rather than fitting them
    twice; the result is the same, since a candidate's forecast depends only on its
    settings, the history and the seed.
    """

    simplicity: ClassVar[int] = 6
    name: str = "combination"
    members: list[ForecastCandidate] = field(default_factory=_default_members)
    min_members: int = 2
    used_members: tuple[str, ...] = field(default=(), init=False)
    left_out: dict[str, str] = field(default_factory=dict, init=False)
    _fitted: list[ForecastCandidate] = field(default_factory=list, init=False, repr=False)
    _fit_failures: dict[str, Exception] = field(default_factory=dict, init=False, repr=False)
    _last_day: pd.Timestamp | None = field(default=None, init=False, repr=False)

    def fit(self, history: pd.DataFrame, seed: int) -> Self:
        fitted, failures = [], {}
        for member in self.members:
            try:
                fitted.append(copy.deepcopy(member).fit(history, seed))
            except Exception as error:
                failures[member.name] = error
        if len(fitted) < self.min_members:
            self._too_few(len(fitted), failures)
        self._fitted, self._fit_failures, self._last_day = fitted, failures, history["date"].iloc[-1]
        return self

    def predict(self, horizon: int) -> pd.DataFrame:
        _require_fitted(self._last_day, self.name)
        outcomes: dict[str, pd.DataFrame | Exception] = dict(self._fit_failures)
        for member in self._fitted:
            try:
                outcomes[member.name] = _checked_prediction(
                    member.predict(horizon), self._last_day, horizon, member.name
                )
            except Exception as error:
                outcomes[member.name] = error
        return self.combine(outcomes, self._last_day)

    def combine(self, outcomes: dict[str, pd.DataFrame | Exception], last_day: pd.Timestamp) -> pd.DataFrame:
        """The median of the members' checked, unclipped forecasts; ``outcomes`` maps each member's
        name to its forecast or to the exception that stopped it."""
        forecasts = {name: outcome for name, outcome in outcomes.items() if isinstance(outcome, pd.DataFrame)}
        failures = {name: outcome for name, outcome in outcomes.items() if isinstance(outcome, Exception)}
        if len(forecasts) < self.min_members:
            self._too_few(len(forecasts), failures)
        self.used_members = tuple(forecasts)
        self.left_out = {name: _step_aside_reason(error) for name, error in failures.items()}
        medians = {
            column: np.median(
                np.vstack([forecast[column].to_numpy(dtype=float) for forecast in forecasts.values()]), axis=0
            )
            for column in PREDICTION_COLUMNS
        }
        return _prediction_frame(last_day, medians["yhat"], medians["yhat_lower"], medians["yhat_upper"])

    def _too_few(self, forecasting: int, failures: dict[str, Exception]) -> None:
        detail = "; ".join(f"{name}: {_step_aside_reason(error)}" for name, error in failures.items())
        raise CandidateNotSupported(
            f"{self.name} needs at least {self.min_members} members that forecast, got {forecasting} ({detail})"
        )
