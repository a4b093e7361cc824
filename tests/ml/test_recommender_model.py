"""The recommender selection and the two-tower network end to end on a small generated Olist set built into marts."""

from __future__ import annotations

import dataclasses
import os
import pickle

import duckdb
import numpy as np
import pandas as pd
import pytest
import torch

from ml.recommender import (
    RecommenderConfig,
    item_embeddings,
    recommend,
    split_by_time,
    train_and_evaluate,
    user_embeddings,
)
from ml.recommender.candidates import two_tower
from ml.recommender.features import check_orders, customer_states
from ml.recommender.frames import object_ids
from ml.recommender.network import MaskDropout
from ml.recommender.next_purchase import split_next_purchase
from ml.recommender.prior import PopularityPrior
from ml.recommender.registered import RegisteredRecommender
from ml.recommender.split import purchase_events
from ml.recommender.train import fit_two_tower
from ml.registry import NotComparable
from retail_intel.generator import GeneratorConfig, generate
from retail_intel.settings import Settings
from tests.support import built_warehouse

# Small and quick: two epochs at most, narrow towers, 60-day windows so that a 4K-order
# set still has a few hundred test customers.
CONFIG = RecommenderConfig(
    test_days=60,
    validation_days=60,
    window_days=60,
    embedding_dim=16,
    hidden_dim=32,
    id_dim=8,
    user_hash_buckets=1024,
    max_epochs=2,
    patience=1,
    batch_size=256,
    random_negatives=256,
    item_id_min_buyers=2,
    threads=1,
)


@pytest.fixture(scope="module")
def marts(tmp_path_factory) -> dict[str, pd.DataFrame]:
    """Marts of a generated set with many repeat customers (repeat_rate 0.2)."""
    root = tmp_path_factory.mktemp("recommender")
    generate(GeneratorConfig(orders=4_000, seed=11, repeat_rate=0.2), root / "raw")
    environ = {key: value for key, value in os.environ.items() if not key.startswith("RETAIL_INTEL_")}
    settings = Settings.from_env(environ).with_(home=root / "home", raw_dir_override=root / "raw")
    built_warehouse(settings)
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as connection:
        return {
            name: connection.execute(f"select * from marts.{name}").df()
            for name in ("user_item_interactions", "customer_rfm", "products", "orders")
        }


ALL_CANDIDATES = {"global_popularity", "recent_popularity", "item_knn", "ease", "als", "two_tower"}


@pytest.fixture(scope="module")
def selection(marts):
    """Every candidate competes."""
    return train_and_evaluate(
        marts["user_item_interactions"], marts["customer_rfm"], marts["products"], marts["orders"], CONFIG
    )


@pytest.fixture(scope="module")
def result(marts):
    """The two-tower alone, so that the network's own behaviour is tested whatever the selection picks."""
    config = dataclasses.replace(CONFIG, exclude_candidates=tuple(ALL_CANDIDATES - {"two_tower"}))
    return train_and_evaluate(
        marts["user_item_interactions"], marts["customer_rfm"], marts["products"], marts["orders"], config
    )


