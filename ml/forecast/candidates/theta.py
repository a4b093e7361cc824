"""The Theta method on the weekly-deseasonalised series."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd

from ml.forecast.candidates.base import (
    _daily_series,
    _prediction_frame,
    _quiet_statsmodels,
    _require_days,
    _require_fitted,
    _require_variation,
    _residual_interval,
)
from ml.forecast_baselines import SEASON_DAYS


@dataclass
class ThetaCandidate:
    """The Theta method (statsmodels ``ThetaModel``, theta = 2) on the weekly-deseasonalised series.

    The series is deseasonalised by classical decomposition with period 7, multiplicative
    when every day is positive and additive otherwise (statsmodels' ``auto``), when its
    lag-7 autocorrelation test finds a weekly pattern; the slope is the OLS trend of the
    deseasonalised history and the level a simple exponential smoothing (the classic
    two-step form). The interval is ``_residual_interval`` on the SES's one-step errors,
    reseasonalised, growing as SES's variance does (1 + (h - 1) alpha^2): statsmodels' own
    interval takes its variance from an ARIMA on the raw series, weekly swings included,
    several times too wide. Steps aside on less than two weekly cycles or a history
    without variation.
    """

    simplicity: ClassVar[int] = 2
    name: str = "theta"
    theta: float = 2.0
    _result: Any = field(default=None, init=False, repr=False)
    _residuals: np.ndarray | None = field(default=None, init=False, repr=False)
    _alpha: float = field(default=0.0, init=False, repr=False)
    _last_day: pd.Timestamp | None = field(default=None, init=False, repr=False)

    def fit(self, history: pd.DataFrame, seed: int) -> Self:
        from scipy.signal import lfilter
        from statsmodels.tsa.forecasting.theta import ThetaModel

        _require_days(history, 2 * SEASON_DAYS, self.name, "two weekly cycles to deseasonalise")
        _require_variation(history, self.name)
        with _quiet_statsmodels():
            result = ThetaModel(_daily_series(history), period=SEASON_DAYS).fit()
        revenue = history["revenue"].to_numpy(dtype=float)
        n_days = len(revenue)
        # forecast_components gives the seasonal factor of the days after the end; day t of
        # the history has the factor of position (t - n_days) mod 7 among them.
        factors = result.forecast_components(SEASON_DAYS)["seasonal"].to_numpy(dtype=float)
        seasonal = factors[(np.arange(n_days) - n_days) % SEASON_DAYS]
        multiplicative = result.model.method.startswith("mul")
        adjusted = revenue / seasonal if multiplicative else revenue - seasonal
        alpha = float(result.params["alpha"])
        # SES level l_t = alpha x_t + (1 - alpha) l_(t-1), started at x_0 as statsmodels does.
        levels = lfilter([alpha], [1.0, alpha - 1.0], adjusted[1:], zi=[(1.0 - alpha) * adjusted[0]])[0]
        errors = adjusted[1:] - np.r_[adjusted[0], levels[:-1]]
        self._residuals = errors * seasonal[1:] if multiplicative else errors
        self._result, self._alpha, self._last_day = result, alpha, history["date"].iloc[-1]
        return self

    def predict(self, horizon: int) -> pd.DataFrame:
        _require_fitted(self._result, self.name)
        yhat = self._result.forecast(horizon, theta=self.theta).to_numpy(dtype=float)
        growth = np.sqrt(1.0 + np.arange(horizon) * self._alpha**2)
        lower, upper = _residual_interval(yhat, growth, self._residuals)
        return _prediction_frame(self._last_day, yhat, lower, upper)
