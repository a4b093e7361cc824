"""Daily revenue forecast: candidates compete in a rolling-origin backtest, the chosen one is refit.

``forecast_revenue(daily)`` takes the ``daily_revenue`` mart (one row per calendar day,
zero days included, columns ``date`` and ``revenue``) and returns a ``ForecastResult``:
the next ``horizon`` days from the chosen candidate, refit on all history, with the
backtest that chose it, a per-candidate table (figures, or the reason it stepped aside),
a one-line reason for the choice and a PNG plot.

Backtest (``backtest_windows``). Up to ``folds`` test windows of ``horizon`` days end at
the last day of data, one origin ``horizon`` days before the next when the history allows
it and closer together (never less than ``MIN_STEP_DAYS``) when it does not; every origin
has at least ``MIN_TRAINING_DAYS`` days of training before it. A history too short for one
full window gets one shorter window (at least ``MIN_WINDOW_DAYS``), and one too short for
that raises ``ForecastNotPossible``. For each window every candidate is fitted on the days
strictly before it and predicts the whole window; nothing from the window or after it is
seen. Hyper-parameters are fixed or chosen by each candidate on its training days only
(the ARIMA order by AICc); nothing is tuned on the windows.

Selection (``choose``). The lowest mean backtest WAPE wins; candidates within
``TIE_TOLERANCE`` (relative) of it count as tied and the simplest of them wins (each
candidate class has a ``simplicity`` rank: seasonal naive, trailing mean, theta, ets, stl,
arima, combination, prophet). Seasonal naive is the simplest, so unless some candidate
beats it by more than the tolerance, seasonal naive is published.

Stepping aside. A candidate that cannot support the data (too short, no variation) or
whose fit raises or predicts non-finite values steps aside with the reason, and the
others go on: in the backtest it is out for every fold (its mean would not be
comparable), at the final refit the next in line is refit instead. Yearly terms need no
such rule: Prophet and STL leave them out below two years.

Metrics (public pure functions, ratios as fractions, 0.12 meaning 12%):

- ``wape``: sum |actual - predicted| / sum |actual|; NaN when every actual is 0.
- ``mape_nonzero``: mean |actual - predicted| / |actual| over the days with actual != 0
  only; NaN when there are none.
- ``smape``: mean 2 |actual - predicted| / (|actual| + |predicted|), a day with both at 0
  counting 0; between 0 and 2.
- ``mae``: mean |actual - predicted|, in revenue units (BRL).
- ``bias``: mean (predicted - actual), in BRL; positive means over-forecast.
- ``relative_bias``: sum (predicted - actual) / sum actual; NaN when every actual is 0.

Every forecast, in the backtest as in the final refit, is made non-negative and ordered
(``0 <= yhat_lower <= yhat <= yhat_upper``) in one place, so that the backtest scores what
would be shipped.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import io
import logging
import math
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Literal, Protocol, Self

import numpy as np
import pandas as pd

from ml.forecast_baselines import LOWER_QUANTILE, SEASON_DAYS, UPPER_QUANTILE, seasonal_naive_forecast
from ml.retail_calendar import black_friday, cyber_monday

# Four weekly cycles before the first backtest origin: the least on which a weekly pattern
# is seen more than twice and the trailing mean has its 28 days. Candidates that need more
# (ARIMA) step aside on shorter training sets instead of raising the minimum for all.
MIN_TRAINING_DAYS = 28
# A backtest window shorter than a week would score some weekdays and not others.
MIN_WINDOW_DAYS = SEASON_DAYS
MIN_STEP_DAYS = SEASON_DAYS
DEFAULT_FOLDS = 5
# Mean WAPEs this close (relative) are a tie that the simpler candidate wins: over five
# folds a 1% difference is well within the fold-to-fold spread.
TIE_TOLERANCE = 0.01
# Prophet's yearly Fourier terms on less than two full years extrapolate wildly (and can
# push the forecast below zero); below this length the yearly component is left out.
YEARLY_SEASONALITY_MIN_DAYS = 730
YEAR_DAYS = 365
# statsmodels' MSTL drops a period unless the series is longer than two of it.
MSTL_YEARLY_MIN_DAYS = 2 * YEAR_DAYS + 1
# ARIMA needs enough weeks after weekly and first differencing to tell its terms apart.
ARIMA_MIN_DAYS = 8 * SEASON_DAYS
# The same nominal coverage as the baseline's 10%-90% residual quantiles.
INTERVAL_WIDTH = UPPER_QUANTILE - LOWER_QUANTILE
TRAILING_MEAN_DAYS = 28
RESIDUAL_DAYS = 8 * SEASON_DAYS
PLOT_HISTORY_DAYS = 120
AGGREGATE_FOLD = "all"
PREDICTION_COLUMNS = ["yhat", "yhat_lower", "yhat_upper"]
METRIC_COLUMNS = ["wape", "mape", "smape", "mae", "bias", "relative_bias", "interval_coverage"]
FITTED, STEPPED_ASIDE = "fitted", "stepped_aside"
CANDIDATE_COLUMNS = ["candidate", "status", "reason", "chosen", "folds_scored", *METRIC_COLUMNS]
_log = logging.getLogger(__name__)


class ForecastNotPossible(ValueError):
    """No forecast can be made from this history (too short for any backtest, or no candidate
    could fit it); the message says why."""


class CandidateNotSupported(ValueError):
    """Raised by a candidate's ``fit`` when the history has a shape it cannot model (too
    short, no variation); the candidate steps aside with this message as its reason."""


# --------------------------------------------------------------------------- metrics


def _paired(actual: Any, predicted: Any) -> tuple[np.ndarray, np.ndarray]:
    actual_values = np.asarray(actual, dtype=float)
    predicted_values = np.asarray(predicted, dtype=float)
    if actual_values.ndim != 1 or actual_values.shape != predicted_values.shape:
        raise ValueError(
            f"actual and predicted must be 1-D and of the same length, got shapes "
            f"{actual_values.shape} and {predicted_values.shape}"
        )
    if actual_values.size == 0:
        raise ValueError("actual and predicted are empty: there is no day to score")
    if not (np.isfinite(actual_values).all() and np.isfinite(predicted_values).all()):
        raise ValueError("actual and predicted must be finite numbers (no NaN or infinity)")
    return actual_values, predicted_values


def wape(actual: Any, predicted: Any) -> float:
    """Weighted absolute percentage error: sum |a - p| / sum |a|, as a fraction.

    Zero-revenue days count in the numerator (an error on them is a real error) and add
    nothing to the denominator. NaN when every actual is 0: there is no revenue to be
    wrong about a share of.
    """
    actual_values, predicted_values = _paired(actual, predicted)
    scale = np.abs(actual_values).sum()
    if scale == 0:
        return math.nan
    return float(np.abs(actual_values - predicted_values).sum() / scale)


def mape_nonzero(actual: Any, predicted: Any) -> float:
    """Mean absolute percentage error over the days whose actual is not 0, as a fraction.

    Zero-actual days are left out (their percentage error is undefined); NaN when no day is
    left.
    """
    actual_values, predicted_values = _paired(actual, predicted)
    nonzero = actual_values != 0
    if not nonzero.any():
        return math.nan
    errors = np.abs(actual_values[nonzero] - predicted_values[nonzero]) / np.abs(actual_values[nonzero])
    return float(errors.mean())


def smape(actual: Any, predicted: Any) -> float:
    """Symmetric MAPE: mean of 2 |a - p| / (|a| + |p|), between 0 and 2.

    A day where both actual and predicted are 0 is a perfect forecast and counts 0; a day
    where only one of them is 0 counts 2.
    """
    actual_values, predicted_values = _paired(actual, predicted)
    denominator = np.abs(actual_values) + np.abs(predicted_values)
    both_zero = denominator == 0
    terms = np.where(
        both_zero, 0.0, 2 * np.abs(actual_values - predicted_values) / np.where(both_zero, 1.0, denominator)
    )
    return float(terms.mean())


def mae(actual: Any, predicted: Any) -> float:
    """Mean absolute error, in the unit of the series (BRL)."""
    actual_values, predicted_values = _paired(actual, predicted)
    return float(np.abs(actual_values - predicted_values).mean())


def bias(actual: Any, predicted: Any) -> float:
    """Mean of (predicted - actual), in the unit of the series; positive means over-forecast."""
    actual_values, predicted_values = _paired(actual, predicted)
    return float((predicted_values - actual_values).mean())


def relative_bias(actual: Any, predicted: Any) -> float:
    """sum (predicted - actual) / sum actual, as a fraction: 0.05 is 5% over-forecast.

    NaN when every actual is 0.
    """
    actual_values, predicted_values = _paired(actual, predicted)
    total = actual_values.sum()
    if total == 0:
        return math.nan
    return float((predicted_values - actual_values).sum() / total)


def interval_coverage(actual: Any, lower: Any, upper: Any) -> float:
    """Share of days whose actual lies within [lower, upper] (nominally INTERVAL_WIDTH)."""
    actual_values, lower_values = _paired(actual, lower)
    _, upper_values = _paired(actual, upper)
    return float(((actual_values >= lower_values) & (actual_values <= upper_values)).mean())


def score(actual: Any, predicted: pd.DataFrame) -> dict[str, float]:
    """All backtest metrics of one window; ``predicted`` has yhat, yhat_lower and yhat_upper."""
    yhat = predicted["yhat"].to_numpy()
    return {
        "wape": wape(actual, yhat),
        "mape": mape_nonzero(actual, yhat),
        "smape": smape(actual, yhat),
        "mae": mae(actual, yhat),
        "bias": bias(actual, yhat),
        "relative_bias": relative_bias(actual, yhat),
        "interval_coverage": interval_coverage(
            actual, predicted["yhat_lower"].to_numpy(), predicted["yhat_upper"].to_numpy()
        ),
    }


# --------------------------------------------------------------------------- candidates


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


def shopping_events(years: Sequence[int]) -> pd.DataFrame:
    """Black Friday and the following Cyber Monday of each year, as a Prophet holidays frame.

    Black Friday's window covers the run-up from the Monday of its week and the weekend
    after it, when Brazilian e-commerce stays elevated; Cyber Monday is its own one-day
    event.
    """
    rows = []
    for year in years:
        rows.append(
            {"holiday": "black_friday", "ds": pd.Timestamp(black_friday(year)), "lower_window": -4, "upper_window": 2}
        )
        rows.append(
            {
                "holiday": "cyber_monday",
                "ds": pd.Timestamp(cyber_monday(year)),
                "lower_window": 0,
                "upper_window": 0,
            }
        )
    return pd.DataFrame(rows, columns=["holiday", "ds", "lower_window", "upper_window"])


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


@dataclass
class STLCandidate:
    """Seasonal decomposition, then damped-trend ETS on the seasonally adjusted series.

    The decomposition is STL with a weekly period, or, once the history has at least
    ``yearly_min_days`` days, MSTL with weekly and yearly periods (``uses_yearly`` tells
    after ``fit``). The adjusted series (trend + remainder) is forecast by ETS with
    additive error and damped additive trend; each seasonal component is carried forward
    from its last cycle (the weekly one from the last week, the yearly one from the same
    day a year before), as statsmodels' ``STLForecast`` does. The interval is
    ``_residual_interval`` on the one-step errors of that rule. Steps aside on less than
    four weekly cycles (STL's seasonal smoother needs several per weekday) or a history
    without variation.
    """

    simplicity: ClassVar[int] = 4
    name: str = "stl"
    yearly_min_days: int = MSTL_YEARLY_MIN_DAYS
    uses_yearly: bool | None = field(default=None, init=False)
    _adjusted_fit: Any = field(default=None, init=False, repr=False)
    _seasonals: list[np.ndarray] = field(default_factory=list, init=False, repr=False)
    _periods: list[int] = field(default_factory=list, init=False, repr=False)
    _residuals: np.ndarray | None = field(default=None, init=False, repr=False)
    _last_day: pd.Timestamp | None = field(default=None, init=False, repr=False)

    def fit(self, history: pd.DataFrame, seed: int) -> Self:
        from statsmodels.tsa.exponential_smoothing.ets import ETSModel
        from statsmodels.tsa.seasonal import MSTL, STL

        _require_days(history, 4 * SEASON_DAYS, self.name, "four weekly cycles for the seasonal smoother")
        _require_variation(history, self.name)
        series = _daily_series(history)
        self.uses_yearly = len(series) >= self.yearly_min_days
        if self.uses_yearly:
            seasonal = MSTL(series, periods=(SEASON_DAYS, YEAR_DAYS)).fit().seasonal
            self._seasonals = [
                seasonal[f"seasonal_{period}"].to_numpy(dtype=float) for period in (SEASON_DAYS, YEAR_DAYS)
            ]
            self._periods = [SEASON_DAYS, YEAR_DAYS]
        else:
            self._seasonals = [STL(series, period=SEASON_DAYS).fit().seasonal.to_numpy(dtype=float)]
            self._periods = [SEASON_DAYS]
        adjusted = series - np.sum(self._seasonals, axis=0)
        with _quiet_statsmodels():
            self._adjusted_fit = ETSModel(adjusted, error="add", trend="add", damped_trend=True).fit(disp=False)
        # The one-step errors of the rule that forecasts: the ETS prediction of the adjusted
        # series plus each seasonal component of one cycle before. The ETS residuals alone
        # miss the error of carrying the season forward: on generated data their interval
        # covered 49% and 55% of the backtest days (80% nominal), these errors' 67% and 75%.
        first = max(self._periods)
        carried = sum(
            component[first - period : len(component) - period]
            for component, period in zip(self._seasonals, self._periods, strict=True)
        )
        fitted = np.asarray(self._adjusted_fit.fittedvalues, dtype=float)
        self._residuals = series.to_numpy()[first:] - fitted[first:] - carried
        self._last_day = history["date"].iloc[-1]
        return self

    def predict(self, horizon: int) -> pd.DataFrame:
        _require_fitted(self._adjusted_fit, self.name)
        adjusted, half_widths = _ets_prediction(self._adjusted_fit, horizon)
        seasonal = np.zeros(horizon)
        for component, period in zip(self._seasonals, self._periods, strict=True):
            # Day h after the end (h = 1...) takes the component of the day one cycle
            # earlier, cycling through the last cycle when h exceeds it.
            last_cycle = component[-period:]
            seasonal += last_cycle[np.arange(horizon) % period]
        yhat = adjusted + seasonal
        lower, upper = _residual_interval(yhat, half_widths, self._residuals)
        return _prediction_frame(self._last_day, yhat, lower, upper)


@dataclass(frozen=True)
class ArimaOrder:
    """A seasonal ARIMA (p,d,q)(P,D,Q)_7, with or without a constant in the differenced series."""

    p: int
    d: int
    q: int
    seasonal_p: int
    seasonal_d: int
    seasonal_q: int
    constant: bool

    def __str__(self) -> str:
        drift = " with constant" if self.constant else ""
        return (
            f"({self.p},{self.d},{self.q})({self.seasonal_p},{self.seasonal_d},{self.seasonal_q})_{SEASON_DAYS}{drift}"
        )


def _sarima_polynomials(order: ArimaOrder, coefficients: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The AR and MA lag polynomials (in increasing powers of the lag) of a multiplicative SARMA."""
    p, q, seasonal_p, seasonal_q = order.p, order.q, order.seasonal_p, order.seasonal_q
    phi, theta = coefficients[:p], coefficients[p : p + q]
    seasonal_phi = coefficients[p + q : p + q + seasonal_p]
    seasonal_theta = coefficients[p + q + seasonal_p : p + q + seasonal_p + seasonal_q]
    seasonal_ar = np.zeros(SEASON_DAYS * seasonal_p + 1)
    seasonal_ar[0], seasonal_ar[SEASON_DAYS::SEASON_DAYS] = 1.0, -seasonal_phi
    seasonal_ma = np.zeros(SEASON_DAYS * seasonal_q + 1)
    seasonal_ma[0], seasonal_ma[SEASON_DAYS::SEASON_DAYS] = 1.0, seasonal_theta
    return np.convolve(np.r_[1.0, -phi], seasonal_ar), np.convolve(np.r_[1.0, theta], seasonal_ma)


def _roots_outside_unit_circle(polynomial: np.ndarray) -> bool:
    if len(polynomial) <= 1 or not np.any(polynomial[1:]):
        return True
    return bool(np.all(np.abs(np.roots(polynomial[::-1])) > 1.0))


@dataclass(frozen=True)
class _CssFit:
    order: ArimaOrder
    coefficients: np.ndarray
    mean: float
    sigma2: float
    aicc: float


def _css_fit(differenced: np.ndarray, order: ArimaOrder) -> _CssFit | None:
    """Conditional-sum-of-squares estimate of a SARMA on an already differenced series, or None
    when the estimate is not stationary and invertible."""
    from scipy.optimize import least_squares
    from scipy.signal import lfilter

    n_coefficients = order.p + order.q + order.seasonal_p + order.seasonal_q
    # The first AR-lag days have no full past to condition on; CSS leaves them out.
    conditioned = order.p + SEASON_DAYS * order.seasonal_p

    def residuals(parameters: np.ndarray) -> np.ndarray:
        mean = parameters[n_coefficients] if order.constant else 0.0
        ar, ma = _sarima_polynomials(order, parameters[:n_coefficients])
        return lfilter(ar, ma, differenced - mean)[conditioned:]

    start = np.r_[np.zeros(n_coefficients), [differenced.mean()] if order.constant else []]
    if len(start):
        solution = least_squares(residuals, start, method="lm")
        parameters, errors = solution.x, solution.fun
    else:
        parameters, errors = start, residuals(start)
    ar, ma = _sarima_polynomials(order, parameters[:n_coefficients])
    if not (np.isfinite(parameters).all() and _roots_outside_unit_circle(ar) and _roots_outside_unit_circle(ma)):
        return None
    n_used = len(errors)
    n_parameters = len(parameters) + 1
    if n_used <= n_parameters + 1:
        return None
    # An exactly periodic history leaves no error at all; the floor keeps the likelihood
    # finite, and the orders then differ only by their parameter counts (fewest wins).
    sigma2 = max(float(errors @ errors / n_used), 1e-12 * max(1.0, float(np.mean(differenced**2))))
    log_likelihood = -0.5 * n_used * (math.log(2 * math.pi * sigma2) + 1)
    aicc = -2 * log_likelihood + 2 * n_parameters + 2 * n_parameters * (n_parameters + 1) / (n_used - n_parameters - 1)
    mean = float(parameters[n_coefficients]) if order.constant else 0.0
    return _CssFit(order, parameters[:n_coefficients], mean, sigma2, aicc)


def weekly_seasonal_strength(revenue: np.ndarray) -> float:
    """1 - Var(remainder) / Var(seasonal + remainder) of an STL with period 7, between 0 and 1
    (Wang, Smith & Hyndman, 2006): near 1 when the weekly pattern dominates the noise."""
    from statsmodels.tsa.seasonal import STL

    decomposition = STL(np.asarray(revenue, dtype=float), period=SEASON_DAYS).fit()
    remainder = np.asarray(decomposition.resid)
    detrended = np.asarray(decomposition.seasonal) + remainder
    return float(max(0.0, 1.0 - remainder.var() / detrended.var())) if detrended.var() > 0 else 0.0


@dataclass
class ArimaCandidate:
    """Seasonal ARIMA (p,d,q)(P,D,Q)_7 with the order chosen on the training days.

    - D = 1 (a weekly difference) when the weekly seasonal strength exceeds
      ``seasonal_strength_threshold`` (0.64, the default of R's ``forecast::nsdiffs``).
    - d = 1 when a KPSS test rejects level stationarity of the (weekly differenced) series
      at ``kpss_level``; d is at most 1.
    - p, q <= 2 and P, Q <= 1, and a constant when d + D <= 1, searched stepwise from four
      starting orders towards lower AICc (Hyndman & Khandakar, 2008), at most
      ``max_orders`` orders. Each order is estimated by conditional sum of squares (one
      scipy least-squares fit, milliseconds), as R's ``auto.arima`` does to choose orders
      on long series; exact maximum likelihood (``SARIMAX.fit``) took 0.2 to 5 s per
      order on 540 to 730 days here, too slow for a search in every fold, so the CSS
      estimates are also the ones used. Orders whose estimate is not stationary and
      invertible are skipped.

    The chosen order and its estimates go into statsmodels' ``SARIMAX``, whose Kalman
    filter (no further optimisation) gives the forecast and the analytic widths for
    ``_residual_interval``. ``order`` tells the choice after ``fit``. Steps aside on fewer
    than ``min_days`` days or a history without variation.
    """

    simplicity: ClassVar[int] = 5
    name: str = "arima"
    max_p: int = 2
    max_q: int = 2
    max_seasonal_p: int = 1
    max_seasonal_q: int = 1
    max_orders: int = 30
    seasonal_strength_threshold: float = 0.64
    kpss_level: float = 0.05
    min_days: int = ARIMA_MIN_DAYS
    order: ArimaOrder | None = field(default=None, init=False)
    _result: Any = field(default=None, init=False, repr=False)
    _last_day: pd.Timestamp | None = field(default=None, init=False, repr=False)

    def fit(self, history: pd.DataFrame, seed: int) -> Self:
        from statsmodels.tsa.statespace.sarimax import SARIMAX

        _require_days(history, self.min_days, self.name, "eight weeks to choose and estimate its order")
        _require_variation(history, self.name)
        revenue = history["revenue"].to_numpy(dtype=float)
        seasonal_d = int(weekly_seasonal_strength(revenue) > self.seasonal_strength_threshold)
        differenced = revenue[SEASON_DAYS:] - revenue[:-SEASON_DAYS] if seasonal_d else revenue
        d = int(self._rejects_stationarity(differenced))
        if d:
            differenced = np.diff(differenced)
        best = self._search(differenced, d, seasonal_d)
        order = best.order
        intercept = best.mean * _sarima_polynomials(order, best.coefficients)[0].sum()
        parameters = np.r_[[intercept] if order.constant else [], best.coefficients, [best.sigma2]]
        model = SARIMAX(
            _daily_series(history),
            order=(order.p, order.d, order.q),
            seasonal_order=(order.seasonal_p, order.seasonal_d, order.seasonal_q, SEASON_DAYS),
            trend="c" if order.constant else "n",
        )
        with _quiet_statsmodels():
            self._result = model.filter(parameters)
        self.order, self._last_day = order, history["date"].iloc[-1]
        return self

    def _rejects_stationarity(self, series: np.ndarray) -> bool:
        from statsmodels.tsa.stattools import kpss

        if series.max() == series.min():
            return False
        with _quiet_statsmodels():
            # The p-value is read from a table clipped to [0.01, 0.1] (statsmodels warns
            # when it is clipped); only the side of 0.05 matters here.
            _, p_value, *_ = kpss(series, regression="c", nlags="auto")
        return bool(p_value < self.kpss_level)

    def _search(self, differenced: np.ndarray, d: int, seasonal_d: int) -> _CssFit:
        constant_allowed = d + seasonal_d <= 1
        fits: dict[ArimaOrder, _CssFit | None] = {}

        def order(p: int, q: int, seasonal_p: int, seasonal_q: int) -> ArimaOrder:
            return ArimaOrder(p, d, q, seasonal_p, seasonal_d, seasonal_q, constant_allowed)

        def within_bounds(candidate: ArimaOrder) -> bool:
            return (
                0 <= candidate.p <= self.max_p
                and 0 <= candidate.q <= self.max_q
                and 0 <= candidate.seasonal_p <= self.max_seasonal_p
                and 0 <= candidate.seasonal_q <= self.max_seasonal_q
            )

        def aicc(candidate: ArimaOrder) -> float:
            if candidate not in fits:
                fits[candidate] = _css_fit(differenced, candidate)
            fit = fits[candidate]
            return math.inf if fit is None else fit.aicc

        starts = [
            order(min(2, self.max_p), min(2, self.max_q), min(1, self.max_seasonal_p), min(1, self.max_seasonal_q)),
            order(0, 0, 0, 0),
            order(min(1, self.max_p), 0, min(1, self.max_seasonal_p), 0),
            order(0, min(1, self.max_q), 0, min(1, self.max_seasonal_q)),
        ]
        best = min(dict.fromkeys(starts), key=aicc)
        steps = [(1, 0, 0, 0), (0, 1, 0, 0), (0, 0, 1, 0), (0, 0, 0, 1), (1, 1, 0, 0), (0, 0, 1, 1)]
        while len(fits) < self.max_orders:
            neighbours = [
                replace(
                    best,
                    p=best.p + sign * dp,
                    q=best.q + sign * dq,
                    seasonal_p=best.seasonal_p + sign * dsp,
                    seasonal_q=best.seasonal_q + sign * dsq,
                )
                for dp, dq, dsp, dsq in steps
                for sign in (1, -1)
            ]
            if constant_allowed:
                neighbours.append(replace(best, constant=not best.constant))
            unvisited = [candidate for candidate in neighbours if within_bounds(candidate) and candidate not in fits]
            unvisited = unvisited[: self.max_orders - len(fits)]
            if not unvisited:
                break
            challenger = min(unvisited, key=aicc)
            if aicc(challenger) >= aicc(best):
                break
            best = challenger
        chosen = fits.get(best)
        if chosen is None:
            raise CandidateNotSupported(
                f"{self.name}: no order in the search gave a stationary, invertible estimate ({len(fits)} tried)"
            )
        return chosen

    def predict(self, horizon: int) -> pd.DataFrame:
        _require_fitted(self._result, self.name)
        frame = self._result.get_forecast(horizon).summary_frame(alpha=1 - INTERVAL_WIDTH)
        yhat = frame["mean"].to_numpy(dtype=float)
        half_widths = frame["mean_ci_upper"].to_numpy(dtype=float) - yhat
        # The first d + 7D residuals are the diffuse start of the differencing, not errors.
        start = self.order.d + SEASON_DAYS * self.order.seasonal_d
        lower, upper = _residual_interval(yhat, half_widths, np.asarray(self._result.resid, dtype=float)[start:])
        return _prediction_frame(self._last_day, yhat, lower, upper)


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


def default_candidates() -> list[ForecastCandidate]:
    """Every built-in candidate with its default hyper-parameters, simplest first."""
    return [
        SeasonalNaiveCandidate(),
        TrailingMeanCandidate(),
        ThetaCandidate(),
        ETSCandidate(),
        STLCandidate(),
        ArimaCandidate(),
        CombinationCandidate(),
        ProphetCandidate(),
    ]


# --------------------------------------------------------------------------- backtest


def prepare_history(daily: pd.DataFrame) -> pd.DataFrame:
    """The ``daily_revenue`` frame as ``date`` (datetime64) and float ``revenue``, ascending.

    Raises ValueError when a column is missing, a value is missing, negative or not finite,
    a day appears twice, or a calendar day is missing (the mart has one row per day, zero
    days included, so a gap is a broken input rather than a day without sales).
    """
    missing = {"date", "revenue"} - set(daily.columns)
    if missing:
        raise ValueError(f"daily revenue frame lacks column(s) {sorted(missing)}; it has {list(daily.columns)}")
    if daily.empty:
        raise ValueError("daily revenue frame has no rows")
    dates = pd.to_datetime(daily["date"]).astype("datetime64[ns]")
    revenue = pd.to_numeric(daily["revenue"]).astype(float)
    if dates.isna().any() or revenue.isna().any():
        raise ValueError("daily revenue frame has missing dates or revenue")
    if not np.isfinite(revenue.to_numpy()).all() or (revenue < 0).any():
        raise ValueError("revenue must be finite and non-negative")
    if (dates != dates.dt.normalize()).any():
        raise ValueError("date must be calendar days, without a time of day")
    history = pd.DataFrame({"date": dates, "revenue": revenue}).sort_values("date", ignore_index=True)
    duplicated = history["date"].duplicated()
    if duplicated.any():
        raise ValueError(f"day {history['date'][duplicated].iloc[0].date()} appears more than once")
    steps = history["date"].diff().dropna()
    if (steps != pd.Timedelta(days=1)).any():
        after = history["date"].iloc[int(np.argmax((steps != pd.Timedelta(days=1)).to_numpy()))]
        raise ValueError(
            f"daily revenue must have every calendar day (zero days included); days are missing after {after.date()}"
        )
    return history


def backtest_windows(
    n_days: int, horizon: int, folds: int = DEFAULT_FOLDS, min_training_days: int = MIN_TRAINING_DAYS
) -> list[tuple[int, int]]:
    """Row ranges [start, end) of the backtest windows, oldest first, the last ending at the last day.

    Each window has ``horizon`` days, or, when the history cannot hold one after
    ``min_training_days`` days of training, the days that are left (at least
    MIN_WINDOW_DAYS). Up to ``folds`` windows: their ends step back by a whole window when
    the history allows it, otherwise by as much as it allows (at least MIN_STEP_DAYS), so
    that a short history gets several overlapping windows rather than one, and fewer
    windows when even that step does not fit. Raises ForecastNotPossible when not even one
    window fits.
    """
    if horizon < 1:
        raise ValueError(f"horizon must be at least 1 day, got {horizon}")
    if folds < 1:
        raise ValueError(f"folds must be at least 1, got {folds}")
    window = min(horizon, n_days - min_training_days)
    if window < MIN_WINDOW_DAYS:
        raise ForecastNotPossible(
            f"history too short: {n_days} days, but a backtest needs at least "
            f"{min_training_days + MIN_WINDOW_DAYS} ({min_training_days} days of training before a window of at least "
            f"{MIN_WINDOW_DAYS} days)"
        )
    room = n_days - window - min_training_days  # how far back the first window's end can go
    folds = min(folds, 1 + room // MIN_STEP_DAYS)
    step = 0 if folds == 1 else min(window, room // (folds - 1))
    ends = [n_days - (folds - 1 - fold) * step for fold in range(folds)]
    return [(end - window, end) for end in ends]


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


def bounded(prediction: pd.DataFrame) -> pd.DataFrame:
    """Clip at zero (revenue cannot be negative) and order: 0 <= yhat_lower <= yhat <= yhat_upper."""
    yhat = prediction["yhat"].clip(lower=0.0)
    return prediction.assign(
        yhat=yhat,
        yhat_lower=np.minimum(prediction["yhat_lower"].clip(lower=0.0), yhat),
        yhat_upper=np.maximum(prediction["yhat_upper"].clip(lower=0.0), yhat),
    )


def _fit_predict(candidate: ForecastCandidate, history: pd.DataFrame, horizon: int, seed: int) -> pd.DataFrame:
    return bounded(_raw_fit_predict(candidate, history, horizon, seed))


def _raw_fit_predict(candidate: ForecastCandidate, history: pd.DataFrame, horizon: int, seed: int) -> pd.DataFrame:
    last_day = history["date"].iloc[-1]
    try:
        prediction = candidate.fit(history, seed).predict(horizon)
    except Exception as error:
        error.add_note(f"while fitting candidate {candidate.name!r} on {len(history)} days up to {last_day.date()}")
        raise
    return _checked_prediction(prediction, last_day, horizon, candidate.name)


def _settings_key(candidate: ForecastCandidate) -> tuple | None:
    """What a candidate's forecast depends on besides the history and the seed: its class and
    constructor settings. None when that cannot be told (not a dataclass, unhashable settings)."""
    if not dataclasses.is_dataclass(candidate):
        return None
    key = (
        type(candidate),
        tuple((item.name, getattr(candidate, item.name)) for item in dataclasses.fields(candidate) if item.init),
    )
    try:
        hash(key)
    except TypeError:
        return None
    return key


def _fold_forecast(
    candidate: ForecastCandidate,
    training: pd.DataFrame,
    days: int,
    seed: int,
    made: dict[tuple, pd.DataFrame | Exception],
) -> pd.DataFrame:
    """The candidate's checked, unclipped forecast of one fold. ``made`` holds this fold's
    forecasts by settings key, so that a combination reuses its members' forecasts."""
    members, combine = getattr(candidate, "members", None), getattr(candidate, "combine", None)
    if members is not None and combine is not None:
        outcomes = {
            member.name: _shared_forecast(copy.deepcopy(member), training, days, seed, made) for member in members
        }
        return _checked_prediction(
            combine(outcomes, training["date"].iloc[-1]), training["date"].iloc[-1], days, candidate.name
        )
    outcome = _shared_forecast(candidate, training, days, seed, made)
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def _shared_forecast(
    candidate: ForecastCandidate,
    training: pd.DataFrame,
    days: int,
    seed: int,
    made: dict[tuple, pd.DataFrame | Exception],
) -> pd.DataFrame | Exception:
    key = _settings_key(candidate)
    if key is not None and key in made:
        return made[key]
    try:
        outcome: pd.DataFrame | Exception = _raw_fit_predict(candidate, training, days, seed)
    except Exception as error:
        outcome = error
    if key is not None:
        made[key] = outcome
    return outcome


def _step_aside_reason(error: Exception) -> str:
    # A shape the candidate says it cannot model is reported in its own words; anything else
    # is a failure of the fit and keeps its type, so that a bug does not read like a rule.
    if isinstance(error, CandidateNotSupported):
        return str(error)
    return f"{type(error).__name__}: {error}"


def _check_candidates(candidates: Sequence[ForecastCandidate]) -> None:
    if not candidates:
        raise ValueError("no forecast candidates given")
    names = [candidate.name for candidate in candidates]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"candidate names must be unique; repeated: {duplicates}")


def _aggregate_row(name: str, fold_rows: list[dict[str, Any]]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "candidate": name,
        "fold": AGGREGATE_FOLD,
        "window_start": fold_rows[0]["window_start"],
        "window_end": fold_rows[-1]["window_end"],
        "train_days": pd.NA,
        "n_days": sum(fold_row["n_days"] for fold_row in fold_rows),
    }
    for metric in METRIC_COLUMNS:
        values = np.array([fold_row[metric] for fold_row in fold_rows], dtype=float)
        values = values[~np.isnan(values)]
        row[metric] = float(values.mean()) if len(values) else math.nan
    return row


@dataclass(frozen=True, eq=False)
class Backtest:
    """``table``: one row per (candidate, fold) and one per candidate with ``fold == "all"``,
    for the candidates that forecast every fold; ``stepped_aside``: name -> reason for the
    others, in candidate order."""

    table: pd.DataFrame
    stepped_aside: dict[str, str]


BACKTEST_COLUMNS = ["candidate", "fold", "window_start", "window_end", "train_days", "n_days", *METRIC_COLUMNS]


def backtest(
    daily: pd.DataFrame,
    candidates: Sequence[ForecastCandidate],
    horizon: int = 30,
    folds: int = DEFAULT_FOLDS,
    seed: int = 0,
) -> Backtest:
    """Rolling-origin backtest on the windows of ``backtest_windows``.

    Fold 1 is the oldest window; each fold trains on every day before its window. A
    candidate whose fit raises (``CandidateNotSupported`` or anything else) or predicts
    non-finite values on any fold steps aside for all of them, with the fold and the
    reason. The aggregate row (``fold == "all"``) holds the mean of the folds' metrics,
    each fold weighing the same, and the total ``n_days``. Metric columns are those of
    ``score``; ``mape`` is ``mape_nonzero``.
    """
    history = prepare_history(daily)
    _check_candidates(candidates)
    windows = backtest_windows(len(history), horizon, folds)
    rows_by_candidate: dict[str, list[dict[str, Any]]] = {candidate.name: [] for candidate in candidates}
    stepped_aside: dict[str, str] = {}
    for fold, (start, end) in enumerate(windows, start=1):
        training, actual = history.iloc[:start], history.iloc[start:end]
        made: dict[tuple, pd.DataFrame | Exception] = {}
        for candidate in candidates:
            if candidate.name in stepped_aside:
                continue
            try:
                prediction = bounded(_fold_forecast(candidate, training, len(actual), seed, made))
            except Exception as error:
                stepped_aside[candidate.name] = (
                    f"backtest fold {fold} ({len(training)} training days): {_step_aside_reason(error)}"
                )
                _log.info("forecast candidate %s steps aside: %s", candidate.name, stepped_aside[candidate.name])
                continue
            rows_by_candidate[candidate.name].append(
                {
                    "candidate": candidate.name,
                    "fold": str(fold),
                    "window_start": actual["date"].iloc[0].date(),
                    "window_end": actual["date"].iloc[-1].date(),
                    "train_days": len(training),
                    "n_days": len(actual),
                    **score(actual["revenue"].to_numpy(), prediction),
                }
            )
    rows = []
    for name, fold_rows in rows_by_candidate.items():
        if name in stepped_aside:
            continue
        rows.extend(fold_rows)
        rows.append(_aggregate_row(name, fold_rows))
    table = pd.DataFrame(rows, columns=BACKTEST_COLUMNS)
    table = table.astype({"train_days": "Int64", "n_days": "int64"})
    ordered = {
        candidate.name: stepped_aside[candidate.name] for candidate in candidates if candidate.name in stepped_aside
    }
    return Backtest(table=table, stepped_aside=ordered)


# --------------------------------------------------------------------------- selection


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


# --------------------------------------------------------------------------- entry point


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


def plot_forecast(history: pd.DataFrame, forecast: pd.DataFrame, title: str = "") -> bytes:
    """PNG bytes: the last PLOT_HISTORY_DAYS days of revenue, the forecast and its interval."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    recent = history.tail(PLOT_HISTORY_DAYS)
    forecast_dates = pd.to_datetime(forecast["date"])
    # A Figure on its own Agg canvas, not pyplot: no global figure state and no GUI backend.
    figure = Figure(figsize=(10, 4), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    axes.plot(recent["date"], recent["revenue"], color="0.3", linewidth=1, label="revenue")
    axes.plot(forecast_dates, forecast["yhat"], color="tab:blue", linewidth=1.5, label="forecast")
    axes.fill_between(
        forecast_dates,
        forecast["yhat_lower"],
        forecast["yhat_upper"],
        color="tab:blue",
        alpha=0.2,
        label=f"{INTERVAL_WIDTH:.0%} interval",
    )
    axes.set_ylim(bottom=0)
    axes.set_ylabel("revenue per day (BRL)")
    axes.set_title(title)
    axes.legend(loc="upper left")
    figure.autofmt_xdate()
    figure.tight_layout()
    buffer = io.BytesIO()
    # No Software tag, so the bytes do not change with the matplotlib version.
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