def test_metrics_table_covers_every_candidate_protocol_and_segment(selection):
    result = selection
    table = result.metrics
    assert set(table["model"]) == ALL_CANDIDATES
    assert set(table["protocol"]) == {
        "full_catalog", "sampled_100", "next_purchase_full_catalog", "next_purchase_sampled_100"
    }  # fmt: skip
    window = table.loc[~table["protocol"].str.startswith("next_purchase")]
    assert set(window["segment"]) == {"all", "repeat", "first_time"}
    assert len(window) == 6 * 2 * 3
    # Every customer of the per-customer protocol has a history: no first-time segment there.
    per_customer = table.loc[table["protocol"].str.startswith("next_purchase")]
    assert set(per_customer["segment"]) == {"all", "repeat"} and len(per_customer) == 6 * 2 * 2
    figures = table[["hr_at_1", "hr_at_10", "ndcg_at_10", "mrr_at_10"]]
    assert ((figures >= 0) & (figures <= 1)).all().all()
    assert (table["hr_at_1"] <= table["hr_at_10"]).all()
    assert table.loc[table["protocol"] == "sampled_100", "catalog_coverage"].isna().all()
    assert table.loc[table["protocol"] == "full_catalog", "catalog_coverage"].between(0, 1).all()
    segments = table.loc[(table["model"] == "two_tower") & (table["protocol"] == "full_catalog")].set_index("segment")
    assert (
        segments.loc["repeat", "customers"] + segments.loc["first_time", "customers"]
        == segments.loc["all", "customers"]
    )
    assert segments.loc["repeat", "customers"] > 0 and segments.loc["first_time", "customers"] > 0
    assert set(result.validation_metrics["model"]) == set(table["model"])
    assert result.chosen["recent_days"] in CONFIG.recent_days_choices
    flat = result.flat_metrics()
    assert "two_tower.full_catalog.all.hr_at_10" in flat and "calibration.ece" in flat
    assert "item_knn:validation.full_catalog.all.hr_at_10" in flat
    assert result.params()["chosen_candidate"] == result.chosen_name


def test_selection_picks_the_best_on_validation_and_reports_every_candidate_on_test(selection):
    table = selection.candidates.set_index("candidate")
    assert set(table.index) == ALL_CANDIDATES
    assert (table["status"] == "chosen").sum() == 1
    chosen = table.loc[selection.chosen_name]
    assert chosen["status"] == "chosen"
    # This small generated set has too few customers with three orders for the per-customer
    # protocol to decide: the time window does, and the reason says so.
    assert selection.split["selection_protocol"] == "time_window"
    assert "too few to choose on" in chosen["reason"]
    # Never worse on validation than any candidate, baselines included.
    selection_metric = "validation_hr_at_10"
    assert chosen[selection_metric] == table[selection_metric].max()
    for prefix in ("", "next_purchase_"):
        for window in ("validation", "test"):
            assert table[f"{prefix}{window}_hr_at_10"].notna().all()
    validation = selection.validation_metrics
    figures = validation.loc[(validation["protocol"] == "full_catalog") & (validation["segment"] == "all")]
    assert figures.set_index("model")["hr_at_10"].to_dict() == pytest.approx(table[selection_metric].to_dict())
    # The chosen one is compared with every other candidate, on both windows of both protocols.
    others = ALL_CANDIDATES - {selection.chosen_name}
    for comparisons in (selection.comparisons, selection.validation_comparisons):
        for protocol in ("time_window", "next_purchase"):
            assert set(comparisons.loc[comparisons["protocol"] == protocol, "baseline"]) == others
    assert selection.model.family == selection.chosen_name


def test_evaluated_model_knows_nothing_from_the_cutoff_on(result, marts):
    split = split_by_time(marts["user_item_interactions"], CONFIG.test_days, CONFIG.validation_days)
    evaluated = result.evaluated_model.network
    assert evaluated.reference_time == split.cutoff
    assert (evaluated.events["purchased_at"] < split.cutoff).all()
    assert (evaluated.orders["purchased_at"] < split.cutoff).all()
    # The network itself was trained before the validation window.
    assert result.evaluated_model.training.windows >= 1
    assert result.split["validation_start"] == str(split.validation_start)
    assert result.model.network.reference_time == split.end


def test_calibrated_probabilities_lie_in_unit_interval(result, marts):
    assert 0 <= result.calibration["ece"] <= 1
    customers = marts["customer_rfm"].head(50)
    recommendations = recommend(result.model.network, customers)
    assert recommendations["probability"].between(0, 1).all()
    assert list(recommendations.columns) == ["customer_unique_id", "product_id", "rank", "score", "probability"]


