"""Global and recent popularity: the same list for everyone, the yardsticks every client gets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

from ml.recommender.candidates.base import (
    DataShape,
    FitData,
    ItemBasedRecommender,
)


@dataclass
class PopularityScores:
    """One score per item for everyone; recomputed from the data when rebased (it is a rule, not a fit)."""

    item_scores: np.ndarray
    days: int | None = None

    @classmethod
    def from_data(cls, data: FitData, days: int | None) -> PopularityScores:
        if days is None:
            return cls(data.popularity(None) / max(len(data.history()[0]), 1))
        return cls(data.popularity(days), days)

    def rebase(self, data: FitData) -> PopularityScores:
        return PopularityScores.from_data(data, self.days)

    def score_rows(self, history: sparse.csr_matrix) -> np.ndarray:
        return np.broadcast_to(self.item_scores, (history.shape[0], self.item_scores.size)).copy()


class GlobalPopularity:
    """Distinct buyers of each item over the whole history."""

    name = family = "global_popularity"
    simplicity = 0

    def applies_to(self, shape: DataShape) -> str | None:
        return None

    def grid(self) -> list[dict[str, Any]]:
        return [{}]

    def fit(self, data: FitData, params: dict[str, Any]) -> ItemBasedRecommender:
        return ItemBasedRecommender.build(
            self.name, self.family, params, PopularityScores.from_data(data, None), data, shared=True
        )


class RecentPopularity:
    """Distinct buyers over the last ``days`` days (ties by all-time buyers); the window is chosen on validation."""

    name = family = "recent_popularity"
    simplicity = 1

    def __init__(self, days: tuple[int, ...] = (7, 14, 30, 60, 90)) -> None:
        self.days = days

    def applies_to(self, shape: DataShape) -> str | None:
        return None

    def grid(self) -> list[dict[str, Any]]:
        return [{"days": days} for days in self.days]

    def fit(self, data: FitData, params: dict[str, Any]) -> ItemBasedRecommender:
        return ItemBasedRecommender.build(
            self.name, self.family, params, PopularityScores.from_data(data, int(params["days"])), data, shared=True
        )
