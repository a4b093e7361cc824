"""The statistical candidates, the backtest layout, the selection rule and stepping aside."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from ml.forecast import (
    FITTED,
    MIN_STEP_DAYS,
    MIN_TRAINING_DAYS,
    STEPPED_ASIDE,
    ArimaCandidate,
    CandidateNotSupported,
    CombinationCandidate,
    ETSCandidate,
    ForecastNotPossible,
    SeasonalNaiveCandidate,
    STLCandidate,
    ThetaCandidate,
    TrailingMeanCandidate,
    backtest,
    backtest_windows,
    bounded,
    choose,
    default_candidates,
    forecast_revenue,
    future_dates,
    prepare_history,
    wape,
)
from ml.forecast_model import RegisteredForecaster, holdout_days, holdout_wape

# Monday first, as in tests/ml/test_forecast.py: weekdays well above the weekend.
WEEKLY_PATTERN = np.array([130.0, 125.0, 115.0, 105.0, 95.0, 60.0, 70.0])


def daily_frame(revenue, start: str = "2021-01-04") -> pd.DataFrame:
    days = pd.date_range(start, periods=len(revenue), freq="D")
    return pd.DataFrame({"date": days.date, "revenue": np.asarray(revenue, dtype=float)})


def pure_weekly(weeks: int) -> pd.DataFrame:
    return daily_frame(np.tile(WEEKLY_PATTERN, weeks))


def decaying_cohort(days: int, seed: int = 0) -> pd.DataFrame:
    """Customers acquired evenly over the first quarter, each buying at a rate that halves
    in about four months, times a weekly pattern and 15% log-normal day-to-day noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(days, dtype=float)
    acquisition_days, lifetime_days = 90.0, 180.0
    acquired_until = np.minimum(t, acquisition_days)
    level = (
        3000.0
        * lifetime_days
        / acquisition_days
        * (np.exp(-(t - acquired_until) / lifetime_days) - np.exp(-t / lifetime_days))
    )
    weekly = WEEKLY_PATTERN / WEEKLY_PATTERN.mean()
    return daily_frame(level * weekly[np.arange(days) % 7] * np.exp(rng.normal(0.0, 0.15, days)))


@dataclass
class ConstantCandidate:
    """Predicts ``value`` every day, with the interval [value - 1, value + 1]."""

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
class RaisingCandidate(ConstantCandidate):
    """Raises in ``fit`` when the history has at least ``from_days`` days."""

    from_days: int = 0

    def fit(self, history, seed):
        if len(history) >= self.from_days:
            raise RuntimeError(f"cannot fit {len(history)} days")
        return super().fit(history, seed)


@dataclass
class NonFiniteCandidate(ConstantCandidate):
    def predict(self, horizon):
        return super().predict(horizon).assign(yhat=math.nan)


# ----------------------------------------------------------------------------- candidates


@pytest.mark.parametrize("candidate", [ArimaCandidate(), STLCandidate(), ETSCandidate(), ThetaCandidate()])
def test_candidates_reproduce_a_pure_weekly_pattern(candidate):
    history = prepare_history(pure_weekly(12))
    prediction = candidate.fit(history, seed=0).predict(14)
    # the history ends on a Sunday, so the forecast starts on a Monday
    np.testing.assert_allclose(prediction["yhat"], np.tile(WEEKLY_PATTERN, 2), atol=1e-6)


def test_arima_on_a_pure_weekly_pattern_chooses_the_weekly_difference_and_nothing_else():
    arima = ArimaCandidate().fit(prepare_history(pure_weekly(12)), seed=0)
    # the weekly difference of an exactly periodic series is 0: no term can explain more
    assert str(arima.order) == "(0,0,0)(0,1,0)_7"


@pytest.mark.parametrize("slope", [2.0, -2.0])
def test_theta_extrapolates_the_direction_of_a_linear_trend(slope):
    history = prepare_history(daily_frame(1000.0 + slope * np.arange(120)))
    yhat = ThetaCandidate().fit(history, seed=0).predict(10)["yhat"].to_numpy()
    last = history["revenue"].iloc[-1]
    # theta = 2 keeps half the slope of the OLS trend: 1 a day, in the trend's direction
    np.testing.assert_allclose(np.diff(yhat), slope / 2, rtol=1e-3)
    assert np.sign(yhat[0] - last) == np.sign(slope)


def test_stl_uses_the_yearly_period_only_with_more_than_two_years():
    rng = np.random.default_rng(0)
    noisy = daily_frame(np.tile(WEEKLY_PATTERN, 105)[:731] + rng.normal(0, 1, 731))
    short = STLCandidate().fit(prepare_history(noisy.iloc[:730]), seed=0)
    long = STLCandidate().fit(prepare_history(noisy), seed=0)
    assert (short.uses_yearly, long.uses_yearly) == (False, True)
    assert len(long.predict(30)) == 30


