from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ml.forecast import (
    MIN_TRAINING_DAYS,
    MIN_WINDOW_DAYS,
    TIE_TOLERANCE,
    ArimaCandidate,
    CombinationCandidate,
    ETSCandidate,
    ForecastNotPossible,
    ProphetCandidate,
    SeasonalNaiveCandidate,
    STLCandidate,
    ThetaCandidate,
    TrailingMeanCandidate,
    backtest_windows,
    bias,
    forecast_revenue,
    future_dates,
    interval_coverage,
    mae,
    mape_nonzero,
    prepare_history,
    relative_bias,
    shopping_events,
    smape,
    wape,
)
from ml.forecast_baselines import seasonal_naive_forecast
from ml.retail_calendar import black_friday
from retail_intel.generator import GeneratorConfig, generate

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DEFAULT_NAMES = ["seasonal_naive", "trailing_mean", "theta", "ets", "stl", "arima", "combination", "prophet"]
# Monday first: a strong weekly shape, as in Olist (weekends well below weekdays).
WEEKLY_SHAPE = np.array([1.3, 1.25, 1.15, 1.05, 0.95, 0.6, 0.7])


def daily_frame(revenue, start: str = "2021-01-04") -> pd.DataFrame:
    days = pd.date_range(start, periods=len(revenue), freq="D")
    return pd.DataFrame({"date": days.date, "revenue": np.asarray(revenue, dtype=float)})


def weekly_series(days: int = 300, seed: int = 1) -> pd.DataFrame:
    """Trend x strong weekly pattern + noise, starting on a Monday."""
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    revenue = (1000 + 2.0 * t) * WEEKLY_SHAPE[t % 7] + rng.normal(0, 40, days)
    return daily_frame(np.clip(revenue, 0, None))


def declining_series(seed: int = 3) -> pd.DataFrame:
    """Flat for 120 days, then a fall from 1000 to 80 a day over the last 80 days."""
    rng = np.random.default_rng(seed)
    level = np.concatenate([np.full(120, 1000.0), np.linspace(1000, 80, 80)])
    t = np.arange(len(level))
    revenue = level * np.array([1.2, 1.15, 1.1, 1.0, 0.95, 0.8, 0.8])[t % 7] + rng.normal(0, 20, len(level))
    return daily_frame(np.clip(revenue, 0, None))


@dataclass
class ConstantCandidate:
    """Predicts the same value every day, with a fixed interval around it."""

    name: str
    value: float
    _last_day: pd.Timestamp | None = None

    def fit(self, history, seed):
        self._last_day = history["date"].iloc[-1]
        return self

    def predict(self, horizon):
        return pd.DataFrame(
            {
                "date": future_dates(self._last_day, horizon),
                "yhat": self.value,
                "yhat_lower": self.value - 1,
                "yhat_upper": self.value + 1,
            }
        )


@dataclass
class SpyCandidate(ConstantCandidate):
    """Records the last day of every history it is fitted on."""

    fitted_up_to: list[pd.Timestamp] = field(default_factory=list)

    def fit(self, history, seed):
        self.fitted_up_to.append(history["date"].max())
        return super().fit(history, seed)


@pytest.fixture(scope="module")
def weekly_result():
    return forecast_revenue(weekly_series(), horizon=28, folds=3, seed=0)


def aggregate_wape(result) -> pd.Series:
    table = result.backtest
    return table[table["fold"] == "all"].set_index("candidate")["wape"]


# ----------------------------------------------------------------------------- metrics

ACTUAL = [0.0, 10.0, 20.0, 30.0]
PREDICTED = [5.0, 10.0, 10.0, 40.0]  # absolute errors 5, 0, 10, 10


def test_metrics_on_a_hand_computed_case():
    assert wape(ACTUAL, PREDICTED) == pytest.approx(25 / 60)
    # the zero-actual day is left out: (0/10 + 10/20 + 10/30) / 3
    assert mape_nonzero(ACTUAL, PREDICTED) == pytest.approx((0 + 0.5 + 1 / 3) / 3)
    # 2*5/5 + 0 + 2*10/30 + 2*10/70, over 4 days
    assert smape(ACTUAL, PREDICTED) == pytest.approx((2 + 0 + 2 / 3 + 2 / 7) / 4)
    assert mae(ACTUAL, PREDICTED) == pytest.approx(25 / 4)
    assert bias(ACTUAL, PREDICTED) == pytest.approx(5 / 4)
    assert relative_bias(ACTUAL, PREDICTED) == pytest.approx(5 / 60)
    assert bias([10.0, 10.0], [5.0, 5.0]) == pytest.approx(-5.0)


