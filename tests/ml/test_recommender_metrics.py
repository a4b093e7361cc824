"""Recommender metrics against hand-computed cases (tiny frames, no model)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from ml.recommender.evaluation import (
    EvaluationTask,
    ModelRun,
    compare_to_baselines,
    customer_figures,
    metrics_table,
    recall_at_k,
    run_scorer,
)
from ml.recommender.metrics import (
    expected_calibration_error,
    paired_bootstrap,
    per_customer_metrics,
    ranking_metrics,
    sample_negatives,
    sampled_metrics,
    sampled_ranks,
    top_k_positions,
)


def frame(rows: list[tuple]) -> pd.DataFrame:
    columns = ["customer_unique_id", "product_id", "rank"][: len(rows[0])]
    return pd.DataFrame(rows, columns=columns)


def test_full_catalog_metrics_by_hand():
    recommendations = frame(
        [
            ("a", "p1", 1), ("a", "p2", 2), ("a", "p3", 3),
            ("b", "p4", 1), ("b", "p5", 2), ("b", "p1", 3),
            ("c", "p1", 1), ("c", "p2", 2), ("c", "p3", 3),
            ("z", "p9", 1),  # not held out: ignored, also for coverage
        ]
    )  # fmt: skip
    held_out = frame([("a", "p1"), ("b", "p1"), ("b", "p5"), ("c", "p7")])
    result = ranking_metrics(recommendations, held_out, catalog_size=10, k=3)
    # a: hit at 1. b: hits at 2 and 3 of two relevant. c: no hit.
    ndcg_b = (1 / math.log2(3) + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    assert result["customers"] == 3
    assert result["hr_at_1"] == pytest.approx(1 / 3)
    assert result["hr_at_3"] == pytest.approx(2 / 3)
    assert result["mrr_at_3"] == pytest.approx((1 + 1 / 2 + 0) / 3)
    assert result["ndcg_at_3"] == pytest.approx((1 + ndcg_b + 0) / 3)
    assert result["catalog_coverage"] == pytest.approx(5 / 10)  # p1..p5


def test_full_catalog_metrics_cut_at_k_and_count_missing_customers_as_misses():
    recommendations = frame([("a", "p1", 1), ("a", "p2", 2)])
    held_out = frame([("a", "p2"), ("b", "p1")])
    result = ranking_metrics(recommendations, held_out, catalog_size=4, k=1)
    assert result["hr_at_1"] == 0.0
    assert result["mrr_at_1"] == 0.0
    assert result["catalog_coverage"] == pytest.approx(1 / 4)
    result = ranking_metrics(recommendations, held_out, catalog_size=4, k=2)
    assert result["hr_at_2"] == pytest.approx(1 / 2)
    assert result["ndcg_at_2"] == pytest.approx((1 / math.log2(3)) / 2)
    with pytest.raises(ValueError, match="empty"):
        ranking_metrics(recommendations, held_out.iloc[:0], catalog_size=4)


def test_sampled_ranks_break_ties_like_a_top_k_list():
    targets = np.array([0.5, 0.5, 0.9])
    negatives = np.array([[0.7, 0.5, 0.1], [0.5, 0.5, 0.2], [0.1, 0.2, 0.3]])
    # Positions: the tie with a smaller catalogue position ranks above the target.
    ranks = sampled_ranks(targets, negatives, np.array([5, 5, 0]), np.array([[1, 2, 3], [9, 8, 1], [1, 2, 3]]))
    assert ranks.tolist() == [3, 1, 1]
    assert sampled_ranks(targets, negatives).tolist() == [3, 3, 1]  # pessimistic without positions


def test_sampled_metrics_by_hand():
    result = sampled_metrics([1, 3, 11, 10], k=10)
    assert result["pairs"] == 4
    assert result["hr_at_1"] == pytest.approx(0.25)
    assert result["hr_at_10"] == pytest.approx(0.75)
    assert result["mrr_at_10"] == pytest.approx((1 + 1 / 3 + 0 + 1 / 10) / 4)
    assert result["ndcg_at_10"] == pytest.approx((1 + 1 / math.log2(4) + 0 + 1 / math.log2(11)) / 4)
    with pytest.raises(ValueError):
        sampled_metrics([0, 1])


def test_sampled_negatives_avoid_excluded_items_and_repeat_for_a_seed():
    excluded = [np.array([0, 1, 2]), np.array([], dtype="int64"), np.arange(0, 190)]
    first = sample_negatives(200, excluded, negatives=10, seed=3)
    assert first.shape == (3, 10)
    for row, banned in zip(first, excluded, strict=True):
        assert len(set(row)) == 10
        assert not set(row) & set(banned)
        assert ((row >= 0) & (row < 200)).all()
    assert (first == sample_negatives(200, excluded, negatives=10, seed=3)).all()
    assert not (first == sample_negatives(200, excluded, negatives=10, seed=4)).all()
    with pytest.raises(ValueError, match="fewer than"):
        sample_negatives(200, [np.arange(195)], negatives=10)


def test_expected_calibration_error_by_hand():
    probability = np.array([0.1, 0.1, 0.3, 0.3])
    outcome = np.array([0.0, 0.0, 1.0, 0.0])
    # Two equal-count bins: |0.1 - 0| and |0.3 - 0.5|, each half of the pairs.
    result = expected_calibration_error(probability, outcome, bins=2)
    assert result["ece"] == pytest.approx(0.5 * 0.1 + 0.5 * 0.2)
    assert result["mean_probability"] == pytest.approx(0.2)
    assert result["observed_rate"] == pytest.approx(0.25)
    assert expected_calibration_error(np.array([0.25] * 4), outcome, bins=1)["ece"] == pytest.approx(0.0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        expected_calibration_error(np.array([1.5]), np.array([1.0]))


def test_top_k_positions_ties_exclusions_and_padding():
    scores = np.array(
        [
            [0.2, 0.9, 0.9, 0.1],
            [-np.inf, 0.5, -np.inf, -np.inf],
            [1.0, 1.0, 1.0, 1.0],
        ]
    )
    assert top_k_positions(scores, 3).tolist() == [[1, 2, 0], [1, -1, -1], [0, 1, 2]]
    assert top_k_positions(scores, 6).shape == (3, 6)


def test_recall_at_k_averages_over_customers():
    recommendations = frame([("a", "p1", 1), ("a", "p2", 2), ("b", "p3", 1)])
    held_out = frame([("a", "p1"), ("a", "p9"), ("b", "p4"), ("c", "p1")])
    assert recall_at_k(recommendations, held_out, k=2) == pytest.approx((0.5 + 0 + 0) / 3)


def test_per_customer_metrics_match_the_means():
    recommendations = frame([("a", "p1", 1), ("a", "p2", 2), ("b", "p3", 1), ("b", "p4", 2)])
    held_out = frame([("a", "p2"), ("b", "p9"), ("c", "p1")])
    table = per_customer_metrics(recommendations, held_out, k=2)
    assert list(table.index) == ["a", "b", "c"]
    assert table["first_hit"].tolist()[0] == 2 and table["first_hit"].isna().tolist() == [False, True, True]
    assert table["ndcg"].tolist() == pytest.approx([1 / math.log2(3), 0.0, 0.0])
    overall = ranking_metrics(recommendations, held_out, catalog_size=9, k=2)
    assert overall["ndcg_at_2"] == pytest.approx(table["ndcg"].mean())


def test_paired_bootstrap_interval():
    rng = np.random.default_rng(1)
    base = rng.random(2_000)
    # A constant lead has a zero-width interval at the lead.
    exact = paired_bootstrap(base + 0.1, base, resamples=200)
    assert exact["difference"] == pytest.approx(0.1)
    assert exact["ci_low"] == pytest.approx(0.1) and exact["ci_high"] == pytest.approx(0.1)
    # Pure noise: the interval straddles zero and is about +-1.96 standard errors wide.
    noise = rng.normal(0, 1, 2_000)
    tie = paired_bootstrap(noise, np.zeros(2_000), resamples=2_000, seed=3)
    assert tie["ci_low"] < 0 < tie["ci_high"]
    assert tie["ci_high"] - tie["ci_low"] == pytest.approx(2 * 1.96 * noise.std() / math.sqrt(2_000), rel=0.1)
    # Same seed, same interval; mismatched inputs are refused.
    assert paired_bootstrap(noise, np.zeros(2_000), resamples=300, seed=3) == paired_bootstrap(
        noise, np.zeros(2_000), resamples=300, seed=3
    )
    with pytest.raises(ValueError, match="same length"):
        paired_bootstrap(noise, noise[:-1])


def test_compare_to_baselines_per_segment():
    catalog = pd.Index([f"p{i}" for i in range(120)])
    history = pd.DataFrame({"customer_unique_id": ["r1", "r2"], "product_id": ["p100", "p101"]})
    customers = ["r1", "r2", "n1", "n2"]
    held_out = pd.DataFrame({"customer_unique_id": customers, "product_id": ["p1", "p2", "p3", "p4"]})
    task = EvaluationTask.build(history, held_out, catalog, negatives=5)
    # "good" hits every customer at rank 1; "poor" only the repeat customer r1.
    good = ModelRun(held_out.assign(rank=1), np.ones(4, dtype="int64"))
    poor = ModelRun(frame([("r1", "p1", 1), ("r2", "p9", 1), ("n1", "p9", 1), ("n2", "p9", 1)]), np.ones(4))
    table = compare_to_baselines(task, {"good": good, "poor": poor}, "good", k=10, resamples=100)
    hr = table.loc[table["metric"] == "hr_at_10"].set_index("segment")
    assert set(table["baseline"]) == {"poor"}
    assert hr.loc["all", "difference"] == pytest.approx(3 / 4)
    assert hr.loc["repeat", "difference"] == pytest.approx(1 / 2)
    assert hr.loc["first_time", ["difference", "ci_low", "ci_high"]].tolist() == pytest.approx([1.0, 1.0, 1.0])
    assert hr.loc["all", ["model_value", "baseline_value"]].tolist() == pytest.approx([1.0, 1 / 4])


def test_shared_scores_rank_exactly_like_the_same_row_for_everyone():
    """The popularity baselines' shortcut: one vector ranked once gives what the dense path gives."""
    rng = np.random.default_rng(5)
    catalog = pd.Index([f"p{i:03d}" for i in range(300)])
    # Many ties (integers), a -inf item, and customers who bought up to 40 of the best items.
    item_scores = rng.integers(0, 12, catalog.size).astype("float64")
    item_scores[7] = -np.inf
    customers = [f"c{i}" for i in range(60)]
    best = catalog[np.lexsort((np.arange(catalog.size), -item_scores))]
    history = pd.DataFrame(
        [(customer, product) for i, customer in enumerate(customers[:40]) for product in best[: i + 1]],
        columns=["customer_unique_id", "product_id"],
    )
    held_out = pd.DataFrame({"customer_unique_id": customers, "product_id": list(best[-60:])})
    task = EvaluationTask.build(history, held_out, catalog, negatives=20, seed=2)
    shared = run_scorer(task, item_scores, k=10)
    dense = run_scorer(task, lambda ids: np.broadcast_to(item_scores, (len(ids), catalog.size)).copy(), k=10)
    pd.testing.assert_frame_equal(shared.recommendations, dense.recommendations)
    assert shared.ranks.tolist() == dense.ranks.tolist()
    # Nobody is offered what they bought, and the heaviest buyer still gets ten items.
    offered = shared.recommendations.merge(history, on=["customer_unique_id", "product_id"])
    assert offered.empty
    assert (shared.recommendations.groupby("customer_unique_id").size() == 10).all()
    with pytest.raises(ValueError, match="shape"):
        run_scorer(task, item_scores[:-1])


