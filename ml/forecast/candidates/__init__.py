"""Forecast candidates behind one interface (see ``base``); adding one is a module and a line in
``default_candidates``."""

from __future__ import annotations

from ml.forecast.candidates.arima import ARIMA_MIN_DAYS, ArimaCandidate, ArimaOrder, weekly_seasonal_strength
from ml.forecast.candidates.base import (
    INTERVAL_WIDTH,
    PREDICTION_COLUMNS,
    RESIDUAL_DAYS,
    CandidateNotSupported,
    ForecastCandidate,
    future_dates,
)
from ml.forecast.candidates.combination import CombinationCandidate
from ml.forecast.candidates.ets import ETSCandidate
from ml.forecast.candidates.prophet import YEARLY_SEASONALITY_MIN_DAYS, ProphetCandidate
from ml.forecast.candidates.stl import MSTL_YEARLY_MIN_DAYS, YEAR_DAYS, STLCandidate
from ml.forecast.candidates.theta import ThetaCandidate
from ml.forecast.candidates.yardsticks import TRAILING_MEAN_DAYS, SeasonalNaiveCandidate, TrailingMeanCandidate


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


__all__ = [
    "ARIMA_MIN_DAYS",
    "ArimaCandidate",
    "ArimaOrder",
    "CandidateNotSupported",
    "CombinationCandidate",
    "ETSCandidate",
    "ForecastCandidate",
    "INTERVAL_WIDTH",
    "MSTL_YEARLY_MIN_DAYS",
    "PREDICTION_COLUMNS",
    "ProphetCandidate",
    "RESIDUAL_DAYS",
    "STLCandidate",
    "SeasonalNaiveCandidate",
    "TRAILING_MEAN_DAYS",
    "ThetaCandidate",
    "TrailingMeanCandidate",
    "YEARLY_SEASONALITY_MIN_DAYS",
    "YEAR_DAYS",
    "default_candidates",
    "future_dates",
    "weekly_seasonal_strength",
]
