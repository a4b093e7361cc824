"""Business rules and the engine switch on tiny frames: each rule, exactly."""

import pandas as pd
import pytest

from apps.activation import coupon_targets
from apps.rules import (
    NO_ITEMS_LEFT,
    RulesError,
    apply_rules,
    load_rules,
    parse_rules,
)
from retail_intel.settings import Settings
from retail_intel.switch import FROZEN, OFF, ON, EngineSwitch


def candidates() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_unique_id": ["a"] * 5 + ["b"] * 2,
            "product_id": ["p1", "p2", "p3", "p4", "p5", "p1", "p6"],
            "score": [5.0, 4.0, 3.0, 2.0, 1.0, 5.0, 4.0],
            "probability": [0.95, 0.8, 0.5, 0.2, 0.1, 0.95, 0.75],
            "category": ["toys", "toys", "toys", "garden", "books", "toys", "books"],
        }
    )


def served(outcome, customer: str) -> list[str]:
    return list(outcome.items.loc[outcome.items["customer_unique_id"] == customer, "product_id"])


def test_no_rules_keeps_order_ranks_and_bands():
    outcome = apply_rules(candidates(), parse_rules({}), k=3)
    assert served(outcome, "a") == ["p1", "p2", "p3"]
    a = outcome.items.loc[outcome.items["customer_unique_id"] == "a"]
    assert list(a["rank"]) == [1, 2, 3]
    assert list(a["band"]) == ["high_visibility", "coupon", "standard"]
    assert outcome.empty_reasons == {}


def test_blocked_products_and_categories_globally_and_per_customer():
    rules = parse_rules(
        {
            "do_not_recommend": {
                "products": ["p2"],
                "categories": ["garden"],
                "customers": {"b": {"products": ["p1"]}, "a": {"categories": ["books"]}},
            }
        }
    )
    outcome = apply_rules(candidates(), rules, k=10)
    assert served(outcome, "a") == ["p1", "p3"]  # p2 global, p4 garden, p5 books for a only
    assert served(outcome, "b") == ["p6"]  # p1 blocked for b only
    assert outcome.hits["do_not_recommend_product"] == 1
    assert outcome.hits["do_not_recommend_category"] == 1
    assert outcome.hits["do_not_recommend_customer_product"] == 1
    assert outcome.hits["do_not_recommend_customer_category"] == 1


def test_products_not_sold_in_a_state():
    rules = parse_rules({"not_sold_in": {"products": {"p1": ["SP"]}, "categories": {"books": ["RJ"]}}})
    outcome = apply_rules(candidates(), rules, k=10, states={"a": "SP", "b": "RJ"})
    assert "p1" not in served(outcome, "a") and served(outcome, "b") == ["p1"]
    assert outcome.hits["not_sold_in_state"] == 2
    # A customer whose state is unknown is not restricted.
    assert served(apply_rules(candidates(), rules, k=10), "a")[0] == "p1"


def test_minimum_probability_gives_an_explicit_empty_list_with_the_reason():
    outcome = apply_rules(candidates(), parse_rules({"min_probability": 0.96}), k=10)
    assert outcome.items.empty
    assert outcome.empty_reasons == {"a": "no candidate reaches the minimum probability 0.96",
                                     "b": "no candidate reaches the minimum probability 0.96"}  # fmt: skip
    partly = apply_rules(candidates(), parse_rules({"min_probability": 0.7}), k=10)
    assert served(partly, "a") == ["p1", "p2"] and partly.hits["min_probability"] == 3
    blocked = apply_rules(candidates(), parse_rules({"do_not_recommend": {"products": ["p1", "p6"]}}), k=10)
    assert blocked.empty_reasons == {"b": NO_ITEMS_LEFT}


def test_cap_per_category_for_diversity():
    outcome = apply_rules(candidates(), parse_rules({"max_per_category": 1}), k=10)
    assert served(outcome, "a") == ["p1", "p4", "p5"]
    assert outcome.hits["max_per_category"] == 2


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"min_probabilty": 0.5}, "unknown key"),
        ({"min_probability": 2}, "min_probability must be a number in"),
        ({"max_per_category": 0}, "max_per_category must be a positive integer"),
        ({"bands": {"high_visibility": 0.5, "coupon": 0.7}}, "bands"),
        ({"do_not_recommend": {"products": "p1"}}, "do_not_recommend.products must be a list"),
    ],
)
def test_malformed_rules_are_refused_with_the_key(document, message):
    with pytest.raises(RulesError, match=message):
        parse_rules(document, "rules.yml")


