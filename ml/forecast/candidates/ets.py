"""Exponential smoothing (ETS), and the ETS forecast with analytic widths that STL reuses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd

from ml.forecast.candidates.base import (
    INTERVAL_WIDTH,
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
class ETSCandidate:
    """Exponential smoothing: additive error, damped additive trend, additive weekly season.

    Additive throughout because the history has zero-revenue days, on which multiplicative
    error or seasonality are undefined. The point forecast is the model's; the interval is
    ``_residual_interval`` around it. Steps aside on less than two weekly cycles (the
    seasonal start values need two) or a history without variation. The fit is a
    deterministic optimisation; ``seed`` is accepted for the common interface.
    """

    simplicity: ClassVar[int] = 3
    name: str = "ets"
    damped_trend: bool = True
    _result: Any = field(default=None, init=False, repr=False)
    _last_day: pd.Timestamp | None = field(default=None, init=False, repr=False)

    def fit(self, history: pd.DataFrame, seed: int) -> Self:
        from statsmodels.tsa.exponential_smoothing.ets import ETSModel

        _require_days(history, 2 * SEASON_DAYS, self.name, "two weekly cycles for the seasonal start values")
        _require_variation(history, self.name)
        model = ETSModel(
            _daily_series(history),
            error="add",
            trend="add",
            damped_trend=self.damped_trend,
            seasonal="add",
            seasonal_periods=SEASON_DAYS,
        )
        with _quiet_statsmodels():
            self._result = model.fit(disp=False)
        self._last_day = history["date"].iloc[-1]
        return self

    def predict(self, horizon: int) -> pd.DataFrame:
        _require_fitted(self._result, self.name)
        yhat, half_widths = _ets_prediction(self._result, horizon)
        lower, upper = _residual_interval(yhat, half_widths, np.asarray(self._result.resid, dtype=float))
        return _prediction_frame(self._last_day, yhat, lower, upper)


def _ets_prediction(result: Any, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """An ETS fit's point forecast and its analytic 80% half-widths for the next ``horizon`` days."""
    observed = int(result.nobs)
    frame = result.get_prediction(start=observed, end=observed + horizon - 1).summary_frame(alpha=1 - INTERVAL_WIDTH)
    yhat = frame["mean"].to_numpy(dtype=float)
    return yhat, frame["pi_upper"].to_numpy(dtype=float) - yhat
