"""Prophet with Brazil's holidays and the shopping events, its logging and warnings kept to what matters."""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Self

import numpy as np
import pandas as pd

from ml.forecast.candidates.base import (
    INTERVAL_WIDTH,
    PREDICTION_COLUMNS,
    _prediction_frame,
    _require_fitted,
    future_dates,
)
from ml.forecast.events import shopping_events

# Prophet's yearly Fourier terms on less than two full years extrapolate wildly (and can
# push the forecast below zero); below this length the yearly component is left out.
YEARLY_SEASONALITY_MIN_DAYS = 730


def _prophet_class() -> type:
    # Prophet and statsmodels are imported on first use (0.3 s and 0.9 s here): the metrics
    # and the yardsticks need neither. Prophet logs an error when the optional plotly is
    # missing and cmdstanpy two INFO lines per fit, none of it about the forecast.
    # cmdstanpy installs its own INFO handler unless its logger already has one, hence the
    # NullHandler; warnings and errors still reach the application's handlers.
    logging.getLogger("prophet.plot").setLevel(logging.CRITICAL)
    logging.getLogger("prophet").setLevel(logging.WARNING)
    cmdstanpy_logger = logging.getLogger("cmdstanpy")
    if not cmdstanpy_logger.handlers:
        cmdstanpy_logger.addHandler(logging.NullHandler())
    cmdstanpy_logger.setLevel(logging.WARNING)
    from prophet import Prophet

    return Prophet


@contextlib.contextmanager
def _quiet_prophet_deprecations() -> Iterator[None]:
    # Prophet 1.5 calls pandas with inplace=True, which pandas 3.1 deprecates: dozens of
    # warnings per fit about Prophet's code, none about ours or the data.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=pd.errors.Pandas4Warning, module="prophet")
        yield


@contextlib.contextmanager
def _global_numpy_seed(seed: int) -> Iterator[None]:
    # Prophet draws its uncertainty samples from numpy's global generator; seed it for
    # reproducible intervals and put the caller's state back afterwards.
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


@dataclass
class ProphetCandidate:
    """Prophet with Brazilian national holidays, Black Friday and Cyber Monday.

    Weekly seasonality always; yearly only when the training history has at least
    ``yearly_min_days`` days (``uses_yearly`` tells after ``fit``). With ``log`` the model
    is fitted on log1p(revenue) and its output transformed back with expm1, which turns
    the additive components into multiplicative ones and makes the point forecast a
    median rather than a mean. Intervals are Prophet's own (trend and noise sampling).
    """

    simplicity: ClassVar[int] = 7
    name: str = "prophet"
    seasonality_mode: Literal["additive", "multiplicative"] = "additive"
    log: bool = False
    interval_width: float = INTERVAL_WIDTH
    changepoint_prior_scale: float = 0.05
    yearly_min_days: int = YEARLY_SEASONALITY_MIN_DAYS
    uses_yearly: bool | None = field(default=None, init=False)
    _model: Any = field(default=None, init=False, repr=False)
    _last_day: pd.Timestamp | None = field(default=None, init=False, repr=False)
    _seed: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.seasonality_mode not in ("additive", "multiplicative"):
            raise ValueError(f"seasonality_mode must be 'additive' or 'multiplicative', got {self.seasonality_mode!r}")

    def fit(self, history: pd.DataFrame, seed: int) -> Self:
        prophet = _prophet_class()
        first_day, last_day = history["date"].iloc[0], history["date"].iloc[-1]
        self.uses_yearly = len(history) >= self.yearly_min_days
        model = prophet(
            growth="linear",
            weekly_seasonality=True,
            yearly_seasonality=self.uses_yearly,
            daily_seasonality=False,
            seasonality_mode=self.seasonality_mode,
            changepoint_prior_scale=self.changepoint_prior_scale,
            interval_width=self.interval_width,
            # Events are needed for the forecast days too, so the years run past the history.
            holidays=shopping_events(range(first_day.year, last_day.year + 3)),
        )
        model.add_country_holidays("BR")
        revenue = history["revenue"].to_numpy(dtype=float)
        target = np.log1p(revenue) if self.log else revenue
        with _quiet_prophet_deprecations():
            model.fit(pd.DataFrame({"ds": history["date"].to_numpy(), "y": target}), seed=seed)
        self._model, self._last_day, self._seed = model, last_day, seed
        return self

    def predict(self, horizon: int) -> pd.DataFrame:
        _require_fitted(self._model, self.name)
        future = pd.DataFrame({"ds": future_dates(self._last_day, horizon)})
        with _global_numpy_seed(self._seed), _quiet_prophet_deprecations():
            raw = self._model.predict(future)
        values = raw[PREDICTION_COLUMNS].to_numpy(dtype=float)
        if self.log:
            values = np.expm1(values)
        return _prediction_frame(self._last_day, values[:, 0], values[:, 1], values[:, 2])
