"""Daily revenue forecast: candidates compete in a rolling-origin backtest, the winner is refit.

``forecast_revenue(daily)`` takes the ``daily_revenue`` mart (one row per calendar day,
zero days included, columns ``date`` and ``revenue``) and returns a ``ForecastResult``:
the next ``horizon`` days from the candidate with the lowest mean backtest WAPE, refit on
all history, with the backtest table that chose it and a PNG plot.

Backtest. The last ``folds * horizon`` days are cut into ``folds`` consecutive windows of
``horizon`` days. For each window every candidate is fitted on the days strictly before it
and predicts the whole window; nothing from the window or after it is seen. The
hyper-parameters are fixed; nothing is tuned on the windows.

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
import io
import logging
import math
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal, Protocol, Self

import numpy as np
import pandas as pd

from ml.forecast_baselines import LOWER_QUANTILE, SEASON_DAYS, UPPER_QUANTILE, seasonal_naive_forecast

# Eight weeks: enough for the seasonal-naive residual window and for ETS to see 8 weekly cycles.
MIN_TRAINING_DAYS = 56
# Prophet's yearly Fourier terms on less than two full years extrapolate wildly (and can
# push the forecast below zero); below this length the yearly component is left out.
YEARLY_SEASONALITY_MIN_DAYS = 730
# The same nominal coverage as the baseline's 10%-90% residual quantiles.
INTERVAL_WIDTH = UPPER_QUANTILE - LOWER_QUANTILE
TRAILING_MEAN_DAYS = 28
RESIDUAL_DAYS = 8 * SEASON_DAYS
PLOT_HISTORY_DAYS = 120
AGGREGATE_FOLD = "all"
PREDICTION_COLUMNS = ["yhat", "yhat_lower", "yhat_upper"]
METRIC_COLUMNS = ["wape", "mape", "smape", "mae", "bias", "relative_bias", "interval_coverage"]


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
    """A forecasting method with fixed hyper-parameters.

    ``fit`` receives a history frame with a ``date`` column (datetime64, consecutive days,
    ascending) and a float ``revenue`` column (>= 0), replaces any earlier fitted state and
    returns the candidate. ``predict(horizon)`` returns ``horizon`` rows for the days after
    the last fitted day: ``date``, ``yhat``, ``yhat_lower``, ``yhat_upper``, not yet clipped
    at zero. The same history and seed must give the same prediction.
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


def black_friday(year: int) -> date:
    """The day after the fourth Thursday of November (US Thanksgiving), as Brazil keeps it.

    Usually the fourth Friday of November, but the fifth when November starts on a Friday
    (2019: the 29th, not the 22nd).
    """
    first = date(year, 11, 1)
    first_thursday = first + timedelta(days=(3 - first.weekday()) % 7)
    return first_thursday + timedelta(weeks=3, days=1)