def test_metrics_with_zero_days():
    # both zero counts as a perfect day; only one zero counts the maximum, 2
    assert smape([0.0, 10.0], [0.0, 10.0]) == 0.0
    assert smape([0.0, 0.0], [0.0, 5.0]) == pytest.approx(1.0)
    assert smape([0.0], [0.0]) == 0.0
    # no revenue at all: the share metrics are undefined, the absolute ones are not
    assert math.isnan(wape([0.0, 0.0], [1.0, 0.0]))
    assert math.isnan(mape_nonzero([0.0, 0.0], [1.0, 0.0]))
    assert math.isnan(relative_bias([0.0, 0.0], [1.0, 0.0]))
    assert mae([0.0, 0.0], [1.0, 0.0]) == pytest.approx(0.5)
    # an error on a zero day still counts in WAPE's numerator
    assert wape([0.0, 10.0], [4.0, 10.0]) == pytest.approx(0.4)
    assert interval_coverage([1.0, 5.0, 10.0], [0.0, 6.0, 10.0], [2.0, 7.0, 10.0]) == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    ("actual", "predicted", "message"),
    [([1.0, 2.0], [1.0], "same length"), ([], [], "empty"), ([1.0, math.nan], [1.0, 1.0], "finite")],
)
def test_metrics_reject_malformed_input(actual, predicted, message):
    with pytest.raises(ValueError, match=message):
        wape(actual, predicted)


# ----------------------------------------------------------------------------- backtest


def test_backtest_never_sees_its_window_and_the_winner_is_refit_on_everything():
    daily = weekly_series(days=120)
    spy = SpyCandidate(name="spy", value=1000.0)
    result = forecast_revenue(daily, horizon=14, folds=3, candidates=[spy])
    folds = result.backtest[result.backtest["fold"] != "all"]
    starts = [pd.Timestamp(start) for start in folds["window_start"]]
    assert starts == [pd.Timestamp("2021-01-04") + pd.Timedelta(days=offset) for offset in (78, 92, 106)]
    assert len(spy.fitted_up_to) == 4
    for fitted_up_to, window_start in zip(spy.fitted_up_to[:3], starts, strict=True):
        assert fitted_up_to == window_start - pd.Timedelta(days=1)
    assert spy.fitted_up_to[3] == pd.Timestamp(daily["date"].iloc[-1])
    assert folds["train_days"].tolist() == [78, 92, 106]
    assert folds["n_days"].tolist() == [14, 14, 14]


def test_backtest_windows_are_consecutive_and_end_at_the_last_day():
    assert backtest_windows(100, horizon=10, folds=3) == [(70, 80), (80, 90), (90, 100)]
    with pytest.raises(ValueError, match="horizon"):
        backtest_windows(100, horizon=0, folds=3)


def test_winner_is_the_lowest_aggregate_wape_and_ties_go_to_the_earlier_candidate():
    daily = daily_frame(np.full(100, 100.0))
    candidates = [
        ConstantCandidate("half", 50.0),
        ConstantCandidate("exact", 100.0),
        ConstantCandidate("also_exact", 100.0),
        ConstantCandidate("double", 200.0),
    ]
    result = forecast_revenue(daily, horizon=7, folds=2, candidates=candidates)
    assert aggregate_wape(result).to_dict() == {"half": 0.5, "exact": 0.0, "also_exact": 0.0, "double": 1.0}
    assert result.winner == "exact"
    assert result.ranking == ("exact", "also_exact", "half", "double")
    assert result.prophet_lost_to is None  # no Prophet took part
    assert (result.forecast["model_name"] == "exact").all()
    assert len(result.backtest) == 4 * 3


def test_duplicate_candidate_names_are_rejected():
    with pytest.raises(ValueError, match="unique"):
        forecast_revenue(
            weekly_series(100), horizon=7, folds=2, candidates=[ConstantCandidate("a", 1), ConstantCandidate("a", 2)]
        )


def test_weekly_series_selection(weekly_result):
    table = weekly_result.backtest
    wapes = aggregate_wape(weekly_result)
    assert list(weekly_result.candidates["candidate"]) == DEFAULT_NAMES
    # 300 days: every candidate can fit every fold
    assert (weekly_result.candidates["status"] == "fitted").all()
    assert set(wapes.index) == set(DEFAULT_NAMES)
    assert len(table) == len(DEFAULT_NAMES) * (3 + 1)
    assert list(weekly_result.ranking) == wapes.sort_values(kind="stable").index.tolist()
    # the chosen one is within the tie tolerance of the lowest, and no worse than seasonal naive
    assert wapes[weekly_result.winner] <= wapes.min() * (1 + TIE_TOLERANCE)
    assert wapes[weekly_result.winner] <= wapes["seasonal_naive"]
    assert weekly_result.reason.startswith(f"{weekly_result.winner}: ")
    # a flat mean cannot follow a weekly pattern this strong; a seasonal model must do better
    assert min(wapes["ets"], wapes["prophet"], wapes["arima"]) < wapes["trailing_mean"]
    expected_lost_to = None if weekly_result.winner == "prophet" else weekly_result.winner
    assert weekly_result.prophet_lost_to == expected_lost_to
    metric_columns = ["wape", "mape", "smape", "mae", "bias", "relative_bias", "interval_coverage"]
    assert table[metric_columns].notna().all().all()
    assert weekly_result.candidates["folds_scored"].tolist() == [3] * len(DEFAULT_NAMES)
    assert weekly_result.candidates["chosen"].sum() == 1


