"""The published forecast scored on realised days: WAPE over every day, MAPE over days with revenue."""

import pandas as pd
import pytest

from ml.monitoring.forecast_accuracy import realised_accuracy


def test_scores_only_the_realised_days_and_keeps_mape_off_empty_days():
    forecast = pd.DataFrame(
        {"date": pd.date_range("2018-05-01", periods=4), "yhat": [100.0, 100.0, 10.0, 100.0], "model_version": "t.f/3"}
    )
    actual = pd.DataFrame(
        {"date": pd.date_range("2018-04-29", periods=5).date, "revenue": [1.0, 1.0, 80.0, 120.0, 0.0]}
    )
    accuracy = realised_accuracy(forecast, actual)
    assert (accuracy.days, accuracy.first_day, accuracy.last_day) == (3, "2018-05-01", "2018-05-03")
    assert accuracy.wape == pytest.approx((20 + 20 + 10) / 200)
    assert accuracy.mape == pytest.approx((20 / 80 + 20 / 120) / 2)  # the empty day is left out
    assert accuracy.total_error == pytest.approx(abs(200 - 210) / 200)
    assert accuracy.forecast_version == "t.f/3"
    assert realised_accuracy(forecast, actual.iloc[:2]) is None
