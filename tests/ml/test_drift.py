"""Data drift with known truth: samples of one distribution rarely drift (at about the test's
error rate for small samples), a shift of half a standard deviation or a changed category mix
always does, under both the small-sample tests and the large-sample distances."""

import numpy as np
import pandas as pd
import pytest

from ml.monitoring.drift import (
    CATEGORICAL,
    DriftThresholds,
    categorical_drift,
    dataset_drift,
    numeric_drift,
)


def normal(seed: int, rows: int, mean: float = 0.0) -> pd.Series:
    return pd.Series(np.random.default_rng(seed).normal(mean, 1.0, rows))


def categories(seed: int, rows: int, shares: list[float]) -> pd.Series:
    return pd.Series(np.random.default_rng(seed).choice(["SP", "RJ", "MG"], size=rows, p=shares))


@pytest.mark.parametrize("rows", [500, 20_000])  # the small-sample test, then the distance
def test_numeric_drift_finds_a_half_std_shift_and_not_noise(rows):
    false_alarms = sum(numeric_drift("x", normal(seed, rows), normal(seed + 100, rows)).drifted for seed in range(40))
    # KS at p < 0.05 errs on about 5% of equal samples; the distance at 0.1 std on none at this size.
    assert false_alarms <= (6 if rows <= 1000 else 0), false_alarms
    shifted = numeric_drift("x", normal(1, rows), normal(2, rows, mean=0.5))
    assert shifted.drifted and shifted.psi > 0.1
    assert shifted.test == ("ks_p_value" if rows <= 1000 else "wasserstein_std")
    if rows > 1000:
        assert shifted.statistic == pytest.approx(0.5, abs=0.05)  # the mean moved half a std


@pytest.mark.parametrize("rows", [600, 30_000])
def test_categorical_drift_finds_a_changed_mix_and_not_noise(rows):
    same = [0.6, 0.3, 0.1]
    false_alarms = sum(
        categorical_drift("state", categories(seed, rows, same), categories(seed + 100, rows, same)).drifted
        for seed in range(40)
    )
    assert false_alarms <= (6 if rows <= 1000 else 0), false_alarms
    moved = categorical_drift("state", categories(1, rows, same), categories(2, rows, [0.3, 0.3, 0.4]))
    assert moved.drifted and moved.kind == CATEGORICAL and moved.psi >= 0.2


def test_a_category_the_reference_never_saw_is_change():
    reference = pd.Series(["SP"] * 300 + ["RJ"] * 300)
    current = pd.Series(["SP"] * 200 + ["RJ"] * 200 + ["BA"] * 200)
    assert categorical_drift("state", reference, current).drifted


def test_psi_of_identical_windows_is_zero_and_of_a_known_shift_as_computed():
    values = pd.Series(np.arange(1000, dtype=float))
    assert numeric_drift("x", values, values).psi == pytest.approx(0.0)
    # Half the current window moves from the first to the second category: shares 0.5/0.5 -> 0.25/0.75.
    reference = pd.Series(["a"] * 500 + ["b"] * 500)
    current = pd.Series(["a"] * 250 + ["b"] * 750)
    expected = (0.25 - 0.5) * np.log(0.25 / 0.5) + (0.75 - 0.5) * np.log(0.75 / 0.5)
    assert categorical_drift("c", reference, current).psi == pytest.approx(expected)


def test_a_constant_reference_drifts_only_when_values_move():
    constant = pd.Series([5.0] * 2000)
    assert not numeric_drift("x", constant, constant).drifted
    assert numeric_drift("x", constant, pd.Series([5.0] * 1000 + [6.0] * 1000)).drifted


def test_the_data_set_drifts_when_half_its_features_do():
    rows = 5000
    reference = pd.DataFrame(
        {"a": normal(1, rows), "b": normal(2, rows), "state": categories(3, rows, [0.6, 0.3, 0.1])}
    )
    one_moved = reference.assign(a=normal(4, rows, mean=1.0))
    report = dataset_drift(reference, one_moved, numeric=["a", "b"], categorical=["state"])
    assert [f.feature for f in report.features if f.drifted] == ["a"] and not report.drifted
    two_moved = one_moved.assign(state=categories(5, rows, [0.2, 0.3, 0.5]))
    report = dataset_drift(reference, two_moved, numeric=["a", "b"], categorical=["state"])
    assert report.drifted and report.share_drifted == pytest.approx(2 / 3)
    assert list(report.table().columns)[:3] == ["feature", "kind", "test"]
    strict = dataset_drift(
        reference,
        one_moved,
        numeric=["a", "b"],
        categorical=["state"],
        thresholds=DriftThresholds(share_of_features=0.3),
    )
    assert strict.drifted


def test_bad_input_names_the_feature_and_the_window():
    with pytest.raises(ValueError, match="feature 'price' has no values in the current window"):
        numeric_drift("price", normal(1, 100), pd.Series([np.nan, np.nan]))
    with pytest.raises(ValueError, match=r"columns \['gone'\] are missing"):
        dataset_drift(pd.DataFrame({"a": [1.0]}), pd.DataFrame({"a": [1.0]}), numeric=["a", "gone"])