def test_combination_is_the_median_of_its_members():
    three = CombinationCandidate(
        members=[ConstantCandidate("a", 10.0), ConstantCandidate("b", 50.0), ConstantCandidate("c", 20.0)]
    )
    prediction = three.fit(prepare_history(pure_weekly(4)), seed=0).predict(5)
    assert prediction["yhat"].tolist() == [20.0] * 5
    assert prediction["yhat_lower"].tolist() == [19.0] * 5
    assert prediction["yhat_upper"].tolist() == [21.0] * 5
    # an even count: the mean of the middle two
    four = CombinationCandidate(members=[*three.members, ConstantCandidate("d", 40.0)])
    assert four.fit(prepare_history(pure_weekly(4)), seed=0).predict(3)["yhat"].tolist() == [30.0] * 3
    assert four.used_members == ("a", "b", "c", "d")


def test_combination_leaves_out_members_that_fail_and_steps_aside_below_two():
    members = [ConstantCandidate("a", 10.0), RaisingCandidate("broken", 0.0), NonFiniteCandidate("nan", 0.0)]
    history = prepare_history(pure_weekly(4))
    combination = CombinationCandidate(members=[*members, ConstantCandidate("b", 30.0)])
    assert combination.fit(history, seed=0).predict(3)["yhat"].tolist() == [20.0] * 3
    assert combination.used_members == ("a", "b")
    assert set(combination.left_out) == {"broken", "nan"}
    with pytest.raises(CandidateNotSupported, match="at least 2 members"):
        CombinationCandidate(members=members).fit(history, seed=0).predict(3)


def test_combination_scores_the_same_in_the_backtest_as_fitted_on_its_own():
    # Beside its members, the backtest reuses their forecasts of each fold instead of fitting
    # them again; the figures must be those of the combination fitted on its own.
    daily = decaying_cohort(200)
    members = [ETSCandidate(), ThetaCandidate(), TrailingMeanCandidate()]
    table = backtest(daily, [*members, CombinationCandidate(members=members)], horizon=14, folds=2).table
    fold_wapes = table.loc[(table["candidate"] == "combination") & (table["fold"] != "all"), "wape"].tolist()
    history = prepare_history(daily)
    for (start, end), fold_wape in zip(backtest_windows(len(history), 14, 2), fold_wapes, strict=True):
        alone = bounded(CombinationCandidate(members=members).fit(history.iloc[:start], seed=0).predict(end - start))
        assert fold_wape == wape(history["revenue"].iloc[start:end], alone["yhat"])


@pytest.mark.parametrize(
    ("candidate", "days", "message"),
    [
        (ETSCandidate(), 13, "ets needs at least 14 days"),
        (ThetaCandidate(), 13, "theta needs at least 14 days"),
        (STLCandidate(), 27, "stl needs at least 28 days"),
        (ArimaCandidate(), 55, "arima needs at least 56 days"),
        (TrailingMeanCandidate(), 28, "more than 28 days"),
        (SeasonalNaiveCandidate(), 6, "at least 7 days"),
    ],
)
def test_candidates_refuse_histories_too_short_for_them(candidate, days, message):
    with pytest.raises(CandidateNotSupported, match=message):
        candidate.fit(prepare_history(daily_frame(np.arange(1.0, days + 1))), seed=0)


@pytest.mark.parametrize("candidate", [ETSCandidate(), ThetaCandidate(), STLCandidate(), ArimaCandidate()])
def test_models_refuse_a_history_without_variation(candidate):
    with pytest.raises(CandidateNotSupported, match="every day is 0"):
        candidate.fit(prepare_history(daily_frame(np.zeros(70))), seed=0)


# ----------------------------------------------------------------------------- backtest layout


@pytest.mark.parametrize(
    ("n_days", "horizon", "folds", "expected"),
    [
        # room for five whole windows: consecutive, as before
        (200, 30, 5, [(50, 80), (80, 110), (110, 140), (140, 170), (170, 200)]),
        # 150 - 30 - 28 = 92 days of room: five windows, ends 92 // 4 = 23 days apart
        (150, 30, 5, [(28, 58), (51, 81), (74, 104), (97, 127), (120, 150)]),
        # 12 days of room: two windows 12 days apart
        (70, 30, 5, [(28, 58), (40, 70)]),
        # 2 days of room: one window
        (60, 30, 5, [(30, 60)]),
        # not even one whole window: a shorter one after the minimum training
        (45, 30, 5, [(28, 45)]),
        (35, 30, 5, [(28, 35)]),
    ],
)
def test_backtest_windows_for_short_histories(n_days, horizon, folds, expected):
    assert backtest_windows(n_days, horizon, folds) == expected


