"""An experiment's readout from logged events (ml/experiments/readout.py) and what serving shows
a customer in each kind of experiment (ml/experiments/serving.py), on events built by hand with
a known truth."""

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from ml.experiments.bandit import DiscountedThompson
from ml.experiments.readout import read_out
from ml.experiments.serving import Plan, serve

START = datetime(2026, 1, 1)


def ab_events(rng, customers=600, click_a=0.1, click_b=0.3, buy=0.2, days=20):
    """Customers split in two arms at random, each exposed once on a random day; clicks on a
    shown item with an arm-dependent chance, purchases (value 50) with the same chance in both."""
    rows = []
    for index in range(customers):
        customer, arm = f"c{index}", "a/1" if rng.random() < 0.5 else "b/2"
        at = START + timedelta(days=float(rng.uniform(0, days)))
        request = f"r{index}"
        rows += [_event("exposure", customer, f"p{rank}", request, at, arm=arm) for rank in range(3)]
        if rng.random() < (click_a if arm == "a/1" else click_b):
            rows.append(_event("click", customer, "p1", request, at + timedelta(seconds=5)))
        if rng.random() < buy:
            rows.append(_event("purchase", customer, "p9", request, at + timedelta(days=2), value=50.0))
    return pd.DataFrame(rows)


def _event(kind, customer, product, request, at, arm=None, value=None, experiment="exp"):
    return {
        "event_type": kind,
        "customer_unique_id": customer,
        "product_id": product,
        "request_id": request,
        "occurred_at": pd.Timestamp(at),
        "value": value,
        "experiment": experiment if kind == "exposure" else None,
        "arm": arm,
    }


AB = Plan("exp", "ab", {"a/1": 1.0, "b/2": 1.0}, "salt", 1.0)


def test_an_ab_readout_finds_the_arm_that_draws_more_clicks_and_no_revenue_difference_where_there_is_none():
    events = ab_events(np.random.default_rng(0))
    clicks = read_out(AB, events, primary_metric="click_rate", as_of=START + timedelta(days=40))
    assert clicks.decided and clicks.winner == "b/2", clicks.reason
    treated = clicks.table.set_index("arm").loc["b/2"]
    assert treated["low"] > 0 and 0.1 < treated["difference"] < 0.3 and treated["p_value"] < 0.05
    assert clicks.srm_p_value > 0.001
    revenue = read_out(AB, events, primary_metric="revenue_14d", as_of=START + timedelta(days=40))
    assert revenue.decided and revenue.winner is None, revenue.reason
    low, high = revenue.table.set_index("arm").loc["b/2", ["low", "high"]]
    assert low < 0 < high


def test_only_customers_whose_horizon_passed_count_and_the_verdict_waits_for_the_planned_size():
    events = ab_events(np.random.default_rng(1))
    early = read_out(AB, events, primary_metric="click_rate", as_of=START + timedelta(days=20), planned_per_arm=200)
    table = early.table.set_index("arm")
    # Exposed over 20 days, a horizon of 14: only about the first 6 days' customers are complete.
    assert table["complete_customers"].sum() < 0.45 * table["customers"].sum()
    assert not early.decided and "planned" in early.reason


def test_a_sample_ratio_mismatch_stops_the_readout():
    events = ab_events(np.random.default_rng(2))
    dropped = events.loc[~((events["arm"] == "b/2") & (events["customer_unique_id"].str[-1] < "5"))]
    readout = read_out(AB, dropped, primary_metric="click_rate", as_of=START + timedelta(days=40))
    assert not readout.decided and "sample ratio mismatch" in readout.reason and readout.srm_p_value < 0.001


def test_interleaving_credits_clicks_to_the_team_that_showed_the_item():
    rng = np.random.default_rng(3)
    plan = Plan("exp", "interleaving", {"a/1": 1.0, "random": 1.0}, "salt", 1.0)
    rows = []
    for index in range(300):
        request, at = f"r{index}", START + timedelta(minutes=index)
        teams = ["a/1", "random"] if rng.random() < 0.5 else ["random", "a/1"]
        for position, team in enumerate(teams * 2):
            rows.append(_event("exposure", f"c{index}", f"p{index}-{position}", request, at, arm=team))
            if rng.random() < (0.3 if team == "a/1" else 0.1):
                rows.append(_event("click", f"c{index}", f"p{index}-{position}", request, at))
    readout = read_out(plan, pd.DataFrame(rows))
    assert readout.decided and readout.winner == "a/1", readout.reason
    table = readout.table.set_index("arm")
    assert table.loc["a/1", "value"] > 2 * table.loc["random", "value"] and table.loc["a/1", "p_value"] < 0.05