def test_forecast_starts_the_day_after_the_data(weekly_result):
    forecast = weekly_result.forecast
    assert list(forecast.columns) == ["date", "yhat", "yhat_lower", "yhat_upper", "model_name"]
    last_day = weekly_series()["date"].iloc[-1]
    assert list(forecast["date"]) == [last_day + timedelta(days=offset) for offset in range(1, 29)]
    assert (forecast["model_name"] == weekly_result.winner).all()
    assert weekly_result.plot_png.startswith(PNG_SIGNATURE)


@pytest.mark.parametrize("candidate_class", [ProphetCandidate, ETSCandidate, ArimaCandidate, STLCandidate])
def test_forecast_is_never_negative_after_a_steep_decline(candidate_class):
    daily = declining_series()
    raw = candidate_class().fit(prepare_history(daily), seed=0).predict(30)
    assert raw["yhat"].min() < 0, "premise: the unclipped model extrapolates the decline below zero"
    result = forecast_revenue(daily, horizon=30, folds=1, candidates=[candidate_class()])
    forecast = result.forecast
    assert (forecast["yhat_lower"] >= 0).all()
    assert (forecast["yhat_lower"] <= forecast["yhat"]).all()
    assert (forecast["yhat"] <= forecast["yhat_upper"]).all()


def test_short_history_is_rejected_and_the_minimum_is_enough():
    cheap = [TrailingMeanCandidate(), SeasonalNaiveCandidate()]
    needed = MIN_TRAINING_DAYS + MIN_WINDOW_DAYS
    with pytest.raises(ForecastNotPossible, match=f"history too short: {needed - 1} days.*at least {needed}"):
        forecast_revenue(weekly_series(needed - 1), horizon=30, folds=3, candidates=cheap)
    # the minimum: one week-long window after the minimum training; the forecast still has 30 days
    result = forecast_revenue(weekly_series(needed), horizon=30, folds=3, candidates=[SeasonalNaiveCandidate()])
    assert len(result.forecast) == 30
    assert result.backtest.loc[result.backtest["fold"] == "1", "n_days"].tolist() == [MIN_WINDOW_DAYS]
    # ForecastNotPossible is a ValueError: callers that caught the old error still do
    assert issubclass(ForecastNotPossible, ValueError)


def test_same_inputs_give_the_same_result():
    daily = weekly_series(days=200, seed=5)
    first = forecast_revenue(daily, horizon=14, folds=2, seed=3)
    second = forecast_revenue(daily, horizon=14, folds=2, seed=3)
    pd.testing.assert_frame_equal(first.forecast, second.forecast)
    pd.testing.assert_frame_equal(first.backtest, second.backtest)
    assert first.ranking == second.ranking
    assert first.plot_png == second.plot_png


# ----------------------------------------------------------------------------- input


@pytest.mark.parametrize(
    ("daily", "message"),
    [
        (pd.DataFrame({"date": [date(2021, 1, 1)]}), "lacks column"),
        (daily_frame([1.0, -2.0]), "non-negative"),
        (
            pd.DataFrame({"date": [date(2021, 1, 1), date(2021, 1, 3)], "revenue": [1.0, 2.0]}),
            "missing after 2021-01-01",
        ),
        (pd.DataFrame({"date": [date(2021, 1, 1)] * 2, "revenue": [1.0, 2.0]}), "more than once"),
    ],
)
def test_malformed_daily_frames_are_rejected(daily, message):
    with pytest.raises(ValueError, match=message):
        prepare_history(daily)


def test_history_accepts_warehouse_types_and_sorts():
    # DuckDB and PostgreSQL return decimals for money and dates as datetime.date
    daily = pd.DataFrame({"date": [date(2021, 1, 2), date(2021, 1, 1)], "revenue": [Decimal("2.50"), Decimal("0")]})
    history = prepare_history(daily)
    assert history["revenue"].tolist() == [0.0, 2.5]
    assert history["date"].tolist() == [pd.Timestamp("2021-01-01"), pd.Timestamp("2021-01-02")]


# ----------------------------------------------------------------------------- candidates


