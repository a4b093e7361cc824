"""How the published forecast did on the days that have since been realised.

The forecast published by an earlier run covers days that later data makes real: on those
days, WAPE (sum of absolute errors over the sum of revenue: robust to quiet days) and MAPE
(the mean of daily percentage errors over days with revenue: the seed requirement's figure,
which a few near-empty days inflate), and the error of the total over those days.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class RealisedAccuracy:
    forecast_version: str
    days: int
    first_day: str
    last_day: str
    wape: float
    mape: float | None  # None when no realised day had revenue
    total_error: float


def realised_accuracy(forecast: pd.DataFrame, actual: pd.DataFrame) -> RealisedAccuracy | None:
    """``forecast``: date, yhat, model_version (the published table); ``actual``: date, revenue.
    None when no forecast day is realised yet."""
    predicted = forecast.assign(date=pd.to_datetime(forecast["date"]))[["date", "yhat", "model_version"]]
    realised = actual.assign(date=pd.to_datetime(actual["date"]))[["date", "revenue"]]
    both = predicted.merge(realised, on="date", how="inner").sort_values("date")
    if both.empty:
        return None
    error = (both["revenue"] - both["yhat"]).abs()
    revenue = both["revenue"].astype(float)
    total = float(revenue.sum())
    with_revenue = revenue > 0
    return RealisedAccuracy(
        forecast_version=str(both["model_version"].iloc[0]),
        days=len(both),
        first_day=str(both["date"].min().date()),
        last_day=str(both["date"].max().date()),
        wape=float(error.sum() / total) if total > 0 else float("inf"),
        mape=float((error[with_revenue] / revenue[with_revenue]).mean()) if with_revenue.any() else None,
        total_error=float(abs(total - both["yhat"].sum()) / total) if total > 0 else float("inf"),
    )
