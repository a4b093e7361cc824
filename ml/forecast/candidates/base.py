"""What every forecast candidate offers (``ForecastCandidate``) and what the built-in ones share.

Shared: the prediction frame, the checks on which a candidate steps aside (``CandidateNotSupported``),
the residual interval, statsmodels' silenced warnings and the check of a prediction against the
protocol.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import Any, Protocol, Self

import numpy as np
import pandas as pd

from ml.forecast_baselines import LOWER_QUANTILE, SEASON_DAYS, UPPER_QUANTILE

# The same nominal coverage as the baseline's 10%-90% residual quantiles.
INTERVAL_WIDTH = UPPER_QUANTILE - LOWER_QUANTILE
RESIDUAL_DAYS = 8 * SEASON_DAYS
PREDICTION_COLUMNS = ["yhat", "yhat_lower", "yhat_upper"]


class CandidateNotSupported(ValueError):
    """Raised by a candidate's ``fit`` when the history has a shape it cannot model (too
    short, no variation); the candidate steps aside with this message as its reason."""


class ForecastCandidate(Protocol):
    """A forecasting method with fixed hyper-parameters (or ones it chooses on its training days).

    ``fit`` receives a history frame with a ``date`` column (datetime64, consecutive days,
    ascending) and a float ``revenue`` column (>= 0), replaces any earlier fitted state and
    returns the candidate; it raises ``CandidateNotSupported`` for a history it cannot
    model. ``predict(horizon)`` returns ``horizon`` rows for the days after the last fitted
    day: ``date``, ``yhat``, ``yhat_lower``, ``yhat_upper`` (80% interval), not yet clipped at
    zero. The same history and seed must give the same prediction.

    A class may set ``simplicity`` (an int, lower is simpler) to take part in tie-breaks;
    a candidate without it counts as more complex than every built-in one.
    """

    name: str

    def fit(self, history: pd.DataFrame, seed: int) -> Self: ...

    def predict(self, horizon: int) -> pd.DataFrame: ...


def future_dates(last_day: pd.Timestamp, horizon: int) -> pd.DatetimeIndex:
    """The ``horizon`` calendar days after ``last_day``."""
    return pd.date_range(pd.Timestamp(last_day) + pd.Timedelta(days=1), periods=horizon, freq="D")


def _prediction_frame(last_day: pd.Timestamp, yhat: Any, lower: Any, upper: Any) -> pd.DataFrame:
    yhat_values = np.asarray(yhat, dtype=float)
    return pd.DataFrame(
        {
            "date": future_dates(last_day, len(yhat_values)),
            "yhat": yhat_values,
            "yhat_lower": np.asarray(lower, dtype=float),
            "yhat_upper": np.asarray(upper, dtype=float),
        }
    )


def _require_fitted(fitted: Any, name: str) -> None:
    if fitted is None:
        raise RuntimeError(f"candidate {name!r} must be fitted before predict")


def _require_days(history: pd.DataFrame, needed: int, name: str, why: str) -> None:
    if len(history) < needed:
        raise CandidateNotSupported(f"{name} needs at least {needed} days of history ({why}), got {len(history)}")


def _require_variation(history: pd.DataFrame, name: str) -> None:
    # A constant history (all zero included) leaves the models' variance at zero: their
    # fits divide by it. The yardsticks forecast such a history exactly.
    revenue = history["revenue"].to_numpy(dtype=float)
    if revenue.max() == revenue.min():
        raise CandidateNotSupported(
            f"{name} needs a history that varies; every day is {revenue[0]:g}, which the yardsticks repeat"
        )


def _daily_series(history: pd.DataFrame) -> pd.Series:
    return pd.Series(
        history["revenue"].to_numpy(dtype=float), index=pd.DatetimeIndex(history["date"].to_numpy(), freq="D")
    )


def _residual_interval(
    yhat: np.ndarray, half_widths: np.ndarray, residuals: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """An interval whose width now is the 10%/90% quantiles of the last RESIDUAL_DAYS one-step
    residuals and whose growth over the horizon follows the model's analytic half-widths.

    The residuals say how noisy the series is now, where the model's own variance is an
    average over a history that may start near zero; the analytic widths say how fast
    uncertainty grows with the lead time.
    """
    growth = half_widths / half_widths[0] if half_widths[0] > 0 else np.ones(len(yhat))
    recent = np.asarray(residuals, dtype=float)[-RESIDUAL_DAYS:]
    recent = recent[np.isfinite(recent)]
    lower_error, upper_error = np.quantile(recent, [LOWER_QUANTILE, UPPER_QUANTILE]) if len(recent) else (0.0, 0.0)
    return yhat + lower_error * growth, yhat + upper_error * growth


@contextlib.contextmanager
def _quiet_statsmodels() -> Iterator[None]:
    # statsmodels warns when an optimiser stops at its iteration limit and when KPSS's
    # p-value falls outside its table (it is clipped to 0.01 or 0.1). Neither changes what
    # ships: the backtest judges every fit by its forecasts.
    from statsmodels.tools.sm_exceptions import ConvergenceWarning, InterpolationWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", InterpolationWarning)
        # statsmodels 0.15 announces a new return type for kpss; the tuple is read by position.
        warnings.filterwarnings("ignore", message="kpss currently returns", category=FutureWarning)
        yield


def _checked_prediction(prediction: pd.DataFrame, last_day: pd.Timestamp, horizon: int, name: str) -> pd.DataFrame:
    missing = {"date", *PREDICTION_COLUMNS} - set(prediction.columns)
    if missing:
        raise ValueError(f"candidate {name!r} predicted without column(s) {sorted(missing)}")
    expected_dates = future_dates(last_day, horizon)
    if len(prediction) != horizon or not (pd.to_datetime(prediction["date"]).to_numpy() == expected_dates).all():
        raise ValueError(
            f"candidate {name!r} must predict the {horizon} days from {expected_dates[0].date()}, "
            f"got {len(prediction)} rows"
        )
    values = prediction[PREDICTION_COLUMNS].to_numpy(dtype=float)
    if not np.isfinite(values).all():
        raise ValueError(f"candidate {name!r} predicted non-finite values")
    return pd.DataFrame(
        {"date": expected_dates, **{column: values[:, i] for i, column in enumerate(PREDICTION_COLUMNS)}}
    )


def _step_aside_reason(error: Exception) -> str:
    # A shape the candidate says it cannot model is reported in its own words; anything else
    # is a failure of the fit and keeps its type, so that a bug does not read like a rule.
    if isinstance(error, CandidateNotSupported):
        return str(error)
    return f"{type(error).__name__}: {error}"
