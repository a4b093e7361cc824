"""The two-tower network as a candidate: trained with early stopping on the validation window.

Unlike the item-based candidates it learns from features (state, payments, reviews,
category, price) as well as ids, so it is the one that can rank for a first-time customer
beyond popularity. Its choices (epochs, the recent-popularity prior's weight per segment,
the calibrator) are all made on the validation window inside ``fit``; for the test window
the validated network is rebased to the cutoff rather than retrained, and the published
model replays the validated learning-rate schedule on all data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ml.recommender.calibration import IsotonicCalibrator, label_recommendations
from ml.recommender.candidates.base import DataShape, FitData, Scorer
from ml.recommender.cores import torch_threads
from ml.recommender.evaluation import EvaluationTask, customer_figures, run_scorer
from ml.recommender.frames import isin
from ml.recommender.prior import PopularityPrior
from ml.recommender.scorer import TwoTowerRecommender
from ml.recommender.split import purchase_events, sample_customers
from ml.recommender.train import TrainingLog, fit_two_tower

EVALUATION_K = 10


@dataclass
class TwoTowerFitted:
    """A TwoTowerRecommender with what the selection and the registry need to know of it."""

    network: TwoTowerRecommender
    params: dict[str, Any]
    training: TrainingLog
    prior_search: pd.DataFrame = field(default_factory=pd.DataFrame)
    name: str = "two_tower"
    family: str = "two_tower"

    def scorer(self, customers: pd.Index) -> Scorer:
        return self.network.scorer(customers)

    def rebased(self, data: FitData) -> TwoTowerFitted:
        network = self.network.rebased(
            data.boundary, purchase_events(data.known), data.orders, data.states, data.catalog
        )
        return TwoTowerFitted(network, self.params, self.training, self.prior_search)

    def recommend(self, customers, top_k: int = 10, exclude_bought: bool = True) -> pd.DataFrame:
        return self.network.recommend(customers, None, top_k, exclude_bought)

    def embeddings(self, customers) -> tuple[pd.DataFrame, pd.DataFrame]:
        return self.network.user_embeddings(customers), self.network.item_embeddings(None)


class TwoTower:
    name = family = "two_tower"
    simplicity = 5
    retrain_for_test = False
    # Trained on a thread of its own while the other candidates run on the calling one: on the
    # cores they leave for the selection protocol, on every core after (ml/recommender/cores.py).
    beside_others = True

    def __init__(self, config) -> None:
        self.config = config

    def applies_to(self, shape: DataShape) -> str | None:
        if shape.pairs < 2 * self.config.batch_size:
            return f"too few interactions to train a network ({shape.pairs} < {2 * self.config.batch_size})"
        return shape.too_large_to_score_densely("the two-tower")

    def grid(self) -> list[dict[str, Any]]:
        return [{}]

    def fit(self, data: FitData, params: dict[str, Any]) -> TwoTowerFitted:
        """With settings from an earlier fit (``params['schedule']``, prior and calibrator): replay
        them, as the refit and the other protocol do. Otherwise early stopping, prior and
        calibrator on ``data.validation``."""
        config = self.config
        if "schedule" in params:
            network, log = fit_two_tower(
                data.known, data.boundary, data.states, data.catalog, data.orders, config, schedule=params["schedule"]
            )
            network.with_calibrator(params["calibrator"]).with_prior(params["prior"])
            return TwoTowerFitted(network, params, log)
        if data.validation is None:
            raise ValueError("the two-tower needs validation pairs, or the settings of a validated fit")
        network, log = fit_two_tower(
            data.known, data.boundary, data.states, data.catalog, data.orders, config, validation=data.validation
        )
        customers = sample_customers(data.validation, config.validation_customers, config.seed)
        held_out = data.validation.loc[isin(data.validation["customer_unique_id"], customers)]
        task = EvaluationTask.build(data.known, held_out, data.catalog_ids, 0, config.seed)
        with torch_threads(config.threads):
            prior, search = choose_prior(network, task, data.recent_days, config.prior_weights)
            network.with_prior(prior)
            ranked = network.ranked(task.customers, top_k=config.calibration_depth)
        calibrator = IsotonicCalibrator().fit(
            ranked["log_softmax"].to_numpy(), label_recommendations(ranked, data.validation)
        )
        network.with_calibrator(calibrator)
        chosen = {
            "best_epoch": log.best_epoch,
            "schedule": log.schedule(),
            "prior": prior,
            "calibrator": calibrator,
            "prior_weight_first_time": prior.first_time,
            "prior_weight_repeat": prior.repeat,
        }
        return TwoTowerFitted(network, chosen, log, search)


def choose_prior(
    model: TwoTowerRecommender, task: EvaluationTask, recent_days: int, weights: tuple[float, ...]
) -> tuple[PopularityPrior, pd.DataFrame]:
    """The prior weight per segment with the best validation HR@10 (then NDCG@10, then the smaller weight).

    The segments are disjoint and HR@10 over all customers is their weighted mean, so the
    best weight of each segment gives the best pair.
    """
    rows = []
    segments = {"all": np.ones(len(task.customers), dtype=bool), "repeat": task.repeat, "first_time": ~task.repeat}
    for weight in weights:
        model.with_prior(PopularityPrior(recent_days, weight, weight))
        hits, ndcg = customer_figures(task, run_scorer(task, model.scorer(task.customers), EVALUATION_K), EVALUATION_K)
        for segment, members in segments.items():
            if members.any():
                rows.append(
                    {
                        "weight": weight,
                        "segment": segment,
                        "customers": int(members.sum()),
                        f"hr_at_{EVALUATION_K}": float(hits[members].mean()),
                        f"ndcg_at_{EVALUATION_K}": float(ndcg[members].mean()),
                    }
                )
    model.with_prior(None)
    tried = pd.DataFrame(rows)
    chosen = {}
    for segment in ("first_time", "repeat"):
        candidates = tried.loc[tried["segment"] == segment]
        if candidates.empty:
            chosen[segment] = 0.0
            continue
        best = candidates.sort_values(
            ["hr_at_10", "ndcg_at_10", "weight"], ascending=[False, False, True], kind="stable"
        ).iloc[0]
        chosen[segment] = float(best["weight"])
    return PopularityPrior(recent_days, chosen["first_time"], chosen["repeat"]), tried
