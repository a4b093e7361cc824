"""Online experiments end to end (#16): the graph, the service or the batch lists, the feedback
simulator and the readout, on generated data with a known truth.

A long-history shop (customers who come back and buy what they bought before) is built as of
four weeks before its data ends; each test replays those four weeks with one experiment running,
through the path a shop would use, and reads it out as `retail-intel experiments analyze` does.
The truth is the simulator's (ml/monitoring/feedback.py): clicks follow how many of the shown
products the visitor really goes on to buy or likes, so the trained champion draws more clicks
than random products, and the recommend-nothing arm draws none; purchases are the real ones,
whatever was shown, so no arm changes revenue: the A/B test's revenue readout is the negative
case (equal arms, no winner).
"""

import shutil
from datetime import date

import pytest
from fastapi.testclient import TestClient

from apps.api.app import create_app
from apps.cli.simulate import ListsFeed, ServiceFeed, replay
from apps.experiment_serving import plan_of
from ml.experiments.readout import read_out
from orchestration.experiments import PromotionRefused, promote_winner, readouts
from orchestration.lineage import registry_for
from orchestration.runner import run_graph
from retail_intel.events import EventStore
from retail_intel.experiments import ExperimentStore
from retail_intel.generator import generate
from retail_intel.generator.presets import preset_config
from retail_intel.warehouse import warehouse_for
from tests.support import make_settings

pytestmark = pytest.mark.slow
CHAMPION = "default.recommender/1"
DAYS = 28


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("experiments")
    raw = root / "raw"
    generate(preset_config("long_history", orders=8000, seed=3), raw)
    settings = make_settings(root / "home", raw_dir_override=raw)
    report = run_graph(settings, as_of_date=date(2018, 7, 11), log=lambda _: None)
    assert report.success, report.failures
    assert warehouse_for(settings).read("ml", "recommendations")["model_version"].iloc[0] == CHAMPION
    return root


def _tenant(built, tmp_path):
    """A copy of the built tenant: each test's events and experiments are its own."""
    shutil.copytree(built / "home", tmp_path / "home")
    return make_settings(tmp_path / "home", raw_dir_override=built / "raw")


def _through_service(settings, seed):
    with TestClient(create_app(settings, refresh_seconds=0.2)) as client:
        return replay(settings, DAYS, seed, ServiceFeed("the service", 10, client=client))


def _through_lists(settings, seed):
    lists = warehouse_for(settings).read("ml", "recommendations")
    return replay(settings, DAYS, seed, ListsFeed(settings, lists, 10, seed=seed))


def _logged(settings, name):
    store = EventStore(settings)
    try:
        return store.of_experiment(name)
    finally:
        store.close()


def _readout(settings, name):
    (found,) = readouts(settings, [name])
    return found.readout


def test_an_ab_test_through_the_service_finds_the_clicks_the_lists_draw_and_no_revenue_they_do_not(built, tmp_path):
    settings = _tenant(built, tmp_path)
    store = ExperimentStore(settings.experiments_path)
    arms = {CHAMPION: 1.0, "nothing": 1.0}
    store.create("lists-or-not", "ab", arms, primary_metric="click_rate", horizon_days=7, salt="e2e")
    store.advance("lists-or-not", 0.5)

    events = _through_service(settings, seed=1)
    exposures = events.loc[events["model_version"].isin([CHAMPION, "nothing"])]
    assert len(exposures), "the service served nobody by assignment"
    readout = _readout(settings, "lists-or-not")
    table = readout.table.set_index("arm")
    # Half the rollout: about half of the visitors are in it, split evenly (the SRM check passes).
    visitors = events["customer_unique_id"].nunique()
    assert 0.3 < table["customers"].sum() / visitors < 0.7 and readout.srm_p_value > 0.001
    assert table.loc["nothing", "items_shown"] == 0 and table.loc["nothing", "clicks"] == 0
    assert readout.decided and readout.winner == CHAMPION, readout.reason
    assert table.loc[CHAMPION, "value"] > 0.2  # a fifth of the champion's customers clicked within the week

    # The negative case on the same customers: revenue is the real purchases, whatever was shown.
    revenue = read_out(
        plan_of(store.get("lists-or-not")),
        _logged(settings, "lists-or-not"),
        primary_metric="revenue_14d",
        horizon_days=7,
    )
    assert revenue.decided and revenue.winner is None, revenue.reason

    # Promotion of the winner goes through the registry: it is the champion already, and says so.
    with pytest.raises(PromotionRefused, match="stop it"):
        promote_winner(settings, "lists-or-not", by="ana")
    store.stop("lists-or-not", by="ana")
    assert promote_winner(settings, "lists-or-not", by="ana") == f"{CHAMPION} is the champion already"
    tags = registry_for(settings).client.get_model_version("default.recommender", "1").tags
    assert tags["experiment.name"] == "lists-or-not" and "click_rate" in tags["experiment.verdict"]
    assert store.audit("lists-or-not")[-1]["action"] == "promote"


