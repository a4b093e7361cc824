"""The recommender-health asset with known truth: lists that held what 60 customers went on to
buy pass; lists that held none of it fail (a warning) against the version's promise; too few
customers, or no earlier lists, judge nothing and say why. Serving events give the online
figures of the version that served them."""

import numpy as np
import pandas as pd

from orchestration.assets.monitoring.recommender_health import HEALTH_TABLE, SERVED_TABLE, recommender_health
from orchestration.lineage import registry_for
from orchestration.resources import WarehouseResource
from retail_intel.events import EventStore
from retail_intel.warehouse import warehouse_for
from tests.support import make_settings, materialize

LISTS_DAY, NEXT_DAY = pd.Timestamp("2018-06-30"), pd.Timestamp("2018-07-14")


class Constant:
    def predict(self, frame):
        return pd.Series(0.0, index=frame.index)


def _register(settings, promised: float) -> str:
    registry = registry_for(settings)
    logged = registry.log_model_version(
        model_name="default.recommender",
        model=Constant(),
        input_example=pd.DataFrame({"customer_unique_id": ["c0"]}),
        params={},
        metrics={"hr_at_10": promised},
        lineage={"as_of_date": "2018-06-30"},
    )
    return f"default.recommender/{logged.version}"


def _publish(settings, as_of: pd.Timestamp, lists: pd.DataFrame, customers: int, bought_after: bool) -> None:
    """Orders to ``as_of``; each customer bought h<i> before the lists and, when ``bought_after``,
    n<i> for the first time in the fortnight after."""
    rows = [(f"c{i}", f"h{i}", LISTS_DAY - pd.Timedelta(days=20)) for i in range(customers)]
    if bought_after:
        rows += [(f"c{i}", f"n{i}", LISTS_DAY + pd.Timedelta(days=1 + i % 14)) for i in range(customers)]
    interactions = pd.DataFrame(rows, columns=["customer_unique_id", "product_id", "first_purchased_at"])
    warehouse = warehouse_for(settings)
    warehouse.write("marts", "user_item_interactions", interactions)
    warehouse.write(
        "marts", "orders", pd.DataFrame({"order_id": ["o"], "purchased_at": [as_of + pd.Timedelta(hours=9)]})
    )
    warehouse.write("ml", "recommendations", lists)


def _lists(customers: int, version: str, hit_share: float) -> pd.DataFrame:
    """Rank 1 is what the customer buys next for the first ``hit_share`` of them, else a filler."""
    hits = int(customers * hit_share)
    rows = [(f"c{i}", f"n{i}" if i < hits else f"x{i}", 1, version) for i in range(customers)]
    rows += [(f"c{i}", f"y{i}", 2, version) for i in range(customers)]
    return pd.DataFrame(rows, columns=["customer_unique_id", "product_id", "rank", "model_version"])


def _run(settings):
    result = materialize(
        settings, [recommender_health], resources={"warehouse": WarehouseResource.from_settings(settings)}
    )
    assert result.success
    (check,) = result.get_asset_check_evaluations()
    return check


def _fortnight(tmp_path, hit_share: float, customers: int = 60, promised: float = 0.5):
    settings = make_settings(tmp_path / "home")
    version = _register(settings, promised)
    _publish(settings, LISTS_DAY, _lists(customers, version, hit_share), customers, bought_after=False)
    first = _run(settings)
    assert first.passed and "no lists were kept" in first.metadata["note"].value
    _publish(settings, NEXT_DAY, _lists(customers, version, hit_share), customers, bought_after=True)
    return settings, version, _run(settings)


def test_lists_that_held_what_customers_bought_pass(tmp_path):
    settings, version, check = _fortnight(tmp_path, hit_share=0.6)
    assert check.passed
    assert check.metadata["value"].value == 0.6 and check.metadata["expected"].value == 0.5
    assert check.metadata["threshold"].value == 0.25  # hit_rate_alert_ratio 0.5 of the promise
    history = warehouse_for(settings).read(*HEALTH_TABLE)
    assert history[["customers", "hits"]].values.tolist() == [[60.0, 36.0]]
    assert history["model_version"].tolist() == [version]
    # This run's lists are kept for the next run, with their as-of day.
    kept = warehouse_for(settings).read(*SERVED_TABLE)
    assert set(pd.to_datetime(kept["lists_as_of"])) == {NEXT_DAY}


def test_lists_that_held_none_of_it_fail_against_the_promise(tmp_path):
    _, _, check = _fortnight(tmp_path, hit_share=0.0)
    assert not check.passed
    assert check.metadata["value"].value == 0.0
    low, high = (float(part) for part in check.metadata["interval_95"].value.split(" to "))
    assert low == 0.0 and high < check.metadata["threshold"].value


def test_too_few_customers_judge_nothing(tmp_path):
    _, _, check = _fortnight(tmp_path, hit_share=0.0, customers=12)
    assert check.passed and check.metadata["customers"].value == 12 and check.metadata["min_customers"].value == 30


def test_serving_events_give_the_online_figures_of_the_version_that_served_them(tmp_path):
    settings = make_settings(tmp_path / "home")
    version = _register(settings, 0.5)
    _publish(settings, LISTS_DAY, _lists(40, version, 0.5), 40, bought_after=False)
    _run(settings)
    moment = (LISTS_DAY + pd.Timedelta(days=2)).to_pydatetime()
    rows = [
        {"event_type": kind, "product_id": product, "request_id": "r1", "model_version": version, "value": value}
        for kind, product, value in (
            *[("impression", f"p{i}", None) for i in range(10)],
            ("click", "p0", None),
            ("purchase", "p0", 80.0),
            ("purchase", "elsewhere", 20.0),  # not shown: not the list's doing
        )
    ]
    store = EventStore(settings)
    store.add([{**row, "event_id": str(i), "occurred_at": moment, "received_at": moment} for i, row in enumerate(rows)])
    store.close()
    _publish(settings, NEXT_DAY, _lists(40, version, 0.5), 40, bought_after=True)
    check = _run(settings)
    assert check.metadata["impressions"].value == 10
    assert np.isclose(check.metadata["click_through_rate"].value, 0.1)
    assert np.isclose(check.metadata["purchase_rate"].value, 0.1)
    assert np.isclose(check.metadata["revenue_per_impression"].value, 8.0)
