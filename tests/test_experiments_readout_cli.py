"""Reading experiments out and acting on them (#16): `experiments analyze` prints the readout of
the tenant's logged events, monitoring/experiment_results writes it for dashboards, `promote`
makes a stopped experiment's winning version the champion through the registry (refused while
running, for a strategy, and when the engine is frozen), `size` is the power calculator."""

from datetime import timedelta

import numpy as np
from click.testing import CliRunner

from apps.cli import main
from orchestration.assets.monitoring.experiment_results import experiment_results
from orchestration.experiments import RESULTS_TABLE
from orchestration.lineage import registry_for
from orchestration.resources import WarehouseResource
from retail_intel.events import EventStore
from retail_intel.experiments import ExperimentStore
from retail_intel.switch import FROZEN, ON, EngineSwitch
from retail_intel.warehouse import warehouse_for
from tests.ml.test_experiments_readout import START, ab_events
from tests.support import make_settings, materialize, register_recommender


def _tenant(tmp_path, arms):
    """A tenant with two registered recommender versions, an A/B experiment between ``arms``
    (named by position: 'v1', 'v2' or a strategy) started at 100%, and its events logged: the
    second arm draws three times the clicks of the first."""
    settings = make_settings(tmp_path / "home")
    versions = {"v1": register_recommender(settings, 0.3), "v2": register_recommender(settings, 0.3)}
    registry = registry_for(settings)
    registry.promote("default.recommender", "1", by="test")
    named = [versions.get(arm, arm) for arm in arms]
    store = ExperimentStore(settings.experiments_path)
    store.create("exp", "ab", dict.fromkeys(named, 1.0), primary_metric="click_rate", planned_per_arm=100)
    store.advance("exp", 1.0)
    events = ab_events(np.random.default_rng(0))
    events = events.assign(arm=events["arm"].map({"a/1": named[0], "b/2": named[1]}))
    events["model_version"] = events["arm"]
    events["event_id"] = [f"e{i}" for i in range(len(events))]
    events["received_at"] = events["occurred_at"]
    # The horizon of the last customers has passed: a purchase after it marks how far the data goes.
    late = {"event_id": "late", "event_type": "purchase", "occurred_at": START + timedelta(days=40)}
    logged = EventStore(settings)
    logged.add([*events.to_dict("records"), {**late, "received_at": late["occurred_at"], "value": 1.0}])
    logged.close()
    return settings, store, named


def _cli(settings, *args):
    return CliRunner().invoke(main, ["--home", str(settings.home), "experiments", *args])


def test_analyze_prints_each_arm_and_the_verdict_and_the_asset_writes_the_same(tmp_path):
    settings, _, (v1, v2) = _tenant(tmp_path, ["v1", "v2"])
    printed = _cli(settings, "analyze", "exp")
    assert printed.exit_code == 0, printed.output
    assert v1 in printed.output and "control" in printed.output and "treatment" in printed.output
    assert "sample ratio check: p = " in printed.output
    assert f"winner {v2}" in printed.output and f"{v2} beats {v1} on click_rate" in printed.output

    result = materialize(
        settings, [experiment_results], resources={"warehouse": WarehouseResource.from_settings(settings)}
    )
    assert result.success
    table = warehouse_for(settings).read(*RESULTS_TABLE).set_index("arm")
    assert table.loc[v2, "winner"] == v2 and bool(table.loc[v2, "decided"]) and table.loc[v2, "p_value"] < 0.05
    assert table.loc[v1, "role"] == "control" and table.loc[v1, "status"] == "running"


def test_promote_moves_the_champion_to_the_winner_only_when_the_experiment_is_stopped_and_nothing_is_frozen(tmp_path):
    settings, store, (v1, v2) = _tenant(tmp_path, ["v1", "v2"])
    running = _cli(settings, "promote", "exp")
    assert running.exit_code == 2 and "stop it before" in running.output
    store.stop("exp")
    switch = EngineSwitch(settings.engine_switch_path)
    switch.set(FROZEN, by="ops")
    frozen = _cli(settings, "promote", "exp")
    assert frozen.exit_code == 2 and "the engine is frozen" in frozen.output
    assert registry_for(settings).version_for("default.recommender", "champion") == "1"
    switch.set(ON, by="ops")
    promoted = _cli(settings, "promote", "exp", "--by", "ana")
    assert promoted.exit_code == 0 and f"{v2} is now the champion" in promoted.output, promoted.output
    registry = registry_for(settings)
    assert registry.version_for("default.recommender", "champion") == "2"
    tags = registry.client.get_model_version("default.recommender", "2").tags
    assert tags["experiment.name"] == "exp" and tags["champion.promoted_by"] == "ana"
    assert store.audit("exp")[-1]["action"] == "promote"


def test_a_strategy_that_wins_is_not_promoted(tmp_path):
    settings, store, _ = _tenant(tmp_path, ["v1", "popularity"])
    store.stop("exp")
    refused = _cli(settings, "promote", "exp")
    assert refused.exit_code == 2 and "strategy 'popularity'" in refused.output


def test_size_is_the_power_calculator_and_says_what_it_needs(tmp_path):
    settings = make_settings(tmp_path / "home")
    rate = _cli(settings, "size", "--baseline-rate", "0.05", "--lift", "0.01")
    assert rate.exit_code == 0 and "8,158 customers per arm" in rate.output
    mean = _cli(settings, "size", "--std", "40", "--effect", "2")
    assert mean.exit_code == 0 and "6,280 customers per arm" in mean.output
    assert _cli(settings, "size", "--lift", "0.01").exit_code == 2


def test_replay_screens_two_arms_on_the_logged_clicks(tmp_path):
    import pandas as pd

    settings = make_settings(tmp_path / "home")
    customers = [f"c{i}" for i in range(40)]
    warehouse = warehouse_for(settings)
    warehouse.write_many(
        {
            ("ml", "recommendations"): pd.DataFrame(
                {"customer_unique_id": customers, "product_id": "p9", "rank": 1}
            ).assign(model_version="default.recommender/1"),
            ("marts", "user_item_interactions"): pd.DataFrame(
                {"product_id": ["p1", "p2"], "purchase_count": [5, 3], "last_purchased_at": pd.Timestamp("2018-06-30")}
            ),
            ("marts", "customer_rfm"): pd.DataFrame({"customer_unique_id": customers}),
            ("marts", "products"): pd.DataFrame({"product_id": ["p1", "p2", "p9"]}),
            ("marts", "orders"): pd.DataFrame({"order_id": ["o1"]}),
        }
    )
    # Every logged visit clicked the best-seller p1: popularity shows it, the champion's lists do not.
    clicks = [
        {"event_id": f"e{i}", "event_type": "click", "customer_unique_id": customer, "product_id": "p1",
         "request_id": f"r{i}", "occurred_at": START, "received_at": START}
        for i, customer in enumerate(customers)
    ]  # fmt: skip
    store = EventStore(settings)
    store.add(clicks)
    store.close()
    screened = _cli(settings, "replay", "--arm", "popularity", "--arm", "default.recommender/1")
    assert screened.exit_code == 0, screened.output
    assert "40 logged visits with a click: 40 wins for popularity, 0 for default.recommender/1" in screened.output
    assert _cli(settings, "replay", "--arm", "popularity").exit_code == 2
