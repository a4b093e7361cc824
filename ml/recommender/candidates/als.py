"""Implicit-feedback matrix factorisation: ALS from the ``implicit`` package (Hu, Koren and Volinsky, 2008).

The learned state is the item factors; a customer's factors are solved from their history
(``recalculate_user``, the ALS user step), so a rebased or real-time customer is scored by
the same computation as a training one, and a customer without history gets zero factors
and the recent-popularity order.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from threadpoolctl import threadpool_limits

from ml.recommender.candidates.base import DataShape, FitData, ItemBasedRecommender, ReindexedModel


@dataclass
class AlsModel:
    model: Any  # implicit.cpu.als.AlternatingLeastSquares

    def user_factors(self, history: sparse.csr_matrix) -> np.ndarray:
        if history.shape[0] == 0:
            return np.zeros((0, self.model.factors), dtype="float32")
        with threadpool_limits(1, "blas"):
            return self.model.recalculate_user(np.arange(history.shape[0]), history.astype("float32"))

    def score_rows(self, history: sparse.csr_matrix) -> np.ndarray:
        return self.user_factors(history).astype("float64") @ self.model.item_factors.T.astype("float64")


def als_vectors(fitted: ItemBasedRecommender, customer_ids: pd.Index) -> tuple[pd.DataFrame, pd.DataFrame]:
    """User and item factors: score = user . item (plus the popularity tie-break)."""
    model, history = fitted.model, fitted.rows_of(customer_ids)
    if isinstance(model, ReindexedModel):
        kept = model.present >= 0
        item_factors = np.zeros((model.present.size, model.inner.model.factors))
        item_factors[kept] = model.inner.model.item_factors[model.present[kept]]
        model, history = model.inner, (history @ model.to_old).tocsr()
    else:
        item_factors = model.model.item_factors
    factors = model.user_factors(history)
    columns = [f"embedding_{i}" for i in range(factors.shape[1])]
    users = pd.DataFrame(factors.astype("float64"), columns=columns)
    users.insert(0, "customer_unique_id", customer_ids.to_numpy())
    items = pd.DataFrame(np.asarray(item_factors, dtype="float64"), columns=columns)
    items.insert(0, "product_id", fitted.catalog_ids.to_numpy())
    items["bias"] = fitted.tie_breaker
    return users, items


class Als:
    """ALS with confidence 1 + alpha per purchase; factors and regularisation chosen on validation."""

    name = family = "als"
    simplicity = 4

    def __init__(
        self,
        settings: tuple[dict[str, float], ...] = (
            {"factors": 32, "regularization": 0.05, "alpha": 10.0},
            {"factors": 64, "regularization": 0.5, "alpha": 10.0},
        ),
        iterations: int = 15,
        threads: int = 0,
    ) -> None:
        self.settings = settings
        self.iterations = iterations
        self.threads = threads

    def applies_to(self, shape: DataShape) -> str | None:
        if shape.bought_items < 2 or shape.customers < 2:
            return f"ALS needs two customers and two bought items, there are {shape.customers} and {shape.bought_items}"
        return shape.too_large_to_score_densely("ALS")

    def grid(self) -> list[dict[str, Any]]:
        return [dict(setting) for setting in self.settings]

    def fit(self, data: FitData, params: dict[str, Any]) -> ItemBasedRecommender:
        from implicit.cpu.als import AlternatingLeastSquares

        _, bought = data.history()
        with warnings.catch_warnings():
            # implicit warns when OpenBLAS may run its own thread pool; fit and solve run under
            # threadpool_limits(1, "blas") below, which is what the warning asks for.
            warnings.filterwarnings("ignore", message="OpenBLAS is configured", category=RuntimeWarning)
            model = AlternatingLeastSquares(
                factors=int(params["factors"]),
                regularization=float(params["regularization"]),
                alpha=float(params["alpha"]),
                iterations=self.iterations,
                random_state=data.seed,
                num_threads=self.threads,
            )
        # implicit parallelises over users itself; a BLAS thread pool under it oversubscribes the cores.
        with threadpool_limits(1, "blas"):
            model.fit(bought.astype("float32"), show_progress=False)
        fitted = ItemBasedRecommender.build(self.name, self.family, params, AlsModel(model), data)
        fitted.vectors = als_vectors
        return fitted