def test_order_windows_split_the_last_days_from_the_ones_before():
    from ml.monitoring.drift import order_windows

    days = pd.date_range("2018-01-01", periods=100, freq="D")
    orders = pd.DataFrame(
        {
            "purchased_at": days,
            "is_revenue": [True] * 99 + [False],
            "items_count": 2,
            "items_value": 50.0,
            "order_value": 60.0,
            "customer_state": "SP",
            "main_payment_type": "boleto",
        }
    )
    windows = order_windows(orders, current_days=10, reference_days=30)
    assert windows.as_of == pd.Timestamp("2018-04-09") + pd.Timedelta(days=1)  # after the last revenue order (04-09)
    assert len(windows.current) == 10 and len(windows.reference) == 30
    assert windows.current["average_item_price"].eq(25.0).all()
    with pytest.raises(ValueError, match=r"lack the columns \['main_payment_type'\]"):
        order_windows(orders.drop(columns="main_payment_type"))


def daily_orders(days: int, **columns) -> pd.DataFrame:
    """One revenue order a day from 2018-01-01, alike but for ``columns``."""
    when = pd.date_range("2018-01-01", periods=days, freq="D")
    plain = {"is_revenue": True, "items_count": 1, "items_value": 50.0, "order_value": 60.0}
    plain |= {"customer_state": "SP", "main_payment_type": "boleto"}
    return pd.DataFrame({"purchased_at": when, **plain, **columns})


def test_order_windows_add_the_customers_rfm_and_the_category_mix_when_the_mart_has_them():
    from ml.monitoring.drift import order_windows

    days = pd.date_range("2018-01-01", periods=300, freq="D")
    late = days >= days[-30]
    orders = daily_orders(
        300,
        # c0..c9 come back every ten days until the last month, when c0..c29 come every 30.
        customer_unique_id=np.where(late, [f"c{i % 30}" for i in range(300)], [f"c{i % 10}" for i in range(300)]),
        main_category=np.where(late, "toys", np.random.default_rng(0).choice(["toys", "books", "garden"], 300)),
    )
    windows = order_windows(orders, current_days=30, reference_days=170)
    assert windows.sparse == ("orders_prior_90d", "spend_prior_90d", "days_since_previous_order")
    assert windows.categorical[-1] == "main_category"
    reference = windows.reference
    # Nine visits in the 90 days before each (ten-day rhythm), 540 spent; counts do not grow with time.
    assert reference["orders_prior_90d"].eq(9.0).all() and reference["spend_prior_90d"].eq(540.0).all()
    assert reference["days_since_previous_order"].eq(10.0).all()
    report = dataset_drift(
        windows.reference,
        windows.current,
        numeric=windows.numeric,
        categorical=windows.categorical,
        sparse=windows.sparse,
    )
    drifted = {feature.feature for feature in report.features if feature.drifted}
    assert {"main_category", "orders_prior_90d", "spend_prior_90d"} <= drifted and "order_value" not in drifted
    # Only c0..c9's last orders follow an earlier one: ten values are too few to measure recency.
    assert report.unmeasured == ("days_since_previous_order",)


def test_rfm_features_are_missing_where_the_lookback_reaches_before_the_data():
    from ml.monitoring.drift import order_windows

    orders = daily_orders(120, customer_unique_id="c0")
    windows = order_windows(orders, current_days=30, reference_days=90)
    both = pd.concat([windows.reference, windows.current])
    assert both["orders_prior_90d"].isna().sum() == 90 and both["orders_prior_90d"].max() == 90.0


def test_a_sparse_feature_with_too_few_values_is_listed_unmeasured_not_an_error():
    reference = pd.DataFrame({"a": normal(0, 200), "gap": [np.nan] * 195 + [1.0] * 5})
    current = pd.DataFrame({"a": normal(1, 200), "gap": [np.nan] * 200})
    report = dataset_drift(reference, current, numeric=["a"], sparse=["gap"])
    assert [feature.feature for feature in report.features] == ["a"] and report.unmeasured == ("gap",)


def test_rfm_features_go_back_to_their_own_orders_when_customers_interleave():
    from ml.monitoring.drift import _customer_rfm

    # a buys every 10 days for 10 each, b every 30 days for 100 each, interleaved in time.
    a = pd.DataFrame({"customer_unique_id": "a", "purchased_at": pd.date_range("2018-01-01", periods=20, freq="10D")})
    b = pd.DataFrame({"customer_unique_id": "b", "purchased_at": pd.date_range("2018-01-03", periods=7, freq="30D")})
    sold = pd.concat([a.assign(order_value=10.0), b.assign(order_value=100.0)], ignore_index=True)
    sold = sold.sample(frac=1, random_state=0).sort_values("purchased_at", kind="stable")
    rfm = _customer_rfm(sold).join(sold)
    late = rfm.loc[rfm["purchased_at"] >= pd.Timestamp("2018-04-15")]
    by_customer = late.groupby("customer_unique_id")[["orders_prior_90d", "spend_prior_90d"]].agg(["min", "max"])
    # The 90 days before an order, [t - 90 days, t): nine of a's visits, three of b's.
    assert by_customer.loc["a"].tolist() == [9.0, 9.0, 90.0, 90.0]
    assert by_customer.loc["b"].tolist() == [3.0, 3.0, 300.0, 300.0]
    assert set(rfm.groupby("customer_unique_id")["days_since_previous_order"].max()) == {10.0, 30.0}