def test_backtest_windows_never_step_by_less_than_a_week_nor_train_on_less_than_four():
    for n_days in range(35, 400, 3):
        for horizon in (7, 30, 91):
            windows = backtest_windows(n_days, horizon, folds=5)
            starts = [start for start, _ in windows]
            ends = [end for _, end in windows]
            assert ends[-1] == n_days
            assert starts[0] >= MIN_TRAINING_DAYS
            assert all(later - earlier >= MIN_STEP_DAYS for earlier, later in zip(ends, ends[1:], strict=False))
            assert len({end - start for start, end in windows}) == 1


def test_too_short_a_history_raises_forecast_not_possible():
    with pytest.raises(ForecastNotPossible, match="history too short: 20 days"):
        forecast_revenue(pure_weekly(3).iloc[:20], horizon=30)


def test_sixty_days_at_horizon_thirty_still_forecast_with_one_window():
    daily = decaying_cohort(60)
    result = forecast_revenue(daily, horizon=30)
    assert len(result.forecast) == 30
    folds = result.backtest[result.backtest["fold"] != "all"]
    assert set(folds["train_days"]) == {30} and set(folds["n_days"]) == {30}
    table = result.candidates.set_index("candidate")
    # 30 training days are too few for ARIMA (and so for nothing else)
    assert table.loc["arima", "status"] == STEPPED_ASIDE
    assert table.loc["arima", "reason"].startswith("backtest fold 1 (30 training days): arima needs at least 56 days")
    assert (table.drop(index="arima")["status"] == FITTED).all()
    assert math.isnan(table.loc["arima", "wape"]) and table.loc["arima", "folds_scored"] == 0


# ----------------------------------------------------------------------------- selection


CHOICE_CANDIDATES = [SeasonalNaiveCandidate(), ThetaCandidate(), ETSCandidate(), ArimaCandidate()]


def test_the_lowest_wape_wins_when_it_beats_the_others_by_more_than_the_tolerance():
    choice = choose({"seasonal_naive": 0.40, "theta": 0.30, "ets": 0.25, "arima": 0.23}, CHOICE_CANDIDATES)
    assert choice.name == "arima"
    assert choice.reason == "arima: lowest mean backtest WAPE 0.230 vs seasonal naive 0.400"


def test_a_tie_within_the_tolerance_goes_to_the_simpler_candidate():
    # 0.2320 is within 1% of 0.2300 (0.2323); theta is simpler than arima
    choice = choose({"seasonal_naive": 0.40, "theta": 0.2320, "ets": 0.25, "arima": 0.2300}, CHOICE_CANDIDATES)
    assert choice.name == "theta"
    assert "within 1% of the lowest (arima 0.230) and simpler" in choice.reason


def test_seasonal_naive_is_published_unless_beaten_by_more_than_the_tolerance():
    choice = choose({"seasonal_naive": 0.40, "theta": 0.397, "ets": 0.45, "arima": 0.50}, CHOICE_CANDIDATES)
    assert choice.name == "seasonal_naive"
    assert "no candidate beats it by more than 1% (best theta 0.397)" in choice.reason
    assert choose({"seasonal_naive": 0.40, "theta": 0.396}, CHOICE_CANDIDATES).name == "theta"


def test_seasonal_naive_is_published_when_every_other_candidate_is_worse():
    # Every week repeats the last exactly, with a spike on Sundays: seasonal naive is exact.
    daily = daily_frame(np.tile([10.0, 12.0, 11.0, 13.0, 12.0, 9.0, 80.0], 16))
    candidates = [TrailingMeanCandidate(), ThetaCandidate(), ETSCandidate(), SeasonalNaiveCandidate()]
    result = forecast_revenue(daily, horizon=14, folds=3, candidates=candidates)
    table = result.candidates.set_index("candidate")
    assert table.loc["seasonal_naive", "wape"] == 0.0
    assert (table.drop(index="seasonal_naive")["wape"] > 0).all()
    assert result.winner == "seasonal_naive"
    assert result.reason == "seasonal_naive: mean backtest WAPE 0.000, the lowest; no candidate beats seasonal naive"
    assert (result.forecast["model_name"] == "seasonal_naive").all()