def test_top_k_positions_accepts_float32_tensors():
    scores = torch.tensor([[0.5, 2.0, 2.0, -float("inf")], [1.0, 0.0, 3.0, 2.0]], dtype=torch.float32)
    assert top_k_positions(scores, 3).tolist() == [[1, 2, 0], [2, 3, 0]]
    assert top_k_positions(scores.numpy(), 3).tolist() == [[1, 2, 0], [2, 3, 0]]


def test_top_k_positions_matches_a_plain_sort_on_tie_heavy_rows():
    rng = np.random.default_rng(0)
    for _ in range(200):
        rows, columns, k = int(rng.integers(1, 8)), int(rng.integers(1, 30)), int(rng.integers(1, 12))
        scores = rng.integers(0, 5, (rows, columns)).astype("float32")
        scores[rng.random((rows, columns)) < 0.2] = -np.inf
        expected = np.full((rows, k), -1)
        for row in range(rows):
            ranked = [column for column in sorted(range(columns), key=lambda c: (-scores[row, c], c))]
            ranked = [column for column in ranked if np.isfinite(scores[row, column])][:k]
            expected[row, : len(ranked)] = ranked
        assert top_k_positions(scores, k).tolist() == expected.tolist()


def test_figures_counted_on_positions_equal_the_frames():
    """HR@10 and NDCG@10 per customer from a run's catalogue positions, as the merged frames give them."""
    rng = np.random.default_rng(8)
    catalog = pd.Index([f"p{i:03d}" for i in range(80)])
    customers = [f"c{i:02d}" for i in range(50)]
    history = pd.DataFrame(
        {"customer_unique_id": rng.choice(customers[:30], 60), "product_id": rng.choice(catalog, 60)}
    ).drop_duplicates()
    # One to fifteen held-out items each (more than k for some), none already bought.
    pairs = [(c, p) for c in customers for p in rng.choice(catalog, rng.integers(1, 16), replace=False)]
    held_out = pd.DataFrame(pairs, columns=["customer_unique_id", "product_id"])
    held_out = held_out.merge(history, how="left", indicator=True).query("_merge == 'left_only'").drop(columns="_merge")
    task = EvaluationTask.build(history, held_out, catalog, negatives=10)
    # Integer scores: many ties, broken by catalogue position in both.
    run = run_scorer(task, lambda ids: rng.integers(0, 5, (len(ids), catalog.size)).astype("float64"), k=10)
    hits, ndcg = customer_figures(task, run, 10)
    frames = customer_figures(task, ModelRun(run.recommendations, run.ranks), 10)
    assert hits.tolist() == frames[0].tolist() and 0 < hits.mean() < 1
    assert ndcg == pytest.approx(frames[1], abs=1e-12)
    table = metrics_table(task, {"model": run}).set_index(["protocol", "segment"])
    assert table.loc[("full_catalog", "all"), "hr_at_10"] == pytest.approx(hits.mean())
    assert table.loc[("full_catalog", "all"), "ndcg_at_10"] == pytest.approx(ndcg.mean())