def test_exactly_k_per_customer_and_bought_items_excluded(result, marts):
    interactions = marts["user_item_interactions"]
    buyers = interactions["customer_unique_id"].value_counts()
    customers = pd.DataFrame({"customer_unique_id": buyers.index[:30]})  # the most items bought first
    recommendations = recommend(result.model.network, customers, top_k=10)
    assert (recommendations.groupby("customer_unique_id").size() == 10).all()
    assert recommendations["customer_unique_id"].nunique() == 30
    assert (recommendations.groupby("customer_unique_id")["rank"].apply(list) == [list(range(1, 11))] * 30).all()
    assert recommendations.groupby("customer_unique_id")["score"].is_monotonic_decreasing.all()
    owned = set(zip(interactions["customer_unique_id"], interactions["product_id"], strict=True))
    pairs = set(zip(recommendations["customer_unique_id"], recommendations["product_id"], strict=True))
    assert not pairs & owned
    # Asked to keep them, the model may recommend what a customer already has.
    kept = recommend(result.model.network, customers, top_k=10, exclude_bought=False)
    assert (kept.groupby("customer_unique_id").size() == 10).all()


def test_one_pass_window_figures_equal_the_score_matrix(result, marts):
    """Early stopping's single pass (top 10 and log-likelihood) against a direct computation."""
    model = _with_prior(result.evaluated_model.network, PopularityPrior(days=60, first_time=1.0, repeat=0.5))
    split = split_by_time(marts["user_item_interactions"], CONFIG.test_days, CONFIG.validation_days)
    held_out = split.test.drop_duplicates(["customer_unique_id", "product_id"]).head(80)
    customers = pd.Index(np.sort(held_out["customer_unique_id"].unique()))
    ranked, log_likelihood = model.window_figures(held_out, customers, top_k=10)
    pd.testing.assert_frame_equal(ranked, model.ranked(customers, top_k=10))
    scores = model.score_matrix(customers).astype("float64")
    catalog = pd.Index(model.products["product_id"])
    bought = model.events.loc[model.events["customer_unique_id"].isin(customers)]
    scores[customers.get_indexer(bought["customer_unique_id"]), catalog.get_indexer(bought["product_id"])] = -np.inf
    log_softmax = scores - np.logaddexp.reduce(scores, axis=1, keepdims=True)
    pairs = held_out.sort_values("customer_unique_id", kind="stable")
    expected = log_softmax[customers.get_indexer(pairs["customer_unique_id"]), catalog.get_indexer(pairs["product_id"])]
    assert np.allclose(log_likelihood, expected, atol=1e-4)
    assert np.allclose(model.log_likelihood(held_out), expected, atol=1e-4)
    # The prior is part of the scores: without it the likelihoods differ.
    assert not np.allclose(_with_prior(model, None).log_likelihood(held_out), expected, atol=1e-4)


def test_a_small_catalogue_gives_fewer_than_k(result, marts):
    interactions = marts["user_item_interactions"]
    customer = interactions["customer_unique_id"].iloc[0]
    bought = set(interactions.loc[interactions["customer_unique_id"] == customer, "product_id"])
    products = marts["products"]
    small = pd.concat(
        [products[products["product_id"].isin(bought)], products[~products["product_id"].isin(bought)].head(3)]
    )
    recommendations = recommend(result.model.network, pd.Series([customer]), small, top_k=10)
    assert len(recommendations) == 3
    assert not set(recommendations["product_id"]) & bought


def test_cold_start_customers_get_recommendations(result):
    cold = pd.DataFrame({"customer_unique_id": ["never-seen-1", "never-seen-2", "never-seen-3"],
                         "customer_state": ["SP", "RJ", None]})  # fmt: skip
    recommendations = recommend(result.model.network, cold, top_k=5)
    assert (recommendations.groupby("customer_unique_id").size() == 5).all()
    assert recommendations["customer_unique_id"].nunique() == 3
    # A state moves a newcomer's list; no history means the same list for the same state.
    twin = recommend(
        result.model.network, pd.DataFrame({"customer_unique_id": ["twin"], "customer_state": ["SP"]}), top_k=5
    )
    first = recommendations.loc[recommendations["customer_unique_id"] == "never-seen-1"]
    assert list(twin["product_id"]) == list(first["product_id"])


