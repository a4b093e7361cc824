"""Item-kNN on co-purchases: cosine similarity with shrinkage, summed over what the customer bought."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

from ml.recommender.candidates.base import DataShape, FitData, ItemBasedRecommender


def cosine_similarity(bought: sparse.csr_matrix, shrink: float) -> sparse.csr_matrix:
    """sim(i, j) = co-buyers / (sqrt(buyers_i x buyers_j) + shrink), zero on the diagonal.

    The shrinkage pulls the similarity of items with few buyers towards zero, where one
    shared customer would otherwise make two rare items look identical.
    """
    co_purchases = (bought.T @ bought).tocsr()
    buyers = co_purchases.diagonal()
    co_purchases.setdiag(0.0)
    co_purchases.eliminate_zeros()
    co = co_purchases.tocoo()
    norm = np.sqrt(buyers[co.row] * buyers[co.col]) + shrink
    return sparse.csr_matrix((co.data / norm, (co.row, co.col)), shape=co_purchases.shape)


@dataclass
class ItemKnnModel:
    similarity: sparse.csr_matrix

    def score_rows(self, history: sparse.csr_matrix) -> np.ndarray:
        return np.asarray(self.score_support(history).todense())

    def score_support(self, history: sparse.csr_matrix) -> sparse.csr_matrix:
        return (history @ self.similarity).tocsr()


class ItemKnn:
    """Score of an item = sum of its similarities to the customer's items; shrinkage chosen on validation."""

    name = family = "item_knn"
    simplicity = 2

    def __init__(self, shrinks: tuple[float, ...] = (0.0, 10.0, 100.0)) -> None:
        self.shrinks = shrinks

    def applies_to(self, shape: DataShape) -> str | None:
        return None

    def grid(self) -> list[dict[str, Any]]:
        return [{"shrink": shrink} for shrink in self.shrinks]

    def fit(self, data: FitData, params: dict[str, Any]) -> ItemBasedRecommender:
        _, bought = data.history()
        model = ItemKnnModel(cosine_similarity(bought, float(params["shrink"])))
        return ItemBasedRecommender.build(self.name, self.family, params, model, data)
