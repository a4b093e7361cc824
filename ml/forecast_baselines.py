"""Baseline daily-revenue forecasts. Not models: the yardsticks a model must beat."""

from __future__ import annotations

import numpy as np
import pandas as pd

# Residual quantiles for an 80% interval.
LOWER_QUANTILE, UPPER_QUANTILE = 0.1, 0.9
SEASON_DAYS = 7


def seasonal_naive_forecast(daily: pd.DataFrame, horizon: int, residual_weeks: int = 8) -> pd.DataFrame:
    """Each future day repeats the revenue of the same weekday in the last observed week.

    ``daily`` has one row per calendar day with columns ``date`` and ``revenue``. The
    interval comes from the empirical quantiles of the same rule's one-week-ahead errors
    over the last ``residual_weeks`` weeks, and is never below zero.
    """
    if horizon < 1:
        raise ValueError(f"horizon must be at least 1 day, got {horizon}")
    history = daily.sort_values("date")
    revenue = history["revenue"].astype(float).to_numpy()
    if len(revenue) < SEASON_DAYS:
        raise ValueError(f"seasonal naive needs at least {SEASON_DAYS} days of history, got {len(revenue)}")
    last_week = revenue[-SEASON_DAYS:]
    yhat = np.resize(last_week, horizon)

    errors = revenue[SEASON_DAYS:] - revenue[:-SEASON_DAYS]
    errors = errors[-residual_weeks * SEASON_DAYS :]
    lower_error, upper_error = (
        np.quantile(errors, q) if len(errors) else 0.0 for q in (LOWER_QUANTILE, UPPER_QUANTILE)
    )

    last_day = pd.Timestamp(history["date"].iloc[-1])
    dates = pd.date_range(last_day + pd.Timedelta(days=1), periods=horizon, freq="D")
    return pd.DataFrame(
        {
            "date": dates.date,
            "yhat": np.maximum(yhat, 0.0),
            "yhat_lower": np.maximum(yhat + lower_error, 0.0),
            "yhat_upper": np.maximum(yhat + upper_error, 0.0),
        }
    )