def test_intervals_drawn_once_per_segment_equal_one_bootstrap_per_comparison():
    rng = np.random.default_rng(12)
    catalog = pd.Index([f"p{i:03d}" for i in range(60)])
    customers = [f"c{i:02d}" for i in range(40)]
    held_out = pd.DataFrame({"customer_unique_id": customers, "product_id": rng.choice(catalog, 40)})
    history = pd.DataFrame({"customer_unique_id": customers[:15], "product_id": ["p059"] * 15})
    task = EvaluationTask.build(history, held_out.loc[held_out["product_id"] != "p059"], catalog, negatives=5)
    runs = {name: run_scorer(task, lambda ids: rng.random((len(ids), catalog.size)), k=10) for name in ("a", "b", "c")}
    table = compare_to_baselines(task, runs, "a", k=10, resamples=300, seed=4)
    assert table[["baseline", "segment"]].drop_duplicates().shape[0] == 2 * 3
    assert table["baseline"].tolist() == sorted(table["baseline"])
    figures = {name: customer_figures(task, run, 10) for name, run in runs.items()}
    masks = {"all": np.ones(len(task.customers), bool), "repeat": task.repeat, "first_time": ~task.repeat}
    for row in table.itertuples():
        index = 0 if row.metric == "hr_at_10" else 1
        mask = masks[row.segment]
        alone = paired_bootstrap(figures["a"][index][mask], figures[row.baseline][index][mask], resamples=300, seed=4)
        assert [row.difference, row.ci_low, row.ci_high] == pytest.approx(
            [alone["difference"], alone["ci_low"], alone["ci_high"]]
        )