def _with_prior(model, prior):
    copy = pickle.loads(pickle.dumps(model))
    return copy.with_prior(prior)


def test_popularity_prior_weights_each_segment_separately(result, marts):
    customers = marts["customer_rfm"]
    events = purchase_events(marts["user_item_interactions"])
    repeat = customers.loc[customers["customer_unique_id"].isin(events["customer_unique_id"]), ["customer_unique_id"]]
    cold = pd.DataFrame({"customer_unique_id": ["never-seen"], "customer_state": ["SP"]})
    network_alone = _with_prior(result.model.network, None)
    # A huge first-time weight makes a newcomer's list recent popularity's; weight 0 leaves repeat customers alone.
    strong = _with_prior(result.model.network, PopularityPrior(days=60, first_time=1_000.0, repeat=0.0))
    recent = strong.prior.item_log_buyers(strong.events, strong.reference_time, pd.Index(strong.products["product_id"]))
    counts = pd.Series(recent, index=strong.products["product_id"])
    newcomer = strong.recommend(cold, top_k=5)
    assert list(counts.loc[newcomer["product_id"]]) == sorted(counts, reverse=True)[:5]
    pd.testing.assert_frame_equal(
        strong.recommend(repeat.head(20)).drop(columns="probability"),
        network_alone.recommend(repeat.head(20)).drop(columns="probability"),
    )
    # The result records what validation chose, from weights that were all tried.
    chosen = result.params()
    assert chosen["chosen_prior_weight_first_time"] in CONFIG.prior_weights
    assert chosen["chosen_prior_weight_repeat"] in CONFIG.prior_weights
    assert set(result.evaluated_model.prior_search["weight"]) == set(CONFIG.prior_weights)


def test_embeddings_frames(result, marts):
    customers = marts["customer_rfm"].head(20)
    # A non-zero prior, so that the embeddings must carry it to reproduce the scores.
    model = _with_prior(result.model.network, PopularityPrior(days=60, first_time=2.0, repeat=0.5))
    users = user_embeddings(model, customers)
    items = item_embeddings(model)
    vector_columns = [f"embedding_{i}" for i in range(CONFIG.embedding_dim)]
    assert list(users.columns) == ["customer_unique_id", *vector_columns, "prior_weight"]
    assert list(items.columns) == ["product_id", *vector_columns, "bias", "log_recent_buyers"]
    assert len(items) == len(marts["products"])
    assert np.allclose(np.linalg.norm(users[vector_columns].to_numpy(), axis=1), 1, atol=1e-5)
    # The embeddings reproduce the scores: user . item / temperature + bias + prior weight x log recent buyers.
    recommendations = recommend(model, customers.head(1), top_k=3)
    item = items.set_index("product_id").loc[recommendations["product_id"]]
    user = users.iloc[0]
    assert user["prior_weight"] in (2.0, 0.5) and item["log_recent_buyers"].gt(0).any()
    expected = (
        item[vector_columns].to_numpy() @ user[vector_columns].to_numpy(dtype="float64") / CONFIG.temperature
        + item["bias"]
        + user["prior_weight"] * item["log_recent_buyers"]
    )
    assert np.allclose(recommendations["score"], expected, atol=1e-4)


def test_model_survives_pickling(result, marts):
    customers = marts["customer_rfm"].head(10)
    restored = pickle.loads(pickle.dumps(result.model))
    pd.testing.assert_frame_equal(restored.recommend(customers), result.model.recommend(customers))