def test_shipped_rules_file_loads(tmp_path):
    settings = Settings.from_env({}).with_(home=tmp_path)
    rules = load_rules(settings.rules_path)
    assert rules.bands.high_visibility == 0.9 and rules.bands.coupon == 0.7
    own = settings.tenant_dir / "business_rules.yml"
    own.parent.mkdir(parents=True)
    own.write_text("min_probability: 0.3\n")
    assert Settings.from_env({}).with_(home=tmp_path).rules_path == own
    (tmp_path / "broken.yml").write_text("min_probability: [\n")
    with pytest.raises(RulesError, match="broken.yml: not valid YAML"):
        load_rules(tmp_path / "broken.yml")


def test_coupon_targets_band_by_best_item_after_rules():
    recommendations = candidates().drop(columns="category").assign(rank=[1, 2, 3, 4, 5, 1, 2], model_version="m/3")
    categories = candidates().drop_duplicates("product_id").set_index("product_id")["category"]
    rules = parse_rules({"do_not_recommend": {"customers": {"b": {"products": ["p1"]}}}})
    result = coupon_targets(recommendations, categories, pd.Series({"a": "SP", "b": "RJ"}), rules)
    targets = result.targets.set_index("customer_unique_id")
    assert targets.loc["a", "product_id"] == "p1" and targets.loc["a", "band"] == "high_visibility"
    assert targets.loc["b", "product_id"] == "p6" and targets.loc["b", "band"] == "coupon"
    assert targets.loc["b", "action"] == "send coupon" and targets.loc["b", "model_version"] == "m/3"
    summary = result.summary.set_index("band")
    assert summary.loc["high_visibility", "customers"] == 1 and summary.loc["coupon", "customers"] == 1
    assert summary.loc["coupon", "expected_purchases"] == pytest.approx(0.75)
    assert summary.loc["standard", "customers"] == 0


def test_engine_switch_persists_and_audits(tmp_path):
    switch = EngineSwitch(tmp_path / "engine_switch.json")
    assert switch.state == ON and switch.history() == []
    switch.set(FROZEN, by="ana", reason="black friday")
    switch.set(OFF, by="rui", reason="bad lists")
    reopened = EngineSwitch(tmp_path / "engine_switch.json")
    assert reopened.state == OFF
    assert [(r.previous, r.state, r.changed_by, r.reason) for r in reopened.history()] == [
        (ON, FROZEN, "ana", "black friday"),
        (FROZEN, OFF, "rui", "bad lists"),
    ]
    with pytest.raises(ValueError, match="engine state must be one of"):
        switch.set("paused")


def test_a_campaign_holds_out_the_customers_a_running_experiment_serves_otherwise(tmp_path):
    from apps.activation import held_out, run_campaign
    from ml.experiments.serving import Plan
    from retail_intel.warehouse import warehouse_for
    from tests.support import make_settings

    customers = pd.Series([f"c{i}" for i in range(400)])
    ab = Plan("exp", "ab", {"m/3": 1.0, "popularity": 1.0}, "salt", 0.5)
    out = held_out(customers, ab, "t", "m/3")
    # Half the customers are in the experiment, half of those in the popularity arm.
    assert 0.17 < out.mean() < 0.33
    bandit = Plan("exp", "bandit", ab.arms, "salt", 0.5)
    assert held_out(customers, bandit, "t", "m/3").sum() > out.sum()  # per-visit arms: everyone in it

    settings = make_settings(tmp_path / "home")
    warehouse = warehouse_for(settings)
    lists = pd.DataFrame(
        {"customer_unique_id": customers, "product_id": "p1", "rank": 1, "score": 1.0, "probability": 0.95}
    ).assign(model_version="m/3")
    warehouse.write_many(
        {
            ("ml", "recommendations"): lists,
            ("marts", "products"): pd.DataFrame({"product_id": ["p1"], "category": ["toys"]}),
            ("marts", "customer_rfm"): pd.DataFrame({"customer_unique_id": customers, "customer_state": "SP"}),
        }
    )
    result = run_campaign(warehouse, parse_rules({}), tmp_path / "campaign.csv", ab, "t")
    assert result.held_out == out.sum() and len(result.targets) == len(customers) - out.sum()
    assert not set(result.targets["customer_unique_id"]) & set(customers[out.to_numpy()])
