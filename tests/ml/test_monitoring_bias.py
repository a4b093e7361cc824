"""The bias table with known truth: a state whose customers the lists never hit is flagged, a
small one is reported but never flagged, and exposure and calibration are the groups' own."""

import numpy as np
import pandas as pd
import pytest

from ml.monitoring.bias import BiasLimits, bias_table


def _customers(count: int, state: str, hits: int, start: int = 0) -> pd.DataFrame:
    ids = [f"{state}{i}" for i in range(start, start + count)]
    return pd.DataFrame({"customer_unique_id": ids, "hit": [1] * hits + [0] * (count - hits), "state": state})


def test_a_group_served_much_worse_beyond_chance_is_flagged_and_a_small_one_never():
    outcomes = pd.concat(
        [_customers(200, "SP", 60), _customers(100, "RJ", 0), _customers(8, "AC", 0)], ignore_index=True
    )
    outcomes["expected_hit"] = 0.2
    groups = outcomes[["customer_unique_id", "state"]].assign(segment="all")
    impressions = pd.Series(10, index=outcomes["customer_unique_id"])
    impressions[outcomes.loc[outcomes["state"] == "RJ", "customer_unique_id"]] = 5
    table = bias_table(
        outcomes[["customer_unique_id", "hit", "expected_hit"]],
        groups,
        ("state", "segment"),
        listed=outcomes["customer_unique_id"],
        impressions=impressions,
        limits=BiasLimits(),
    ).set_index(["dimension", "group"])
    assert table.loc[("state", "RJ"), "flagged"] and table.loc[("state", "RJ"), "p_value_worse"] < 1e-6
    assert not table.loc[("state", "AC"), "flagged"]  # 8 customers: noise, reported only
    assert not table.loc[("state", "SP"), "flagged"] and not table.loc[("segment", "all"), "flagged"]
    assert table.loc[("state", "SP"), "hit_rate"] == pytest.approx(0.3)
    # Calibration: lists expected 0.2 everywhere; SP got 0.3, RJ nothing.
    assert table.loc[("state", "SP"), "calibration_gap"] == pytest.approx(-0.1)
    assert table.loc[("state", "RJ"), "calibration_gap"] == pytest.approx(0.2)
    # Exposure: RJ is a third of the customers but shown half as often as the others.
    rj = table.loc[("state", "RJ")]
    assert rj["customer_share"] == pytest.approx(100 / 308)
    assert rj["impression_share"] == pytest.approx(500 / (208 * 10 + 500))
    assert rj["exposure_ratio"] < 0.6


def test_coupon_bands_and_customers_never_measured_count_in_exposure():
    outcomes = _customers(40, "SP", 10)
    groups = pd.DataFrame({"customer_unique_id": [*outcomes["customer_unique_id"], "MG0", "MG1"]})
    groups["state"] = groups["customer_unique_id"].str[:2]
    bands = pd.Series(["coupon", "standard"], index=["MG0", "MG1"])
    table = bias_table(outcomes, groups, ("state",), listed=groups["customer_unique_id"], bands=bands)
    mg = table.set_index("group").loc["MG"]
    assert mg["customers"] == 0 and np.isnan(mg["hit_rate"]) and not mg["flagged"]
    assert mg["promoted_share"] == 0.5 and mg["customer_share"] == pytest.approx(2 / 42)


def test_missing_group_column_is_named():
    with pytest.raises(ValueError, match=r"lack the column\(s\) \['segment'\]"):
        bias_table(_customers(5, "SP", 1), pd.DataFrame({"customer_unique_id": ["x"]}), ("segment",), pd.Series(["x"]))