def test_every_candidate_registered_repeats_its_test_figure_and_serves_in_real_time(selection, marts):
    """Through the registry's path, whatever family is chosen: holdout = test figure, tables, real time."""
    from ml.recommender.serving import realtime_scorer

    interactions, customers, products, orders = (
        marts[name] for name in ("user_item_interactions", "customer_rfm", "products", "orders")
    )
    registered = pickle.loads(pickle.dumps(RegisteredRecommender.from_result(selection)))
    scored = registered.holdout_metrics(interactions, customers, products, orders)
    assert scored["hr_at_10"] == pytest.approx(
        selection.candidates.set_index("candidate").loc[selection.chosen_name, "test_hr_at_10"]
    )
    champion = registered.for_data(interactions, customers, products, orders)
    table = champion.recommend(customers.head(20), 5)
    assert (table.groupby("customer_unique_id").size() == 5).all() and table["probability"].between(0, 1).all()
    scorer = realtime_scorer(champion, customers)
    customer = table["customer_unique_id"].iloc[0]
    answer, _ = scorer.recommend(customer, None, [], 5)
    assert list(answer["product_id"]) == list(table.loc[table["customer_unique_id"] == customer, "product_id"])


def test_registered_holdout_repeats_the_test_figures_and_refuses_a_model_that_saw_the_window(result, marts):
    interactions, customers, products, orders = (
        marts[name] for name in ("user_item_interactions", "customer_rfm", "products", "orders")
    )
    registered = pickle.loads(pickle.dumps(RegisteredRecommender.from_result(result)))
    # The promotion's holdout is the test window the figures were computed on: same number.
    scored = registered.holdout_metrics(interactions, customers, products, orders)
    figures = result.metrics.set_index(["model", "protocol", "segment"]).loc[("two_tower", "full_catalog", "all")]
    assert scored["hr_at_10"] == pytest.approx(figures["hr_at_10"])
    assert scored["ndcg_at_10"] == pytest.approx(figures["ndcg_at_10"])
    # Marts with an earlier as-of date: the window would include what the model trained on.
    earlier = interactions.loc[interactions["first_purchased_at"] < pd.Timestamp(result.split["cutoff"])]
    with pytest.raises(NotComparable, match="after the holdout's start"):
        registered.holdout_metrics(earlier, customers, products, orders)
    # Scoring: the refit network rebased onto the marts gives the refit model's own lists.
    rebased = registered.for_data(interactions, customers, products, orders)
    pd.testing.assert_frame_equal(
        rebased.recommend(customers.head(30), 10), result.model.recommend(customers.head(30), 10)
    )


def test_versions_registered_before_the_candidates_still_load(result, marts):
    """A registry entry of the two-tower era holds bare networks; it loads as a two-tower candidate."""
    from ml.recommender.candidates import TwoTowerFitted

    legacy = RegisteredRecommender(
        scoring=result.model.network,
        evaluated=result.evaluated_model.network,
        evaluated_through=pd.Timestamp(result.split["cutoff"]),
        test_days=result.config.test_days,
    )
    restored = pickle.loads(pickle.dumps(legacy))
    assert isinstance(restored.scoring, TwoTowerFitted) and restored.family == "two_tower"
    interactions, customers, products, orders = (
        marts[name] for name in ("user_item_interactions", "customer_rfm", "products", "orders")
    )
    scored = restored.holdout_metrics(interactions, customers, products, orders)
    assert scored["hr_at_10"] == pytest.approx(
        result.candidates.set_index("candidate").loc["two_tower", "test_hr_at_10"]
    )


def test_same_seed_same_recommendations(marts):
    interactions, customers = marts["user_item_interactions"], marts["customer_rfm"]
    split = split_by_time(interactions, CONFIG.test_days, CONFIG.validation_days)
    orders = check_orders(marts["orders"])
    config = RecommenderConfig(**{**CONFIG.__dict__, "max_epochs": 1})

    def fit(seed: int) -> pd.DataFrame:
        model, _ = fit_two_tower(
            split.train, split.validation_start, customer_states(customers), marts["products"], orders,
            RecommenderConfig(**{**config.__dict__, "seed": seed}), validation=split.validation,
        )  # fmt: skip
        return model.recommend(customers.head(40))

    first = fit(seed=5)
    pd.testing.assert_frame_equal(first, fit(seed=5))
    assert not first["score"].equals(fit(seed=6)["score"])


