"""The feedback simulator's truth and the online figures read from its events."""

import numpy as np
import pandas as pd
import pytest

from ml.monitoring.feedback import Served, TruePreference, replay_days, simulate
from ml.monitoring.online import online_metrics, realised_hit_rate, wilson

START = pd.Timestamp("2018-03-01")


def _purchases(seed: int = 0, customers: int = 60, products: int = 40, days: int = 14) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for customer in range(customers):
        for _ in range(rng.integers(1, 3)):
            product = int(rng.integers(products))
            rows.append(
                {
                    "customer_unique_id": f"c{customer}",
                    "product_id": f"p{product}",
                    "category": f"cat{product % 5}",
                    "price": float(10 + product),
                    "purchased_at": START + pd.Timedelta(hours=float(rng.uniform(0, 24 * days))),
                }
            )
    return pd.DataFrame(rows)


def _lists(purchases: pd.DataFrame, oracle: bool, products: int = 40) -> dict[str, list[str]]:
    """An oracle list holds what the customer goes on to buy; a poor one what they never buy."""
    bought = purchases.groupby("customer_unique_id")["product_id"].agg(set).to_dict()
    everything = [f"p{index}" for index in range(products)]
    lists = {}
    for customer in [f"c{index}" for index in range(60)]:
        mine = sorted(bought.get(customer, set()))
        others = [product for product in everything if product not in bought.get(customer, set())]
        lists[customer] = (mine + others)[:10] if oracle else others[-10:]
    return lists


def _events(purchases, lists, version, seed=0) -> pd.DataFrame:
    def serve(customer, _at):
        return Served(lists[customer], version, f"{version}-{customer}-{_at.value}")

    history = {customer: {"cat0"} for customer in lists}
    categories = {f"p{index}": f"cat{index % 5}" for index in range(40)}
    days = replay_days(purchases, START, 14)
    visits = simulate(purchases, history, categories, serve, days, TruePreference(), seed=seed)
    return pd.DataFrame([event for visit in visits for event in visit])


def test_a_list_of_what_customers_buy_draws_more_clicks_and_sales_than_one_of_what_they_do_not():
    purchases = _purchases()
    good = online_metrics(_events(purchases, _lists(purchases, oracle=True), "good"))
    poor = online_metrics(_events(purchases, _lists(purchases, oracle=False), "poor"))
    assert good["click_through_rate"].iloc[0] > 2 * poor["click_through_rate"].iloc[0]
    assert good["purchase_rate"].iloc[0] > 0 and poor["purchase_rate"].iloc[0] == 0
    assert good["revenue_per_impression"].iloc[0] > poor["revenue_per_impression"].iloc[0]


def test_every_real_order_item_becomes_one_purchase_with_its_price_and_the_lists_version():
    purchases = _purchases(seed=3)
    events = _events(purchases, _lists(purchases, oracle=True), "v7")
    bought = events.loc[events["event_type"] == "purchase"]
    assert len(bought) == len(purchases)
    assert bought["value"].sum() == pytest.approx(purchases["price"].sum())
    assert set(bought["model_version"]) == {"v7"}
    # Ten impressions per visit, each visit one request.
    shown = events.loc[events["event_type"] == "impression"]
    assert (shown.groupby("request_id").size() == 10).all()
    # Browsers visit too: more visits than buyers.
    assert shown["request_id"].nunique() > purchases["customer_unique_id"].nunique()


def test_the_same_seed_gives_the_same_events():
    purchases = _purchases(seed=1)
    lists = _lists(purchases, oracle=True)
    first, second = _events(purchases, lists, "v1", seed=5), _events(purchases, lists, "v1", seed=5)
    pd.testing.assert_frame_equal(first.drop(columns="request_id"), second.drop(columns="request_id"))


def test_replay_refuses_days_the_held_back_data_does_not_reach():
    purchases = _purchases(days=5)
    with pytest.raises(ValueError, match="cannot replay 14 days from 2018-03-01"):
        replay_days(purchases, START, 14)


def test_realised_hit_rate_counts_first_purchases_of_customers_with_lists():
    lists = pd.DataFrame({"customer_unique_id": [*"aabbc"], "product_id": [*"xyxzx"], "rank": [1, 2, 1, 2, 1]})
    before = pd.DataFrame({"customer_unique_id": ["a"], "product_id": ["y"]})
    after = pd.DataFrame(
        {
            "customer_unique_id": ["a", "b", "d", "c"],  # a re-buys y: not a first purchase; d has no list
            "product_id": ["y", "z", "x", "q"],
        }
    )
    rate = realised_hit_rate(lists, before, after, k=10)
    assert (rate.customers, rate.hits) == (2, 1)  # b hits z; c bought q, not on its list
    assert rate.rate == 0.5 and rate.low < 0.5 < rate.high
    assert realised_hit_rate(lists, before, after, k=1).hits == 0  # z was b's second


def test_wilson_interval_matches_the_textbook_figures():
    low, high = wilson(10, 100)
    assert low == pytest.approx(0.0552, abs=1e-3) and high == pytest.approx(0.1744, abs=1e-3)
    assert wilson(0, 20)[0] == 0.0


def test_an_empty_list_is_one_impression_without_a_product_that_the_online_figures_leave_out():
    purchases = _purchases(seed=4)
    lists = _lists(purchases, oracle=True)
    empty = _events(purchases, dict.fromkeys(lists, []), "nothing")
    slots = empty.loc[empty["event_type"] == "impression"]
    assert len(slots) == slots["request_id"].nunique() and slots["product_id"].isna().all()
    assert not (empty["event_type"] == "click").any()
    # Beside a model's lists (an experiment serving both), the empty arm has no online row.
    both = online_metrics(pd.concat([empty, _events(purchases, lists, "good")], ignore_index=True))
    assert both["model_version"].tolist() == ["good"]