def test_a_history_without_revenue_publishes_seasonal_naive():
    result = forecast_revenue(daily_frame(np.zeros(70)), horizon=7, folds=2)
    assert result.winner == "seasonal_naive"
    assert "zero revenue" in result.reason
    assert (result.forecast["yhat"] == 0).all()
    table = result.candidates.set_index("candidate")
    assert table.loc["ets", "status"] == STEPPED_ASIDE and "every day is 0" in table.loc["ets", "reason"]


# ----------------------------------------------------------------------------- stepping aside


def test_a_candidate_that_raises_steps_aside_and_the_run_goes_on():
    daily = pure_weekly(12)
    candidates = [SeasonalNaiveCandidate(), RaisingCandidate("broken", 100.0), NonFiniteCandidate("nan", 1.0)]
    result = forecast_revenue(daily, horizon=7, folds=3, candidates=candidates)
    table = result.candidates.set_index("candidate")
    assert table.loc["broken", "status"] == STEPPED_ASIDE
    assert table.loc["broken", "reason"].startswith(
        "backtest fold 1 (63 training days): RuntimeError: cannot fit 63 days"
    )
    assert table.loc["nan", "status"] == STEPPED_ASIDE and "non-finite" in table.loc["nan", "reason"]
    assert set(result.backtest["candidate"]) == {"seasonal_naive"}
    assert result.winner == "seasonal_naive" and len(result.forecast) == 7


def test_when_every_candidate_steps_aside_no_forecast_is_possible_and_the_reasons_are_given():
    candidates = [RaisingCandidate("first", 1.0), NonFiniteCandidate("second", 1.0)]
    with pytest.raises(ForecastNotPossible, match=r"every candidate stepped aside \(first: .*RuntimeError.*second: "):
        forecast_revenue(pure_weekly(12), horizon=7, folds=2, candidates=candidates)


def test_a_candidate_whose_final_refit_fails_makes_way_for_the_next():
    # Exact in the backtest (the series is constant at 100) but unable to fit all 84 days.
    daily = daily_frame(np.full(84, 100.0))
    candidates = [RaisingCandidate("fragile", 100.0, from_days=84), ConstantCandidate("sturdy", 90.0)]
    result = forecast_revenue(daily, horizon=7, folds=2, candidates=candidates)
    table = result.candidates.set_index("candidate")
    assert result.winner == "sturdy"
    assert table.loc["fragile", "status"] == STEPPED_ASIDE
    assert table.loc["fragile", "reason"] == "final refit on 84 days: RuntimeError: cannot fit 84 days"
    assert table.loc["fragile", "wape"] == 0.0  # its backtest figures are kept
    assert result.reason.endswith("fragile was chosen first but its final refit failed")


# ----------------------------------------------------------------------------- promotion holdout


def test_holdout_is_the_last_backtest_window_even_on_a_short_history():
    assert holdout_days(200, 30) == 30
    assert holdout_days(40, 30) == 12  # 40 - MIN_TRAINING_DAYS
    with pytest.raises(ForecastNotPossible):
        holdout_days(30, 30)
    # seasonal naive is exact on a pure weekly pattern, so its holdout WAPE is 0
    assert holdout_wape(RegisteredForecaster(SeasonalNaiveCandidate()), pure_weekly(6), horizon=30) == 0.0


# ----------------------------------------------------------------------------- decaying cohort


def test_on_a_decaying_cohort_the_chosen_model_beats_the_yardsticks_on_the_next_91_days():
    """The shape that made the trailing mean win before: strong decay with a weekly pattern.

    540 days are backtested and the chosen model forecasts 91; the 91 days that follow come
    from the same process and are used for nothing but this score.
    """
    everything = decaying_cohort(540 + 91)
    history, future = everything.iloc[:540], everything.iloc[540:]
    result = forecast_revenue(history, horizon=91)
    assert (result.candidates["status"] == FITTED).all()
    actual = future["revenue"].to_numpy()
    chosen = wape(actual, result.forecast["yhat"].to_numpy())
    yardsticks = {}
    for candidate in (TrailingMeanCandidate(), SeasonalNaiveCandidate()):
        prediction = candidate.fit(prepare_history(history), seed=0).predict(91)
        yardsticks[candidate.name] = wape(actual, prediction["yhat"].clip(lower=0).to_numpy())
    assert chosen < yardsticks["trailing_mean"]
    assert chosen < yardsticks["seasonal_naive"]
    assert result.winner not in ("trailing_mean", "seasonal_naive")


def test_default_candidates_are_ordered_by_simplicity():
    assert [candidate.name for candidate in default_candidates()] == [
        "seasonal_naive",
        "trailing_mean",
        "theta",
        "ets",
        "stl",
        "arima",
        "combination",
        "prophet",
    ]
    assert [type(candidate).simplicity for candidate in default_candidates()] == list(range(8))
