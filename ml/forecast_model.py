"""The registered form of a revenue forecaster: the chosen candidate, refit where it is used.

A forecaster's "model" is its method and settings; its fitted state goes stale the day new
data arrives. So the champion is compared with a challenger by refitting both on the
history before the same holdout window and scoring WAPE there, and the published forecast
refits the champion on all current history.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import pandas as pd

from ml.forecast import ForecastCandidate, backtest_windows, bounded, prepare_history, wape


@dataclass
class RegisteredForecaster:
    candidate: ForecastCandidate
    seed: int = 0

    @property
    def name(self) -> str:
        return self.candidate.name

    def refit(self, daily: pd.DataFrame) -> RegisteredForecaster:
        """A copy fitted on ``daily`` (one row per day: date, revenue)."""
        fitted = copy.deepcopy(self.candidate).fit(prepare_history(daily), self.seed)
        return RegisteredForecaster(fitted, self.seed)

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` has a ``horizon`` column (days); the forecast of the data it was last fit on."""
        horizon = int(frame["horizon"].iloc[0])
        return bounded(self.candidate.predict(horizon)).assign(model_name=self.name)


def holdout_days(n_days: int, horizon: int) -> int:
    """Length of the holdout that ``holdout_wape`` scores: the backtest's last window, i.e.
    ``horizon`` days, or fewer when the history cannot also hold the minimum training days
    before them. Raises ForecastNotPossible when not even a week fits."""
    start, end = backtest_windows(n_days, horizon, folds=1)[-1]
    return end - start


def holdout_wape(forecaster: RegisteredForecaster, daily: pd.DataFrame, horizon: int) -> float:
    """WAPE on the last ``holdout_days`` days (the backtest's last window), fit on everything before them.

    NaN when the holdout has no revenue; the registry then promotes nothing, since no
    comparison with NaN is true.
    """
    history = prepare_history(daily)
    days = holdout_days(len(history), horizon)
    train, holdout = history.iloc[:-days], history.iloc[-days:]
    prediction = forecaster.refit(train).predict(pd.DataFrame({"horizon": [days]}))
    return wape(holdout["revenue"].to_numpy(), prediction["yhat"].to_numpy())