def test_training_sees_nothing_from_the_validation_window_on(marts):
    """Fed every interaction and order, training gives the model it gives on pre-boundary data alone."""
    interactions, customers = marts["user_item_interactions"], marts["customer_rfm"]
    split = split_by_time(interactions, CONFIG.test_days, CONFIG.validation_days)
    orders = check_orders(marts["orders"])
    config = RecommenderConfig(**{**CONFIG.__dict__, "max_epochs": 1})

    def fit(known: pd.DataFrame, known_orders: pd.DataFrame) -> pd.DataFrame:
        model, log = fit_two_tower(
            known, split.validation_start, customer_states(customers), marts["products"], known_orders, config,
            validation=split.validation,
        )  # fmt: skip
        assert (model.events["purchased_at"] < split.validation_start).all()
        return model.recommend(customers.head(40))

    clean = fit(split.train, orders.loc[orders["purchased_at"] < split.validation_start])
    pd.testing.assert_frame_equal(fit(interactions, orders), clean)


def test_the_two_tower_is_refit_when_next_purchase_held_out_more_than_a_sliver(result, marts):
    interactions = object_ids(marts["user_item_interactions"])
    held_out = 1 - len(split_next_purchase(interactions).train) / len(interactions)
    assert held_out >= CONFIG.reuse_held_out_share  # a fifth of the customers come back
    assert result.chosen["refit"] == "refit on all interactions"


def test_a_next_purchase_network_that_held_out_a_sliver_is_published_without_a_third_training(marts, monkeypatch):
    trainings = []
    train = two_tower.fit_two_tower
    monkeypatch.setattr(
        two_tower, "fit_two_tower", lambda *args, **kwargs: trainings.append(1) or train(*args, **kwargs)
    )
    config = dataclasses.replace(
        CONFIG, exclude_candidates=tuple(ALL_CANDIDATES - {"two_tower"}), reuse_held_out_share=1.0
    )
    interactions = marts["user_item_interactions"]
    reused = train_and_evaluate(interactions, marts["customer_rfm"], marts["products"], marts["orders"], config)
    assert len(trainings) == 2  # time-window validation and next purchase; no refit
    assert reused.chosen["refit"].startswith("next-purchase network rebased")
    network = reused.model.network
    # Rebased: it scores as of the end of the data, with every purchase in the customers' histories.
    assert network.reference_time == pd.Timestamp(reused.split["end"])
    assert network.events["purchased_at"].max() == purchase_events(interactions)["purchased_at"].max()
    assert reused.recommend(marts["customer_rfm"].head(20))["customer_unique_id"].nunique() == 20


def test_mask_dropout_repeats_with_its_generator_keeps_the_expected_share_and_is_off_in_eval():
    def masked(seed: int) -> torch.Tensor:
        dropout = MaskDropout(0.25).train()
        dropout.generator = np.random.default_rng(seed)
        return dropout(torch.ones(400, 500))

    first = masked(3)
    assert torch.equal(first, masked(3)) and not torch.equal(first, masked(4))
    kept = first > 0
    assert abs(kept.float().mean().item() - 0.75) < 0.01
    # Kept units are scaled so that the expectation is unchanged.
    assert first[kept].unique().tolist() == pytest.approx([1 / 0.75])
    assert torch.equal(MaskDropout(0.25).eval()(first), first)


def test_classes_that_registered_pickles_name_still_import_from_their_old_module():
    """Versions registered before the split pickled these as ml.recommender.model.<name>."""
    import ml.recommender.model as old
    from ml.recommender.encoder import FeatureEncoder
    from ml.recommender.network import MaskDropout, TwoTowerNet
    from ml.recommender.prior import PopularityPrior
    from ml.recommender.scorer import TwoTowerRecommender

    for cls in (FeatureEncoder, MaskDropout, TwoTowerNet, PopularityPrior, TwoTowerRecommender):
        assert getattr(old, cls.__name__) is cls
