"""Recommender metrics against hand-computed cases (tiny frames, no model)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ml.recommender.evaluation import recall_at_k
from ml.recommender.metrics import (
    expected_calibration_error,
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
