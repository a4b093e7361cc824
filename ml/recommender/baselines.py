"""Baselines scored on the same split and catalogue as the two-tower model.

Every scorer returns a (customers x catalogue) float64 matrix whose columns follow the
catalogue order it was built with; the evaluation removes already-bought items.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse

from ml.recommender.split import purchase_events


def _buyers(known: pd.DataFrame, catalog: pd.Index, since: pd.Timestamp | None = None) -> np.ndarray:
    """Distinct buyers per catalogue item, counting purchases in [since, ...) when ``since`` is given."""
    if since is None:
        pairs = known[["customer_unique_id", "product_id"]]
    else:
        events = purchase_events(known)
        pairs = events.loc[events["purchased_at"] >= since, ["customer_unique_id", "product_id"]]
    counts = pairs.drop_duplicates()["product_id"].value_counts()
    return counts.reindex(catalog, fill_value=0).to_numpy(dtype="float64")


class PopularityScorer:
    """The same ranking for everyone: distinct buyers, all time or over the last ``days`` days.

    Recent popularity breaks its (many) ties by all-time buyers, then by catalogue order.
    """

    def __init__(self, known: pd.DataFrame, catalog: pd.Index, boundary: pd.Timestamp, days: int | None = None) -> None:
        self.days = days
        overall = _buyers(known, catalog)
        if days is None:
            self.item_scores = overall / max(known["customer_unique_id"].nunique(), 1)
        else:
            recent = _buyers(known, catalog, since=boundary - pd.Timedelta(days=days))
            self.item_scores = recent + overall / (overall.max() + 1.0)

    def score(self, customer_ids: pd.Index) -> np.ndarray:
        return np.broadcast_to(self.item_scores, (len(customer_ids), self.item_scores.size)).copy()


class ItemKnnScorer:
    """Item-kNN on co-purchases: sum of cosine similarities to the items the customer bought.

    Similarity of items i and j: customers who bought both / sqrt(buyers of i x buyers of j),
    over the pre-boundary interactions. Items with no co-purchase signal (and every item for
    a customer without history) are ordered by the fallback scorer, scaled below the smallest
    possible positive similarity so that it only breaks ties.
    """

    def __init__(self, known: pd.DataFrame, catalog: pd.Index, fallback: PopularityScorer) -> None:
        pairs = known[["customer_unique_id", "product_id"]].drop_duplicates()
        self.customers = pd.Index(pairs["customer_unique_id"].unique())
        rows = self.customers.get_indexer(pairs["customer_unique_id"])
        columns = catalog.get_indexer(pairs["product_id"])
        if (columns < 0).any():
            raise ValueError("interactions name products that are not in the catalogue")
        bought = sparse.csr_matrix(
            (np.ones(len(pairs)), (rows, columns)), shape=(len(self.customers), len(catalog)), dtype="float64"
        )
        co_purchases = (bought.T @ bought).tocsr()
        buyers = co_purchases.diagonal()
        co_purchases.setdiag(0.0)
        co_purchases.eliminate_zeros()
        inverse_norm = sparse.diags(1.0 / np.sqrt(np.maximum(buyers, 1.0)))
        self.similarity = (inverse_norm @ co_purchases @ inverse_norm).tocsr()
        self.bought = bought
        fallback_scores = fallback.item_scores
        spread = fallback_scores.max() - fallback_scores.min()
        normalised = (
            (fallback_scores - fallback_scores.min()) / spread if spread > 0 else np.zeros_like(fallback_scores)
        )
        # The smallest positive similarity is 1 / max(buyers); stay below half of it.
        self.fallback = normalised * 0.5 / (max(buyers.max(), 1.0) + 1.0)

    def score(self, customer_ids: pd.Index) -> np.ndarray:
        rows = self.customers.get_indexer(customer_ids)
        known = rows >= 0
        result = np.broadcast_to(self.fallback, (len(customer_ids), self.fallback.size)).copy()
        if known.any():
            result[known] += (self.bought[rows[known]] @ self.similarity).toarray()
        return result