def test_shopping_events_mark_black_friday_and_cyber_monday():
    assert [black_friday(year) for year in (2016, 2017, 2018, 2019)] == [
        date(2016, 11, 25),
        date(2017, 11, 24),
        date(2018, 11, 23),
        date(2019, 11, 29),
    ]
    events = shopping_events([2017]).set_index("holiday")
    assert events.loc["black_friday", "ds"] == pd.Timestamp("2017-11-24")
    assert events.loc["cyber_monday", "ds"] == pd.Timestamp("2017-11-27")


def test_prophet_uses_yearly_seasonality_only_with_two_years():
    short = ProphetCandidate().fit(prepare_history(weekly_series(729)), seed=0)
    long = ProphetCandidate().fit(prepare_history(weekly_series(730)), seed=0)
    assert (short.uses_yearly, long.uses_yearly) == (False, True)


@pytest.mark.parametrize(
    "candidate",
    [
        ProphetCandidate(seasonality_mode="multiplicative"),
        ProphetCandidate(log=True),
        ETSCandidate(),
        ThetaCandidate(),
        STLCandidate(),
        ArimaCandidate(),
        CombinationCandidate(),
    ],
    ids=["prophet_multiplicative", "prophet_log", "ets", "theta", "stl", "arima", "combination"],
)
def test_seasonal_candidates_follow_the_weekly_level(candidate):
    history = prepare_history(weekly_series())
    prediction = candidate.fit(history, seed=0).predict(14)
    recent_mean = history["revenue"].tail(28).mean()
    assert prediction["yhat"].mean() == pytest.approx(recent_mean, rel=0.15)
    # Monday (index 0 of the shape) above Saturday (index 5) in the forecast, as in the data
    by_weekday = prediction.groupby(prediction["date"].dt.day_of_week)["yhat"].mean()
    assert by_weekday[0] > by_weekday[5]


def test_prophet_rejects_an_unknown_seasonality_mode():
    with pytest.raises(ValueError, match="seasonality_mode"):
        ProphetCandidate(seasonality_mode="geometric")


def test_seasonal_naive_candidate_is_the_baseline():
    daily = weekly_series(60)
    prediction = SeasonalNaiveCandidate().fit(prepare_history(daily), seed=0).predict(10)
    baseline = seasonal_naive_forecast(daily, 10)
    for column in ("yhat", "yhat_lower", "yhat_upper"):
        np.testing.assert_allclose(prediction[column], baseline[column])


def test_trailing_mean_is_flat_at_the_last_four_weeks():
    revenue = np.arange(60, dtype=float)
    prediction = TrailingMeanCandidate().fit(prepare_history(daily_frame(revenue)), seed=0).predict(5)
    assert prediction["yhat"].tolist() == [revenue[-28:].mean()] * 5
    # one-day-ahead errors of a 28-day mean on a ramp are all 14.5: the interval has no width
    assert prediction["yhat_lower"].tolist() == prediction["yhat_upper"].tolist() == [revenue[-28:].mean() + 14.5] * 5


# ----------------------------------------------------------------------------- generated data


def daily_revenue_from_raw(raw_dir: Path) -> pd.DataFrame:
    """The daily_revenue mart's revenue, computed with pandas from the raw CSV files."""
    orders = pd.read_csv(
        raw_dir / "olist_orders_dataset.csv", usecols=["order_id", "order_status", "order_purchase_timestamp"]
    )
    items = pd.read_csv(raw_dir / "olist_order_items_dataset.csv", usecols=["order_id", "price"])
    orders["date"] = pd.to_datetime(orders["order_purchase_timestamp"]).dt.normalize()
    counted = orders[~orders["order_status"].isin(["canceled", "unavailable"])]
    item_value = items.groupby("order_id")["price"].sum()
    revenue = counted.assign(revenue=counted["order_id"].map(item_value).fillna(0.0)).groupby("date")["revenue"].sum()
    calendar = pd.date_range(orders["date"].min(), orders["date"].max(), freq="D", name="date")
    return revenue.reindex(calendar, fill_value=0.0).reset_index()


def test_generated_orders_end_to_end(tmp_path):
    raw_dir = tmp_path / "olist"
    generate(GeneratorConfig(orders=20_000, seed=42), raw_dir)
    daily = daily_revenue_from_raw(raw_dir)
    assert len(daily) >= 5 * 30 + MIN_TRAINING_DAYS  # five whole windows: the default layout
    result = forecast_revenue(daily)
    wapes = aggregate_wape(result)
    assert list(wapes.index) == DEFAULT_NAMES
    assert set(result.backtest["fold"]) == {"1", "2", "3", "4", "5", "all"}
    assert wapes[result.winner] <= wapes["seasonal_naive"]
    forecast = result.forecast
    assert forecast["date"].iloc[0] == daily["date"].iloc[-1].date() + timedelta(days=1)
    assert len(forecast) == 30
    assert (forecast["yhat_lower"] >= 0).all() and (forecast["yhat"] <= forecast["yhat_upper"]).all()
