"""The registered form of a revenue forecaster: the winning candidate, refit where it is used.

A forecaster's "model" is its method and settings; its fitted state goes stale the day new
data arrives. So the champion is compared with a challenger by refitting both on the
history before the same holdout window and scoring WAPE there, and the published forecast
refits the champion on all current history.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import pandas as pd

from ml.forecast import ForecastCandidate, bounded, prepare_history, wape


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


def holdout_wape(forecaster: RegisteredForecaster, daily: pd.DataFrame, horizon: int) -> float:
    """WAPE on the last ``horizon`` days, fit on everything before them."""
    history = prepare_history(daily)
    train, holdout = history.iloc[:-horizon], history.iloc[-horizon:]
    prediction = forecaster.refit(train).predict(pd.DataFrame({"horizon": [horizon]}))
    return wape(holdout["revenue"].to_numpy(), prediction["yhat"].to_numpy())
