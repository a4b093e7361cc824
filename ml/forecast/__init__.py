"""Daily revenue forecast: candidates compete in a rolling-origin backtest, the chosen one is refit.

``forecast_revenue(daily)`` is the entry point; each piece is importable on its own:

- ``metrics``: the accuracy of one window (WAPE, MAPE, sMAPE, MAE, bias, interval coverage).
- ``events``: Black Friday and Cyber Monday as Prophet holidays, dated by ``ml.retail_calendar``.
- ``candidates``: the forecasting methods behind one interface (``candidates.base``), one module
  per family, and ``default_candidates``.
- ``backtesting``: the history check, the rolling-origin windows and each candidate's scores.
- ``selection``: which backtested candidate is published, and why.
- ``pipeline``: ``forecast_revenue`` and its ``ForecastResult``.
- ``plot``: the PNG of recent revenue and the forecast.
"""

from ml.forecast.backtesting import (
    AGGREGATE_FOLD,
    BACKTEST_COLUMNS,
    DEFAULT_FOLDS,
    MIN_STEP_DAYS,
    MIN_TRAINING_DAYS,
    MIN_WINDOW_DAYS,
    Backtest,
    ForecastNotPossible,
    backtest,
    backtest_windows,
    bounded,
    prepare_history,
)
from ml.forecast.candidates import (
    ARIMA_MIN_DAYS,
    INTERVAL_WIDTH,
    MSTL_YEARLY_MIN_DAYS,
    PREDICTION_COLUMNS,
    RESIDUAL_DAYS,
    TRAILING_MEAN_DAYS,
    YEAR_DAYS,
    YEARLY_SEASONALITY_MIN_DAYS,
    ArimaCandidate,
    ArimaOrder,
    CandidateNotSupported,
    CombinationCandidate,
    ETSCandidate,
    ForecastCandidate,
    ProphetCandidate,
    SeasonalNaiveCandidate,
    STLCandidate,
    ThetaCandidate,
    TrailingMeanCandidate,
    default_candidates,
    future_dates,
    weekly_seasonal_strength,
)
from ml.forecast.events import shopping_events
from ml.forecast.metrics import (
    METRIC_COLUMNS,
    bias,
    interval_coverage,
    mae,
    mape_nonzero,
    relative_bias,
    score,
    smape,
    wape,
)
from ml.forecast.pipeline import CANDIDATE_COLUMNS, FITTED, STEPPED_ASIDE, ForecastResult, forecast_revenue
from ml.forecast.plot import PLOT_HISTORY_DAYS, plot_forecast
from ml.forecast.selection import TIE_TOLERANCE, Choice, choose, simplicity

__all__ = [
    "AGGREGATE_FOLD",
    "ARIMA_MIN_DAYS",
    "BACKTEST_COLUMNS",
    "CANDIDATE_COLUMNS",
    "DEFAULT_FOLDS",
    "FITTED",
    "INTERVAL_WIDTH",
    "METRIC_COLUMNS",
    "MIN_STEP_DAYS",
    "MIN_TRAINING_DAYS",
    "MIN_WINDOW_DAYS",
    "MSTL_YEARLY_MIN_DAYS",
    "PLOT_HISTORY_DAYS",
    "PREDICTION_COLUMNS",
    "RESIDUAL_DAYS",
    "STEPPED_ASIDE",
    "TIE_TOLERANCE",
    "TRAILING_MEAN_DAYS",
    "YEARLY_SEASONALITY_MIN_DAYS",
    "YEAR_DAYS",
    "ArimaCandidate",
    "ArimaOrder",
    "Backtest",
    "CandidateNotSupported",
    "Choice",
    "CombinationCandidate",
    "ETSCandidate",
    "ForecastCandidate",
    "ForecastNotPossible",
    "ForecastResult",
    "ProphetCandidate",
    "STLCandidate",
    "SeasonalNaiveCandidate",
    "ThetaCandidate",
    "TrailingMeanCandidate",
    "backtest",
    "backtest_windows",
    "bias",
    "bounded",
    "choose",
    "default_candidates",
    "forecast_revenue",
    "future_dates",
    "interval_coverage",
    "mae",
    "mape_nonzero",
    "plot_forecast",
    "prepare_history",
    "relative_bias",
    "score",
    "shopping_events",
    "simplicity",
    "smape",
    "wape",
    "weekly_seasonal_strength",
]