def test_a_bandit_readout_names_the_arm_its_replayed_state_trusts():
    rng = np.random.default_rng(4)
    plan = Plan("exp", "bandit", {"a/1": 1.0, "nothing": 1.0}, "salt", 1.0)
    rows = []
    for index in range(400):
        arm, request, at = ("a/1", "nothing")[index % 2], f"r{index}", START + timedelta(minutes=index)
        rows.append(_event("exposure", f"c{index}", "p1" if arm == "a/1" else None, request, at, arm=arm))
        if arm == "a/1" and rng.random() < 0.3:
            rows.append(_event("click", f"c{index}", "p1", request, at))
    readout = read_out(plan, pd.DataFrame(rows))
    assert readout.decided and readout.winner == "a/1", readout.reason
    table = readout.table.set_index("arm")
    assert table.loc["nothing", "items_shown"] == 0 and table.loc["nothing", "visits"] == 200
    assert table.loc["a/1", "probability_best"] > 0.95


def test_no_exposure_yet_is_said_not_hidden():
    readout = read_out(AB, ab_events(np.random.default_rng(5)).iloc[0:0])
    assert not readout.decided and readout.reason == "no exposure logged yet" and len(readout.table) == 2


def test_serving_follows_the_kind_of_experiment():
    rng = np.random.default_rng(6)
    lists = {"a/1": ["p1", "p2", "p3"], "b/2": ["p3", "p4", "p5"]}
    ab = serve(AB, "t", "c1", lists.get, 2, rng)
    assert ab.products == lists[ab.arm][:2] and ab.teams == [ab.arm] * 2
    assert serve(AB, "t", "c1", lists.get, 2, rng) == ab  # sticky
    outside = Plan("exp", "ab", AB.arms, "salt", 0.0)
    assert serve(outside, "t", "c1", lists.get, 2, rng) is None
    mixed = serve(Plan("exp", "interleaving", AB.arms, "salt", 1.0), "t", "c1", lists.get, 4, rng)
    assert mixed.arm == "a/1+b/2" and len(set(mixed.products)) == 4 and set(mixed.teams) == {"a/1", "b/2"}
    bandit_plan = Plan("exp", "bandit", AB.arms, "salt", 1.0)
    with pytest.raises(ValueError, match="needs the bandit's state"):
        serve(bandit_plan, "t", "c1", lists.get, 2, rng)
    sure = DiscountedThompson.replayed(list(AB.arms), [("b/2", 1.0)] * 200 + [("a/1", 0.0)] * 200, floor=0.0)
    assert serve(bandit_plan, "t", "c1", lists.get, 2, rng, sure).arm == "b/2"


def test_an_offline_replay_credits_logged_clicks_to_the_ranker_that_would_show_them():
    from ml.experiments.interleaving import replay

    rng = np.random.default_rng(7)
    # Visitors clicked the products of ranker A's lists; B ranks other products.
    lists_a = {f"c{i}": [f"a{i}-{j}" for j in range(10)] for i in range(60)}
    lists_b = {f"c{i}": [f"b{i}-{j}" for j in range(10)] for i in range(60)}
    visits = [(customer, {items[int(rng.integers(3))]}) for customer, items in lists_a.items()]
    result = replay(visits, lists_a.get, lists_b.get, 10, rng)
    assert result.wins_a > 40 and result.wins_b == 0 and result.p_value < 0.001
    # The same rankers on both sides: no preference.
    same = replay(visits, lists_a.get, lists_a.get, 10, rng)
    assert same.p_value > 0.05


def test_a_bandits_readout_calls_a_winner_between_equal_arms_at_about_its_stated_rate():
    """The readout names a winner at a posterior probability of being best of 0.95: between two
    equal arms each is so named about 5% of the time, so about 10 of 100 runs (binomial 99.9%
    range 2 to 20)."""
    plan = Plan("exp", "bandit", {"a/1": 1.0, "b/2": 1.0}, "salt", 1.0)
    winners = 0
    for seed in range(100):
        rng = np.random.default_rng(seed)
        bandit = DiscountedThompson(list(plan.arms))
        rows = []
        for step in range(500):
            arm, request, at = bandit.choose(rng), f"r{step}", START + timedelta(minutes=step)
            rows.append(_event("exposure", f"c{step}", "p1", request, at, arm=arm))
            clicked = rng.random() < 0.2
            if clicked:
                rows.append(_event("click", f"c{step}", "p1", request, at))
            bandit.update(arm, float(clicked))
        winners += read_out(plan, pd.DataFrame(rows), seed=seed).winner is not None
    assert 2 <= winners <= 20
