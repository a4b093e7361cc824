"""The two yardsticks: seasonal naive (the simplest candidate, published unless beaten) and the trailing mean."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Self

import numpy as np
import pandas as pd

from ml.forecast.candidates.base import (
    RESIDUAL_DAYS,
    CandidateNotSupported,
    _prediction_frame,
    _require_days,
    _require_fitted,
)
from ml.forecast_baselines import LOWER_QUANTILE, SEASON_DAYS, UPPER_QUANTILE, seasonal_naive_forecast

TRAILING_MEAN_DAYS = 28


@dataclass
class SeasonalNaiveCandidate:
    """Same weekday of the last observed week: ``ml.forecast_baselines.seasonal_naive_forecast``."""

    simplicity: ClassVar[int] = 0
    name: str = "seasonal_naive"
    _history: pd.DataFrame | None = field(default=None, init=False, repr=False)

    def fit(self, history: pd.DataFrame, seed: int) -> Self:
        _require_days(history, SEASON_DAYS, self.name, "one week to repeat")
        self._history = history[["date", "revenue"]].copy()
        return self

    def predict(self, horizon: int) -> pd.DataFrame:
        _require_fitted(self._history, self.name)
        baseline = seasonal_naive_forecast(self._history, horizon)
        return _prediction_frame(
            self._history["date"].iloc[-1], baseline["yhat"], baseline["yhat_lower"], baseline["yhat_upper"]
        )


@dataclass
class TrailingMeanCandidate:
    """A flat forecast at the mean of the last ``window_days`` days.

    The interval adds the 10% and 90% quantiles of the same rule's one-day-ahead errors over
    the last ``residual_days`` days.
    """

    simplicity: ClassVar[int] = 1
    name: str = "trailing_mean"
    window_days: int = TRAILING_MEAN_DAYS
    residual_days: int = RESIDUAL_DAYS
    _revenue: np.ndarray | None = field(default=None, init=False, repr=False)
    _last_day: pd.Timestamp | None = field(default=None, init=False, repr=False)

    def fit(self, history: pd.DataFrame, seed: int) -> Self:
        revenue = history["revenue"].to_numpy(dtype=float)
        if len(revenue) <= self.window_days:
            raise CandidateNotSupported(
                f"trailing mean needs more than {self.window_days} days of history, got {len(revenue)}"
            )
        self._revenue, self._last_day = revenue, history["date"].iloc[-1]
        return self

    def predict(self, horizon: int) -> pd.DataFrame:
        _require_fitted(self._revenue, self.name)
        revenue, window = self._revenue, self.window_days
        sums = np.concatenate([[0.0], np.cumsum(revenue)])
        # trailing[i] is the mean of the window that ends just before day i + window.
        trailing = (sums[window:] - sums[:-window]) / window
        errors = (revenue[window:] - trailing[:-1])[-self.residual_days :]
        lower_error, upper_error = np.quantile(errors, [LOWER_QUANTILE, UPPER_QUANTILE])
        yhat = np.full(horizon, trailing[-1])
        return _prediction_frame(self._last_day, yhat, yhat + lower_error, yhat + upper_error)
