"""Serving a running experiment (apps/experiment_serving.py): the bandit's log rewards a list only
for a click on or a purchase of one of its items and is rebuilt the same from the event store;
strategy arms are what they say; the server notices a new experiment without a restart."""

from datetime import datetime

import pandas as pd

from apps.experiment_serving import BanditLog, ExperimentServer, popularity_list, random_list
from ml.experiments.serving import Plan
from retail_intel.experiments import ExperimentStore

PLAN = Plan("exp", "bandit", {"a/1": 1.0, "b/2": 1.0}, "salt", 1.0)


def test_only_a_click_on_or_a_purchase_of_a_shown_item_rewards_a_list_and_the_log_rebuilds_alike():
    log = BanditLog(PLAN)
    log.served("r1", "a/1", ["p1", "p2"])
    log.served("r2", "b/2", ["p3"])
    log.served("r3", "b/2", ["p4"])
    log.observed(
        [
            {"event_type": "click", "request_id": "r1", "product_id": "p9"},  # not shown: no reward
            {"event_type": "add_to_cart", "request_id": "r2", "product_id": "p3"},  # not a reward
            {"event_type": "purchase", "request_id": "r3", "product_id": "p4"},
            {"event_type": "click", "request_id": "unknown", "product_id": "p1"},
        ]
    )
    state = log.state()
    assert state.successes.tolist() == [0.0, 1.0] and state.failures.sum() > 1.9

    at = datetime(2018, 1, 1)
    rows = [
        {"event_type": "exposure", "experiment": "exp", "request_id": r, "arm": arm, "product_id": p, "occurred_at": at}
        for r, arm, products in (("r1", "a/1", ["p1", "p2"]), ("r2", "b/2", ["p3"]), ("r3", "b/2", ["p4"]))
        for p in products
    ]
    for kind, request, product in (("click", "r1", "p9"), ("add_to_cart", "r2", "p3"), ("purchase", "r3", "p4")):
        rows.append({"event_type": kind, "request_id": request, "product_id": product, "occurred_at": at})
    rebuilt = BanditLog.from_events(PLAN, pd.DataFrame(rows)).state()
    assert rebuilt.successes.tolist() == state.successes.tolist()
    assert rebuilt.failures.tolist() == state.failures.tolist()


def test_a_list_whose_events_have_not_arrived_is_pending_not_a_failure(monkeypatch):
    import apps.experiment_serving as serving

    monkeypatch.setattr(serving, "BANDIT_PATIENCE", 3)
    monkeypatch.setattr(serving, "BANDIT_REFRESH", 1)  # the state follows every change here
    log = BanditLog(PLAN)
    log.served("r1", "a/1", ["p1"])
    log.served("r2", "b/2", ["p2"])
    assert log.state().failures.sum() == 0  # nothing reported yet: no evidence either way
    log.observed([{"event_type": "impression", "request_id": "r1", "product_id": "p1"}])
    for request in ("r3", "r4", "r5"):
        log.served(request, "a/1", ["p1"])
    state = log.state()
    # r1 was reported without a reward: a failure; r2 was never reported and three lists came
    # after it: a failure too; r3 to r5 are pending.
    assert state.failures.round(2).tolist() == [1.0, 1.0] and state.successes.sum() == 0


def test_strategy_lists():
    interactions = pd.DataFrame(
        {
            "product_id": ["old", "p1", "p2", "p2"],
            "purchase_count": [50, 1, 2, 1],
            "last_purchased_at": pd.to_datetime(["2018-01-01", "2018-06-20", "2018-06-25", "2018-06-29"]),
        }
    )
    # Only the last 30 days count: the old best-seller is not popular now.
    assert popularity_list(interactions) == ["p2", "p1"]
    catalogue = [f"p{i}" for i in range(50)]
    shuffled = random_list(catalogue, "salt", "c1", depth=20)
    assert shuffled == random_list(catalogue, "salt", "c1", depth=20) and len(set(shuffled)) == 20
    assert shuffled != random_list(catalogue, "salt", "c2", depth=20)


def test_the_server_follows_the_store_without_a_restart(tmp_path):
    path = tmp_path / "experiments.sqlite"
    server = ExperimentServer("t", path, seed=0)
    lists = {"popularity": ["p1", "p2"], "nothing": []}.get
    assert server.running() is None and server.choose("c1", lists, 2) is None
    store = ExperimentStore(path)
    store.create("exp", "ab", {"popularity": 1.0, "nothing": 1.0})
    assert server.choose("c1", lists, 2) is None  # a draft serves nobody
    store.advance("exp", 1.0)
    exposure = server.choose("c1", lists, 2)
    assert exposure.arm in ("popularity", "nothing") and exposure.products == lists(exposure.arm)
    rows = server.exposed(exposure, "c1", "r1", datetime(2018, 1, 1))
    assert {row["arm"] for row in rows} == {exposure.arm} and len(rows) == max(1, len(exposure.products))
    store.stop("exp")
    assert server.choose("c1", lists, 2) is None