def test_a_bandit_moves_the_traffic_to_the_better_version_and_the_real_time_endpoint_follows_it(built, tmp_path):
    settings = _tenant(built, tmp_path)
    store = ExperimentStore(settings.experiments_path)
    store.create("which-list", "bandit", {"random": 1.0, CHAMPION: 1.0}, salt="e2e")
    store.advance("which-list", 1.0)

    # The batch lists with a seeded bandit: the same draws every time (through the service the
    # draws are the process's own, and a month of this small shop is a few hundred lists).
    events = _through_lists(settings, seed=2)
    served = events.drop_duplicates("request_id")
    served = served.loc[served["model_version"].isin(["random", CHAMPION])].sort_values("occurred_at")
    later = served.iloc[len(served) // 2 :]
    # Rewards (a click on or a purchase of a shown item) feed the bandit as the visits go: an
    # equal split would give the champion half of the later lists (standard error 0.03).
    assert (later["model_version"] == CHAMPION).mean() > 0.6
    readout = _readout(settings, "which-list")
    table = readout.table.set_index("arm")
    # The loser keeps little traffic, so its evidence stays thin: the readout names a winner only
    # at a posterior probability of 0.95, which a month of this small shop may not reach.
    assert table.loc[CHAMPION, "value"] > table.loc["random", "value"]
    assert table.loc[CHAMPION, "probability_best"] > 0.8 and readout.winner in (None, CHAMPION), readout.reason

    customer = served["customer_unique_id"].iloc[0]
    with TestClient(create_app(settings, refresh_seconds=0.2)) as client:
        answer = client.post("/v1/recommendations", json={"customer_unique_id": customer, "k": 5}).json()
    assert answer["model_version"] in ("random", CHAMPION) and len(answer["items"]) == 5
    logged = _logged(settings, "which-list")
    assert answer["request_id"] in set(logged.loc[logged["event_type"] == "exposure", "request_id"])


def test_interleaving_in_the_batch_lists_prefers_the_trained_model_to_random_products(built, tmp_path):
    settings = _tenant(built, tmp_path)
    store = ExperimentStore(settings.experiments_path)
    store.create("champion-vs-random", "interleaving", {CHAMPION: 1.0, "random": 1.0}, salt="e2e")
    store.advance("champion-vs-random", 1.0)

    events = _through_lists(settings, seed=3)
    shown = events.loc[events["event_type"] == "impression"]
    assert (shown["model_version"] == f"{CHAMPION}+random").all()
    readout = _readout(settings, "champion-vs-random")
    table = readout.table.set_index("arm")
    assert readout.decided and readout.winner == CHAMPION, readout.reason
    assert table.loc[CHAMPION, "value"] > 2 * table.loc["random", "value"] and table.loc[CHAMPION, "p_value"] < 0.01
    # Both teams fill the lists about equally: the draft, not the clicks, decides who shows what.
    assert 0.4 < table.loc[CHAMPION, "items_shown"] / table["items_shown"].sum() < 0.6


def test_an_arm_that_will_not_load_leaves_the_champion_serving_and_readyz_says_why(built, tmp_path):
    settings = _tenant(built, tmp_path)
    store = ExperimentStore(settings.experiments_path)
    # The command line refuses an unknown version; the store alone does not know the registry.
    store.create("broken", "ab", {CHAMPION: 1.0, "default.recommender/7": 1.0}, salt="e2e")
    store.advance("broken", 1.0)
    customer = warehouse_for(settings).read("ml", "recommendations")["customer_unique_id"].iloc[0]
    with TestClient(create_app(settings, refresh_seconds=0.2)) as client:
        answer = client.get(f"/v1/customers/{customer}/recommendations")
        assert answer.status_code == 200 and answer.json()["model_version"] == CHAMPION
        ready = client.get("/readyz").json()
    error = ready["experiment_error"]
    assert ready["ready"] and error.startswith("broken: ") and "version=7" in error
    assert _logged(settings, "broken").empty  # nobody was exposed to an arm that could not be served
