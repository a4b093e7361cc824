"""Two-tower recommender with time-split evaluation against popularity and item-kNN baselines.

``train_and_evaluate`` is the one entry point a Dagster asset calls; the pieces (split,
metrics, baselines, model) are importable on their own and work on small pandas frames.
"""

from ml.recommender.metrics import (
    expected_calibration_error,
    ranking_metrics,
    sample_negatives,
    sampled_metrics,
    sampled_ranks,
)
from ml.recommender.pipeline import RecommenderConfig, RecommenderResult, train_and_evaluate
from ml.recommender.scorer import TwoTowerRecommender
from ml.recommender.split import TimeSplit, known_before, purchase_events, split_by_time


def recommend(
    model: TwoTowerRecommender, customers_frame, products_frame=None, top_k: int = 10, exclude_bought: bool = True
):
    """customer_unique_id, product_id, rank 1..K, score, probability for every customer of the frame."""
    return model.recommend(customers_frame, products_frame, top_k, exclude_bought)


def user_embeddings(model: TwoTowerRecommender, customers_frame):
    return model.user_embeddings(customers_frame)


def item_embeddings(model: TwoTowerRecommender, products_frame=None):
    return model.item_embeddings(products_frame)


__all__ = [
    "RecommenderConfig",
    "RecommenderResult",
    "TimeSplit",
    "TwoTowerRecommender",
    "expected_calibration_error",
    "item_embeddings",
    "known_before",
    "purchase_events",
    "ranking_metrics",
    "recommend",
    "sample_negatives",
    "sampled_metrics",
    "sampled_ranks",
    "split_by_time",
    "train_and_evaluate",
    "user_embeddings",
]
