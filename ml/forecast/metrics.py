"""Forecast accuracy of one backtest window.

Metrics (public pure functions, ratios as fractions, 0.12 meaning 12%):

- ``wape``: sum |actual - predicted| / sum |actual|; NaN when every actual is 0.
- ``mape_nonzero``: mean |actual - predicted| / |actual| over the days with actual != 0
  only; NaN when there are none.
- ``smape``: mean 2 |actual - predicted| / (|actual| + |predicted|), a day with both at 0
  counting 0; between 0 and 2.
- ``mae``: mean |actual - predicted|, in revenue units (BRL).
- ``bias``: mean (predicted - actual), in BRL; positive means over-forecast.
- ``relative_bias``: sum (predicted - actual) / sum actual; NaN when every actual is 0.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

METRIC_COLUMNS = ["wape", "mape", "smape", "mae", "bias", "relative_bias", "interval_coverage"]


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