def shopping_events(years: Sequence[int]) -> pd.DataFrame:
    """Black Friday and the following Cyber Monday of each year, as a Prophet holidays frame.

    Black Friday's window covers the run-up from the Monday of its week and the weekend
    after it, when Brazilian e-commerce stays elevated; Cyber Monday is its own one-day
    event.
    """
    rows = []
    for year in years:
        friday = black_friday(year)
        rows.append({"holiday": "black_friday", "ds": pd.Timestamp(friday), "lower_window": -4, "upper_window": 2})
        rows.append(
            {
                "holiday": "cyber_monday",
                "ds": pd.Timestamp(friday + timedelta(days=3)),
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
    error or seasonality are undefined. The point forecast is the model's; the interval
    takes its width from the 10% and 90% quantiles of the last ``residual_days`` one-step
    residuals (the noise level now, not the average over a history that starts near zero)
    and its growth with the horizon from the model's analytic prediction variance. The fit
    is a deterministic optimisation; ``seed`` is accepted for the common interface.
    """

    name: str = "ets"
    damped_trend: bool = True
    residual_days: int = RESIDUAL_DAYS
    _result: Any = field(default=None, init=False, repr=False)
    _last_day: pd.Timestamp | None = field(default=None, init=False, repr=False)

    def fit(self, history: pd.DataFrame, seed: int) -> Self:
        from statsmodels.tsa.exponential_smoothing.ets import ETSModel

        series = pd.Series(
            history["revenue"].to_numpy(dtype=float),
            index=pd.DatetimeIndex(history["date"].to_numpy(), freq="D"),
        )
        model = ETSModel(
            series,
            error="add",
            trend="add",
            damped_trend=self.damped_trend,
            seasonal="add",
            seasonal_periods=SEASON_DAYS,
        )
        self._result = model.fit(disp=False)
        self._last_day = history["date"].iloc[-1]
        return self

    def predict(self, horizon: int) -> pd.DataFrame:
        _require_fitted(self._result, self.name)
        observed = int(self._result.nobs)
        prediction = self._result.get_prediction(start=observed, end=observed + horizon - 1)
        frame = prediction.summary_frame(alpha=1 - INTERVAL_WIDTH)
        yhat = frame["mean"].to_numpy(dtype=float)
        half_widths = frame["pi_upper"].to_numpy(dtype=float) - yhat
        growth = half_widths / half_widths[0] if half_widths[0] > 0 else np.ones(horizon)
        residuals = np.asarray(self._result.resid, dtype=float)[-self.residual_days :]
        lower_error, upper_error = np.quantile(residuals, [LOWER_QUANTILE, UPPER_QUANTILE])
        return _prediction_frame(self._last_day, yhat, yhat + lower_error * growth, yhat + upper_error * growth)


@dataclass
class SeasonalNaiveCandidate:
    """Same weekday of the last observed week: ``ml.forecast_baselines.seasonal_naive_forecast``."""

    name: str = "seasonal_naive"
    _history: pd.DataFrame | None = field(default=None, init=False, repr=False)

    def fit(self, history: pd.DataFrame, seed: int) -> Self:
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

    name: str = "trailing_mean"
    window_days: int = TRAILING_MEAN_DAYS
    residual_days: int = RESIDUAL_DAYS
    _revenue: np.ndarray | None = field(default=None, init=False, repr=False)
    _last_day: pd.Timestamp | None = field(default=None, init=False, repr=False)

    def fit(self, history: pd.DataFrame, seed: int) -> Self:
        revenue = history["revenue"].to_numpy(dtype=float)
        if len(revenue) <= self.window_days:
            raise ValueError(f"trailing mean needs more than {self.window_days} days of history, got {len(revenue)}")
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


def default_candidates() -> list[ForecastCandidate]:
    """Prophet, ETS and the two yardsticks, with their default hyper-parameters."""
    return [ProphetCandidate(), ETSCandidate(), SeasonalNaiveCandidate(), TrailingMeanCandidate()]


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


def backtest_windows(n_days: int, horizon: int, folds: int) -> list[tuple[int, int]]:
    """Row ranges [start, end) of the ``folds`` test windows, oldest first, ending at the last day.

    Raises ValueError unless at least MIN_TRAINING_DAYS days precede the first window.
    """
    if horizon < 1:
        raise ValueError(f"horizon must be at least 1 day, got {horizon}")
    if folds < 1:
        raise ValueError(f"folds must be at least 1, got {folds}")
    needed = folds * horizon + MIN_TRAINING_DAYS
    if n_days < needed:
        raise ValueError(
            f"history too short: {n_days} days, but a backtest of {folds} folds x {horizon} days needs at least "
            f"{needed} ({folds} x {horizon} + {MIN_TRAINING_DAYS} days of training before the first window)"
        )
    return [(n_days - (folds - fold) * horizon, n_days - (folds - fold - 1) * horizon) for fold in range(folds)]


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
    last_day = history["date"].iloc[-1]
    try:
        prediction = candidate.fit(history, seed).predict(horizon)
    except Exception as error:
        error.add_note(f"while fitting candidate {candidate.name!r} on {len(history)} days up to {last_day.date()}")
        raise
    return bounded(_checked_prediction(prediction, last_day, horizon, candidate.name))


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


def backtest(
    daily: pd.DataFrame,
    candidates: Sequence[ForecastCandidate],
    horizon: int = 30,
    folds: int = 3,
    seed: int = 0,
) -> pd.DataFrame:
    """Rolling-origin backtest: one row per (candidate, fold) and one aggregate row per candidate.

    Fold 1 is the oldest window; each fold trains on every day before its window. The
    aggregate row (``fold == "all"``) holds the mean of the folds' metrics, each fold
    weighing the same, and the total ``n_days``. Metric columns are those of ``score``;
    ``mape`` is ``mape_nonzero``.
    """
    history = prepare_history(daily)
    _check_candidates(candidates)
    windows = backtest_windows(len(history), horizon, folds)
    rows_by_candidate: dict[str, list[dict[str, Any]]] = {candidate.name: [] for candidate in candidates}
    for fold, (start, end) in enumerate(windows, start=1):
        training, actual = history.iloc[:start], history.iloc[start:end]
        for candidate in candidates:
            prediction = _fit_predict(candidate, training, horizon, seed)
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
        rows.extend(fold_rows)
        rows.append(_aggregate_row(name, fold_rows))
    table = pd.DataFrame(rows)
    return table.astype({"train_days": "Int64", "n_days": "int64"})


# --------------------------------------------------------------------------- entry point


@dataclass(frozen=True, eq=False)
class ForecastResult:
    """What ``forecast_revenue`` decided and why.

    - ``forecast``: date, yhat, yhat_lower, yhat_upper (80% interval), model_name; the
      ``horizon`` days after the last day of data, from the winner refit on all history.
    - ``backtest``: the table of ``backtest`` (per fold and ``fold == "all"``).
    - ``winner``: the candidate with the lowest mean backtest WAPE (the earlier candidate
      on a tie); ``ranking``: all candidates, best first.
    - ``prophet_lost_to``: the winner's name when a Prophet candidate took part and did not
      win, else None.
    - ``plot_png``: PNG bytes of the last days of history, the forecast and its interval.
    """

    forecast: pd.DataFrame
    backtest: pd.DataFrame
    winner: str
    ranking: tuple[str, ...]
    prophet_lost_to: str | None
    plot_png: bytes = field(repr=False)


def forecast_revenue(
    daily: pd.DataFrame,
    horizon: int = 30,
    folds: int = 3,
    seed: int = 0,
    candidates: Sequence[ForecastCandidate] | None = None,
) -> ForecastResult:
    """Backtest the candidates on the last ``folds`` windows of ``horizon`` days, refit the
    lowest-WAPE one on all of ``daily`` and forecast the next ``horizon`` days.

    ``candidates`` defaults to ``default_candidates()``. Raises ValueError when the history
    is shorter than ``folds * horizon + MIN_TRAINING_DAYS`` days, or for a malformed frame
    (see ``prepare_history``).
    """
    history = prepare_history(daily)
    chosen = list(candidates) if candidates is not None else default_candidates()
    table = backtest(history, chosen, horizon=horizon, folds=folds, seed=seed)

    aggregate = table[table["fold"] == AGGREGATE_FOLD].set_index("candidate")["wape"]
    unscored = aggregate.index[aggregate.isna()].tolist()
    if unscored:
        raise ValueError(f"WAPE is undefined for {unscored}: every day of the backtest windows has zero revenue")
    order = {candidate.name: position for position, candidate in enumerate(chosen)}
    ranking = tuple(sorted(order, key=lambda name: (aggregate[name], order[name])))
    winner = ranking[0]
    by_name = {candidate.name: candidate for candidate in chosen}

    forecast = _fit_predict(by_name[winner], history, horizon, seed)
    forecast = forecast.assign(date=forecast["date"].dt.date, model_name=winner)
    prophet_took_part = any(isinstance(candidate, ProphetCandidate) for candidate in chosen)
    prophet_lost_to = winner if prophet_took_part and not isinstance(by_name[winner], ProphetCandidate) else None
    return ForecastResult(
        forecast=forecast,
        backtest=table,
        winner=winner,
        ranking=ranking,
        prophet_lost_to=prophet_lost_to,
        plot_png=plot_forecast(history, forecast, title=f"{winner}: backtest WAPE {aggregate[winner]:.1%}"),
    )


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
