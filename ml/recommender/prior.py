"""The recent-popularity prior that the two-tower's scores can blend in (``TwoTowerRecommender.with_prior``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class PopularityPrior:
    """Adds ``alpha * log(1 + distinct buyers in the last days days)`` to every item's score.

    A product of experts with recent popularity: the network's softmax times recent buyers
    to the power alpha. Alpha is separate for customers with and without history, because
    the network knows a first-time customer only by state. Both are chosen on the
    validation window (``alpha = 0`` is the network alone).
    """

    days: int
    first_time: float
    repeat: float

    def item_log_buyers(self, events: pd.DataFrame, reference_time: pd.Timestamp, catalog: pd.Index) -> np.ndarray:
        since = reference_time - pd.Timedelta(days=self.days)
        recent = events.loc[
            (events["purchased_at"] >= since) & (events["purchased_at"] < reference_time),
            ["customer_unique_id", "product_id"],
        ].drop_duplicates()
        counts = recent["product_id"].astype(str).value_counts().reindex(catalog, fill_value=0)
        return np.log1p(counts.to_numpy(dtype="float64"))
