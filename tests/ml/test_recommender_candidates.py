"""Each recommender candidate on tiny hand-computed cases, the selection rule, and data shapes
that used to crash the run (a 10-product shop)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from ml.recommender import RecommenderConfig, train_and_evaluate
from ml.recommender.candidates import Als, Ease, FitData, GlobalPopularity, ItemKnn, RecentPopularity
from ml.recommender.candidates.base import (
    TIE_BREAK_SCALE,
    RankCalibrator,
    support_top_k_frame,
    tie_break,
    top_k_frame,
)
from ml.recommender.candidates.ease import ease_weights
from ml.recommender.candidates.item_knn import cosine_similarity
from ml.recommender.registered import RegisteredRecommender
from ml.recommender.selection import choose, sampled_negatives_possible
from ml.recommender.serving import realtime_scorer

BOUNDARY = pd.Timestamp("2018-03-01")


def _interactions(pairs: list[tuple[str, str, str]]) -> pd.DataFrame:
    """(customer, product, first purchase day) -> rows of the interactions mart, one purchase each."""
    frame = pd.DataFrame(pairs, columns=["customer_unique_id", "product_id", "day"])
    when = pd.to_datetime(frame.pop("day"))
    return frame.assign(
        category="toys",
        purchase_count=1,
        quantity=1,
        spend=10.0,
        first_purchased_at=when,
        last_purchased_at=when,
    )


def _data(known: pd.DataFrame, products: list[str], recent_days: int = 30) -> FitData:
    catalog = pd.DataFrame({"product_id": sorted(products), "category": "toys"})
    return FitData(known, BOUNDARY, catalog, pd.Series(dtype="object"), None, recent_days)


# c1 and c2 bought a and b; c3 bought a and c; d was never bought.
TINY = _interactions(
    [
        ("c1", "a", "2018-01-10"),
        ("c1", "b", "2018-01-11"),
        ("c2", "a", "2018-02-20"),
        ("c2", "b", "2018-02-21"),
        ("c3", "a", "2018-02-25"),
        ("c3", "c", "2018-02-26"),
    ]
)
PRODUCTS = ["a", "b", "c", "d"]


def test_item_knn_is_cosine_with_shrinkage():
    data = _data(TINY, PRODUCTS)
    for shrink in (0.0, 10.0):
        fitted = ItemKnn().fit(data, {"shrink": shrink})
        # buyers: a 3, b 2, c 1; co-buyers: (a, b) 2, (a, c) 1, (b, c) 0.
        expected_ab, expected_ac = 2 / (math.sqrt(6) + shrink), 1 / (math.sqrt(3) + shrink)
        scores = fitted.score_history(np.array([0]))  # a customer who bought a
        assert scores[1] == pytest.approx(expected_ab, abs=2 * TIE_BREAK_SCALE)
        assert scores[2] == pytest.approx(expected_ac, abs=2 * TIE_BREAK_SCALE)
        assert scores[3] < TIE_BREAK_SCALE  # never bought with a: only the tie-break
    similarity = cosine_similarity(fitted.history, 0.0).toarray()
    assert np.allclose(np.diag(similarity), 0) and np.allclose(similarity, similarity.T)


def test_ease_is_the_closed_form_with_a_zero_diagonal():
    matrix = np.array([[1, 1, 0], [1, 1, 0], [1, 0, 1]], dtype=float)
    from scipy import sparse

    weights = ease_weights(sparse.csr_matrix(matrix), regularization=1.0)
    inverse = np.linalg.inv(matrix.T @ matrix + np.eye(3))
    expected = -inverse / np.diag(inverse)[None, :]
    np.fill_diagonal(expected, 0.0)
    assert np.allclose(weights, expected, rtol=1e-5, atol=1e-6)
    # Fitted through the candidate: a customer with a gets b (bought with a twice) above c (once).
    fitted = Ease(regularizations=(1.0,)).fit(_data(TINY, PRODUCTS), {"regularization": 1.0})
    scores = fitted.score_history(np.array([0]))
    assert scores[1] > scores[2]
    assert fitted.params["items_modelled"] == 3  # d was never bought


def test_ease_models_only_the_most_bought_items_above_its_size_rule():
    fitted = Ease(max_items=2).fit(_data(TINY, PRODUCTS), {"regularization": 1.0})
    assert fitted.params["items_modelled"] == 2
    assert list(fitted.model.columns) == [0, 1]  # a and b, the two most bought


def test_popularity_counts_distinct_buyers_all_time_and_recently():
    data = _data(TINY, PRODUCTS)
    overall = GlobalPopularity().fit(data, {}).scorer()
    assert np.argsort(-overall, kind="stable")[:3].tolist() == [0, 1, 2]  # a 3 buyers, b 2, c 1
    # In the last 10 days only c2 and c3 bought: a 2, b 1, c 1 (c ties with b, broken by all-time buyers).
    recent = RecentPopularity((10,)).fit(data, {"days": 10}).scorer()
    assert recent[0] > recent[1] > recent[2] > recent[3]
    assert math.floor(recent[1]) == 1 and math.floor(recent[2]) == 1


def test_als_ranks_within_the_block_a_customer_bought_from():
    pairs = [(f"u{i}", f"p{j}", "2018-02-01") for i in range(20) for j in range(4) if (i + j) % 4 != 0]
    pairs += [(f"v{i}", f"q{j}", "2018-02-01") for i in range(20) for j in range(4) if (i + j) % 4 != 0]
    known = _interactions(pairs)
    products = sorted({p for _, p, _ in pairs})
    fitted = Als(settings=({"factors": 4, "regularization": 0.01, "alpha": 10.0},), threads=1).fit(
        _data(known, products), {"factors": 4, "regularization": 0.01, "alpha": 10.0}
    )
    scores = fitted.score_history(np.array([products.index("p1")]))
    best = [products[i] for i in np.argsort(-scores)[:4]]
    assert set(best) == {"p0", "p1", "p2", "p3"}
    users, items = fitted.embeddings(pd.Index(["u1", "never-seen"]))
    assert np.allclose(users.iloc[1, 1:5].to_numpy(dtype=float), 0)  # no history, no factors
    assert list(items["product_id"]) == products


def test_tie_break_orders_ties_by_popularity_and_changes_no_other_order():
    popularity = np.array([5.0, 1.0, 3.0])
    breaker = tie_break(popularity)
    assert breaker[0] > breaker[2] > breaker[1] and breaker.max() < TIE_BREAK_SCALE
    scores = np.array([0.2, 0.2 + 1e-6, 0.0]) + breaker
    assert np.argsort(-scores).tolist() == [1, 0, 2]


def test_rank_calibrator_is_monotone_in_rank():
    recommendations = pd.DataFrame(
        {"customer_unique_id": ["x", "x", "y", "y"], "product_id": ["a", "b", "a", "b"], "rank": [1, 2, 1, 2]}
    )
    held_out = pd.DataFrame({"customer_unique_id": ["x", "y"], "product_id": ["a", "b"]})
    calibrator = RankCalibrator().fit(recommendations, held_out)
    assert calibrator.predict(np.array([1, 2, 5])).tolist() == pytest.approx([0.5, 0.5, 0.5])
    held_out = pd.DataFrame({"customer_unique_id": ["x", "y"], "product_id": ["a", "a"]})
    calibrator = RankCalibrator().fit(recommendations, held_out)
    assert calibrator.predict(np.array([1, 2])).tolist() == pytest.approx([1.0, 0.0])


def test_a_model_rebased_onto_a_larger_catalogue_scores_new_products_at_zero():
    fitted = ItemKnn().fit(_data(TINY, PRODUCTS), {"shrink": 0.0})
    rebased = fitted.rebased(_data(TINY, [*PRODUCTS, "aa-new"]))
    before = fitted.score_history(np.array([0]))
    after = rebased.score_history(np.array([rebased.catalog_ids.get_loc("a")]))
    positions = rebased.catalog_ids.get_indexer(PRODUCTS)
    assert np.allclose(after[positions], before, atol=2 * TIE_BREAK_SCALE)
    assert after[rebased.catalog_ids.get_loc("aa-new")] < TIE_BREAK_SCALE
    # Rebased again, onto a catalogue without c: from the learned model, not the reindexed one.
    again = rebased.rebased(_data(TINY.loc[TINY["product_id"] != "c"], ["a", "b", "d", "aa-new"]))
    scores = again.score_history(np.array([again.catalog_ids.get_loc("a")]))
    assert scores[again.catalog_ids.get_loc("b")] == pytest.approx(before[1], abs=2 * TIE_BREAK_SCALE)


def test_a_product_the_model_never_saw_ranks_below_every_scored_one():
    fitted = Ease(regularizations=(1.0,)).fit(_data(TINY, PRODUCTS), {"regularization": 1.0})
    rebased = fitted.rebased(_data(TINY, [*PRODUCTS, "aa-new"]))
    scores = rebased.score_history(np.array([rebased.catalog_ids.get_loc("b")]))
    new = rebased.catalog_ids.get_loc("aa-new")
    assert scores.min() < 0  # EASE scores some items below zero ...
    assert scores[new] <= np.delete(scores, new).min() + TIE_BREAK_SCALE  # ... and a new product lower still


def test_selection_takes_the_best_and_gives_a_tie_to_the_simpler():
    simplicity = {"global_popularity": 0, "item_knn": 2, "ease": 3}
    table = pd.DataFrame(
        {"candidate": ["global_popularity", "item_knn", "ease"], "validation_hr_at_10": [0.10, 0.12, 0.11]}
    )
    assert choose(table, simplicity)[0] == "item_knn"
    tied = table.assign(validation_hr_at_10=[0.12, 0.12, 0.11])
    name, reason = choose(tied, simplicity)
    assert name == "global_popularity" and "tied with item_knn" in reason
    # Equal HR@10, told apart by NDCG@10 (a 10-product shop: every HR@10 is 1).
    ranked = tied.assign(validation_ndcg_at_10=[0.50, 0.70, 0.10])
    name, reason = choose(ranked, simplicity)
    assert name == "item_knn" and "ahead on validation_ndcg_at_10" in reason
    # A candidate that stepped aside has no figure and cannot be chosen.
    assert choose(table.assign(validation_hr_at_10=[np.nan, np.nan, 0.01]), simplicity)[0] == "ease"


def test_a_lead_within_one_standard_error_goes_to_the_simpler_candidate():
    simplicity = {"global_popularity": 0, "item_knn": 2, "two_tower": 5}
    customers = 400
    # Per-customer hit@10 on the same 400 validation customers (NDCG@10 = hit / 2, to keep it short).
    base = np.zeros(customers)
    base[:40] = 1  # global popularity: 40 hits
    close = base.copy()
    close[40:46], close[:4] = 1, 0  # the network: 6 hits more, 4 fewer: a paired lead of 0.005, standard error 0.0079
    far = base.copy()
    far[40:80] = 1  # item-kNN: 40 more hits, a paired lead of 0.1 with standard error 0.015

    def table_of(figures):
        return pd.DataFrame(
            {
                "candidate": list(figures),
                "validation_hr_at_10": [hits.mean() for hits, _ in figures.values()],
                "validation_ndcg_at_10": [ndcg.mean() for _, ndcg in figures.values()],
            }
        )

    near = {"global_popularity": (base, base / 2), "two_tower": (close, close / 2)}
    name, reason = choose(table_of(near), simplicity, figures=near)
    assert name == "global_popularity"
    assert "within one standard error of the best, two_tower" in reason and "0.0050 HR@10" in reason
    # Without the per-customer figures the best figure wins, as before.
    assert choose(table_of(near), simplicity)[0] == "two_tower"
    # A lead beyond the noise stands.
    clear = {"global_popularity": (base, base / 2), "item_knn": (far, far / 2)}
    assert choose(table_of(clear), simplicity, figures=clear)[0] == "item_knn"
    # Equal on HR@10, the network clearly better ranked (NDCG@10): it stands too.
    ranked_better = {"global_popularity": (base, base * 0.3), "two_tower": (base, base * 0.9)}
    assert choose(table_of(ranked_better), simplicity, figures=ranked_better)[0] == "two_tower"


def _small_shop(products: int = 10, customers: int = 400, seed: int = 3) -> dict[str, pd.DataFrame]:
    """A shop with ``products`` items over 200 days; tastes by customer group, so history informs."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2018-01-01")
    rows = []
    for customer in range(customers):
        liked = rng.permutation(products)[: max(2, products // 3)]
        for product in rng.choice(liked, size=rng.integers(1, len(liked) + 1), replace=False):
            rows.append((f"c{customer:04d}", f"p{product:02d}", start + pd.Timedelta(days=int(rng.integers(0, 200)))))
    interactions = _interactions([(c, p, str(day.date())) for c, p, day in rows])
    customer_ids = sorted(interactions["customer_unique_id"].unique())
    return {
        "interactions": interactions,
        "customers": pd.DataFrame({"customer_unique_id": customer_ids, "customer_state": "SP"}),
        "products": pd.DataFrame({"product_id": [f"p{i:02d}" for i in range(products)], "category": "toys"}),
    }


def test_a_ten_product_shop_gets_recommendations_with_the_sampled_protocol_stepping_aside():
    shop = _small_shop()
    config = RecommenderConfig(test_days=30, validation_days=30, max_epochs=1, threads=1)
    result = train_and_evaluate(shop["interactions"], shop["customers"], shop["products"], None, config)
    assert "sampled_100" in result.not_applicable and "10 items" in result.not_applicable["sampled_100"]
    assert "next_purchase_sampled_100" in result.not_applicable
    assert set(result.metrics["protocol"]) == {"full_catalog", "next_purchase_full_catalog"}
    statuses = result.candidates.set_index("candidate")["status"]
    assert statuses["two_tower"] == "stepped_aside"  # 10 items x 400 customers is too little for a network
    assert "too few interactions" in result.candidates.set_index("candidate").loc["two_tower", "reason"]
    assert (statuses.drop("two_tower") != "failed").all()
    table = result.recommend(shop["customers"], top_k=10)
    owned = shop["interactions"].groupby("customer_unique_id").size()
    per_customer = table.groupby("customer_unique_id").size()
    # Every product a customer has not bought is listed, and nothing more.
    assert (per_customer == (10 - owned.reindex(per_customer.index))).all()


def test_sampled_protocol_applies_only_with_enough_never_bought_items():
    history = _interactions([("x", f"p{i}", "2018-01-01") for i in range(5)])
    held_out = _interactions([("x", "p9", "2018-03-05")])
    assert sampled_negatives_possible(history, held_out, 105, 99) is None
    assert "fewer than 99" in sampled_negatives_possible(history, held_out, 104, 99)


def test_a_failing_candidate_is_reported_and_the_others_go_on():
    class Broken(ItemKnn):
        name = family = "broken"
        simplicity = 9

        def fit(self, data, params):
            raise RuntimeError("out of memory, say")

    shop = _small_shop(products=30)
    config = RecommenderConfig(test_days=30, validation_days=30, threads=1)
    result = train_and_evaluate(
        shop["interactions"], shop["customers"], shop["products"], None, config,
        candidates=[GlobalPopularity(), ItemKnn(), Broken()],
    )  # fmt: skip
    row = result.candidates.set_index("candidate").loc["broken"]
    assert row["status"] == "failed" and "out of memory" in row["reason"]
    assert result.chosen_name in ("global_popularity", "item_knn")
    registered = RegisteredRecommender.from_result(result)
    champion = registered.for_data(shop["interactions"], shop["customers"], shop["products"])
    answer, cold = realtime_scorer(champion, shop["customers"]).recommend("never-seen", "SP", [], 3)
    assert cold and len(answer) == 3


class _FailsOn(ItemKnn):
    """item-kNN that raises on some folds; simpler than item-kNN, so that it wins every tie."""

    name = family = "fragile"
    simplicity = -1

    def __init__(self, fails) -> None:
        super().__init__()
        self.fails = fails

    def fit(self, data, params):
        if self.fails(data):
            raise RuntimeError("cannot fit this fold")
        return super().fit(data, params)


def test_a_candidate_without_a_time_window_model_is_never_chosen():
    shop = _small_shop(products=30)
    end = shop["interactions"]["last_purchased_at"].max().normalize() + pd.Timedelta(days=1)
    fragile = _FailsOn(lambda data: data.boundary < end)  # fails on the time window only
    # A small shop: let the per-customer protocol decide all the same.
    config = RecommenderConfig(test_days=30, validation_days=30, threads=1, next_purchase_selection_min_customers=20)
    result = train_and_evaluate(
        shop["interactions"], shop["customers"], shop["products"], None, config, candidates=[ItemKnn(), fragile]
    )
    assert result.split["selection_protocol"] == "next_purchase"
    table = result.candidates.set_index("candidate")
    # It ties item-kNN on the per-customer protocol and is simpler, yet promotion could not score it.
    assert (
        table.loc["fragile", "next_purchase_validation_hr_at_10"]
        == table.loc["item_knn", "next_purchase_validation_hr_at_10"]
    )
    assert table.loc["fragile", "status"] == "failed"
    assert result.chosen_name == "item_knn"


def test_next_purchase_decides_only_with_as_many_customers_as_the_time_window():
    shop = _small_shop(products=30)
    config = RecommenderConfig(
        test_days=30, validation_days=30, threads=1, next_purchase_selection_min_customers=20,
        exclude_candidates=("two_tower", "als", "ease"),
    )  # fmt: skip
    decided = train_and_evaluate(shop["interactions"], shop["customers"], shop["products"], None, config)
    assert decided.split["selection_protocol"] == "next_purchase"
    # Many one-time buyers in the validation window: the time window now covers more customers.
    end = shop["interactions"]["last_purchased_at"].max()
    newcomers = _interactions(
        [(f"n{i:04d}", f"p{i % 30:02d}", str((end - pd.Timedelta(days=40 + i % 15)).date())) for i in range(2_000)]
    )
    interactions = pd.concat([shop["interactions"], newcomers], ignore_index=True)
    customers = pd.DataFrame({"customer_unique_id": sorted(interactions["customer_unique_id"].unique())})
    result = train_and_evaluate(interactions, customers.assign(customer_state="SP"), shop["products"], None, config)
    assert result.split["selection_protocol"] == "time_window"
    assert "fewer than the time window's" in result.chosen_reason


def test_a_candidate_failing_on_the_test_fold_is_reported_and_not_chosen():
    shop = _small_shop(products=30)
    fragile = _FailsOn(lambda data: data.validation is None)  # every test-fold and final fit
    config = RecommenderConfig(test_days=30, validation_days=30, threads=1, protocols=("time_window",))
    result = train_and_evaluate(
        shop["interactions"], shop["customers"], shop["products"], None, config, candidates=[ItemKnn(), fragile]
    )
    row = result.candidates.set_index("candidate").loc["fragile"]
    assert row["status"] == "failed" and "[time_window] on the test fold" in row["reason"]
    assert pd.notna(row["validation_hr_at_10"]) and pd.isna(row["test_hr_at_10"])
    assert "fragile" in set(result.validation_metrics["model"])  # its validation figures are still reported
    assert result.chosen_name == "item_knn"


def test_a_popularity_champion_gives_co_purchase_neighbours_as_similar_items():
    fitted = GlobalPopularity().fit(_data(TINY, PRODUCTS), {})
    similarity = realtime_scorer(fitted, pd.DataFrame({"customer_unique_id": []})).similarity(0)
    # a's co-buyers: b (2 of a's 3 buyers, b has 2) and c (1; c has 1); d none.
    assert similarity.tolist() == pytest.approx([1.0, 2 / math.sqrt(6), 1 / math.sqrt(3), 0.0])


def test_configuration_can_leave_candidates_out():
    shop = _small_shop(products=30)
    config = dataclasses.replace(
        RecommenderConfig(test_days=30, validation_days=30, threads=1),
        exclude_candidates=("two_tower", "als", "ease"),
    )
    result = train_and_evaluate(shop["interactions"], shop["customers"], shop["products"], None, config)
    assert set(result.candidates["candidate"]) == {"global_popularity", "recent_popularity", "item_knn"}


def _random_shop(customers: int, products: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for customer in range(customers):
        # Most customers buy one or two items from a small popular head, a few buy many.
        count = int(rng.choice([1, 1, 2, 3, 12]))
        bought = rng.choice(products, size=min(count, products), replace=False, p=_zipf(products))
        rows += [(f"c{customer:04d}", f"p{item:03d}", f"2018-02-{1 + customer % 27:02d}") for item in bought]
    return _interactions(rows)


def _zipf(size: int) -> np.ndarray:
    weights = 1.0 / np.arange(1, size + 1)
    return weights / weights.sum()


@pytest.mark.parametrize("exclude_bought", [True, False])
def test_lists_ranked_from_the_score_support_equal_the_dense_ranking(exclude_bought):
    known = _random_shop(customers=300, products=60, seed=5)
    products = sorted(known["product_id"].unique()) + ["p900", "p901"]  # two never bought
    data = _data(known, products)
    customers = pd.Index([*sorted(known["customer_unique_id"].unique()), "nobody"])
    models = [
        ItemKnn().fit(data, {"shrink": 10.0}),
        Ease(max_items=20).fit(data, {"regularization": 10.0}),  # 20 of 60 items modelled
        Ease().fit(data, {"regularization": 10.0}),  # every bought item modelled, negative scores
    ]
    # Rebased onto a catalogue that lost two products and gained two: the reindexed model.
    gone = products[:2]
    wider = _data(known.loc[~known["product_id"].isin(gone)], [p for p in products if p not in gone] + ["p950", "p951"])
    models += [model.rebased(wider) for model in models]
    for model in models:
        assert getattr(model.model, "score_support", None) is not None, model.name
        sparse_lists = model.recommend(customers, top_k=10, exclude_bought=exclude_bought)
        dense = model.model
        model.model = _DenseOnly(dense)
        dense_lists = model.recommend(customers, top_k=10, exclude_bought=exclude_bought)
        model.model = dense
        pd.testing.assert_frame_equal(sparse_lists, dense_lists)
        assert len(dense_lists) == 10 * len(customers)


def test_support_ranking_takes_unscored_items_in_tie_break_order_past_every_exclusion():
    """Few stored scores per row, some negative, many exclusions: the head of the tie-break
    order must reach past every column a block touches."""
    from scipy import sparse

    rng = np.random.default_rng(11)
    customers, catalogue = 40, 500
    support = sparse.random(customers, catalogue, density=0.004, random_state=3, format="csr")
    support.data = rng.normal(0.0, 1.0, support.nnz)
    tie_breaker = tie_break(rng.poisson(3.0, catalogue).astype("float64"))
    # Each row excludes a run of the items the tie-break ranks first, and a few others.
    best = np.argsort(-tie_breaker, kind="stable")
    pairs = [(row, column) for row in range(customers) for column in best[row % 7 : row % 7 + 8]]
    pairs += [(row, int(column)) for row in range(customers) for column in rng.choice(catalogue, 2)]
    excluded = (
        sparse.coo_matrix((np.ones(len(pairs)), tuple(np.array(pairs).T)), shape=(customers, catalogue)).tocsr().tocoo()
    )
    ids = pd.Index([f"c{i:02d}" for i in range(customers)])
    catalog_ids = pd.Index([f"p{i:03d}" for i in range(catalogue)])

    def rows(chunk):
        return ids.get_indexer(chunk)

    def excluded_in(chunk):
        keep = np.isin(excluded.row, rows(chunk))
        local = pd.Index(rows(chunk)).get_indexer(excluded.row[keep])
        return local.astype("int64"), excluded.col[keep].astype("int64")

    def dense(chunk):
        return support[rows(chunk)].toarray() + tie_breaker

    got = support_top_k_frame(lambda chunk: support[rows(chunk)], tie_breaker, ids, catalog_ids, excluded_in, 10)
    want = top_k_frame(dense, ids, catalog_ids, excluded_in, 10)
    pd.testing.assert_frame_equal(got, want)


def test_evaluation_from_sparse_scores_equals_the_dense_evaluation():
    from ml.recommender.evaluation import EvaluationTask, SupportScorer, run_scorer

    known = _random_shop(customers=300, products=80, seed=8)
    later = _random_shop(customers=300, products=80, seed=9)
    products = sorted(set(known["product_id"]) | set(later["product_id"]))
    data = _data(known, products)
    bought = pd.MultiIndex.from_frame(known[["customer_unique_id", "product_id"]])
    held_out = later.loc[~pd.MultiIndex.from_frame(later[["customer_unique_id", "product_id"]]).isin(bought)]
    task = EvaluationTask.build(known, held_out, data.catalog_ids, negatives=20, seed=1)
    for model in (ItemKnn().fit(data, {"shrink": 10.0}), Ease(max_items=25).fit(data, {"regularization": 10.0})):
        scorer = model.scorer(task.customers)
        assert isinstance(scorer, SupportScorer)
        sparse_run, dense_run = run_scorer(task, scorer), run_scorer(task, model.score)
        pd.testing.assert_frame_equal(sparse_run.recommendations, dense_run.recommendations)
        assert sparse_run.ranks.tolist() == dense_run.ranks.tolist()
        assert (dense_run.ranks > 1).any() and (dense_run.ranks == 1).any()


@dataclasses.dataclass
class _DenseOnly:
    """An item model without ``score_support``: forces the dense ranking."""

    inner: object

    def score_rows(self, history):
        return self.inner.score_rows(history)


def test_dot_product_candidates_step_aside_above_the_dense_scoring_size_rule():
    from ml.recommender.candidates import TwoTower
    from ml.recommender.candidates.base import DENSE_SCORING_LIMIT, DataShape

    def shape(customers: int, catalogue: int) -> DataShape:
        return DataShape(customers, catalogue, catalogue, 10 * customers, 0.1, 365)

    two_tower = TwoTower(RecommenderConfig())
    side = DENSE_SCORING_LIMIT // 100_000
    assert Als().applies_to(shape(100_000, side)) is None
    assert two_tower.applies_to(shape(100_000, side)) is None
    for candidate in (Als(), two_tower):
        reason = candidate.applies_to(shape(100_000, side + 1))
        assert reason is not None and "size rule" in reason
    # Item-kNN and EASE^R rank from sparse scores: no such limit.
    assert ItemKnn().applies_to(shape(850_000, 313_000)) is None
    assert Ease().applies_to(shape(850_000, 313_000)) is None


def test_a_candidate_evaluated_beside_the_others_gives_the_same_outcome():
    class Beside(ItemKnn):
        name = family = "beside"
        simplicity = 5
        beside_others = True

    class BrokenBeside(Beside):
        name = family = "broken_beside"

        def fit(self, data, params):
            raise RuntimeError("cannot fit beside")

    class InLine(Beside):
        beside_others = False

    shop = _small_shop(products=30)
    config = RecommenderConfig(test_days=30, validation_days=30, threads=1)
    results = [
        train_and_evaluate(
            shop["interactions"],
            shop["customers"],
            shop["products"],
            None,
            config,
            candidates=[GlobalPopularity(), ItemKnn(), first, second],
        )  # fmt: skip
        for first, second in ((Beside(), BrokenBeside()), (InLine(), _FailsOn(lambda data: True)))
    ]
    beside, in_line = (result.candidates.set_index("candidate") for result in results)
    assert (
        beside.loc["broken_beside", "status"] == "failed"
        and "cannot fit beside" in beside.loc["broken_beside", "reason"]
    )
    figures = [column for column in beside.columns if column.endswith(("hr_at_10", "ndcg_at_10"))]
    assert beside.loc["beside", figures].notna().all()
    pd.testing.assert_frame_equal(
        beside.loc[["global_popularity", "item_knn", "beside"], figures],
        in_line.loc[["global_popularity", "item_knn", "beside"], figures],
    )
    assert list(results[0].candidates["candidate"]) == ["global_popularity", "item_knn", "beside", "broken_beside"]
    assert set(results[0].seconds) >= {"time_window.validation.beside", "time_window.test.beside"}


def test_a_candidate_beside_the_others_trains_on_the_same_threads_however_fast_they_are():
    # torch splits its reductions by thread count, so a plan that followed the others' progress
    # would make the two-tower's figures depend on timing (ml/recommender/cores.py).
    import threading
    import time

    from ml.recommender.cores import machine_cores, training_threads

    class Beside(ItemKnn):
        name = family = "beside"
        simplicity = 5
        beside_others = True

        def __init__(self, late: bool) -> None:
            super().__init__()
            self.late, self.plan = late, []

        def fit(self, data, params):
            if self.late and not self.plan:
                others_nearly_done.wait(timeout=30)
                time.sleep(0.5)  # the others finish while this one waits
            self.plan.append(training_threads())
            return super().fit(data, params)

    class Slow(ItemKnn):
        name = family = "slow"

        def __init__(self, pause: float) -> None:
            super().__init__()
            self.pause = pause

        def fit(self, data, params):
            time.sleep(self.pause)
            others_nearly_done.set()
            return super().fit(data, params)

    shop = _small_shop(products=30)
    config = RecommenderConfig(test_days=30, validation_days=30)
    plans = []
    for late, pause in ((False, 0.3), (True, 0.0)):
        others_nearly_done = threading.Event()
        beside = Beside(late)
        result = train_and_evaluate(
            shop["interactions"], shop["customers"], shop["products"], None, config, candidates=[beside, Slow(pause)]
        )
        assert (result.candidates["status"] != "failed").all()
        plans.append(beside.plan)
    cores = machine_cores()
    first_protocol = len(ItemKnn().grid()) + 1  # the grid on validation, then the test fit
    assert len(plans[0]) > first_protocol  # the other protocol ran too
    assert plans[0] == plans[1] == [max(1, cores - 1)] * first_protocol + [cores] * (len(plans[0]) - first_protocol)
