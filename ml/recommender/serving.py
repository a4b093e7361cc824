"""Real-time scoring of one customer in context, whatever family the champion is.

``realtime_scorer(model, customers)`` gives the champion's scorer: for the two-tower a
``VectorScorer``, which runs the towers once (every known customer, one cold-start vector
per state, every item) so that a request is one matrix-vector product whose scores equal
``TwoTowerRecommender.recommend``'s (tested): user . item / temperature + item bias + the
popularity prior's weight x log recent buyers. For an item-based champion (popularity,
item-kNN, EASE^R, ALS) a ``HistoryScorer``, which scores the customer's history plus the
context items with the model's own ``score_history``, the computation of its batch lists.
Both answer ``recommend`` (top-K and whether it is a cold start) and ``similarity`` (of
every item to one item, for similar products).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ml.recommender.candidates import ItemBasedRecommender, TwoTowerFitted
from ml.recommender.features import UNKNOWN
from ml.recommender.frames import isin
from ml.recommender.metrics import top_k_positions
from ml.recommender.scorer import TwoTowerRecommender


@dataclass
class VectorScorer:
    product_ids: pd.Index
    item_vectors: np.ndarray  # items x d, float64
    item_offset: np.ndarray  # bias, per item
    log_recent_buyers: np.ndarray
    weight_repeat: float
    weight_first_time: float
    temperature: float
    customer_ids: pd.Index
    user_vectors: np.ndarray  # customers x d
    has_history: np.ndarray
    bought: dict[str, np.ndarray]  # customer -> catalogue positions bought before the reference time
    cold_vectors: dict[str, np.ndarray]  # state (or UNKNOWN) -> vector of a customer without history
    calibrator: object | None
    _norms: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def from_model(cls, model: TwoTowerRecommender, customers: pd.DataFrame) -> VectorScorer:
        items = model.item_embeddings(None)
        vector_columns = [column for column in items.columns if column.startswith("embedding_")]
        users = model.user_embeddings(customers)
        customer_ids = pd.Index(users["customer_unique_id"].astype(str))
        product_ids = pd.Index(items["product_id"].astype(str))
        history = model.events.loc[:, ["customer_unique_id", "product_id"]].drop_duplicates()
        positions = product_ids.get_indexer(history["product_id"].astype(str))
        history = history.assign(position=positions).loc[positions >= 0]
        bought = {str(c): group.to_numpy() for c, group in history.groupby("customer_unique_id")["position"]}
        states = [state for state in model.encoder.states.values if state != UNKNOWN] + [UNKNOWN]
        probes = pd.DataFrame(
            {
                "customer_unique_id": [f"\x00cold-start-{i}" for i in range(len(states))],
                "customer_state": [None if state == UNKNOWN else state for state in states],
            }
        )
        cold = model.user_embeddings(probes)[vector_columns].to_numpy(dtype="float64")
        prior = model.prior
        return cls(
            product_ids=product_ids,
            item_vectors=items[vector_columns].to_numpy(dtype="float64"),
            item_offset=items["bias"].to_numpy(dtype="float64"),
            log_recent_buyers=items["log_recent_buyers"].to_numpy(dtype="float64"),
            weight_repeat=prior.repeat if prior else 0.0,
            weight_first_time=prior.first_time if prior else 0.0,
            temperature=float(model.net.temperature),
            customer_ids=customer_ids,
            user_vectors=users[vector_columns].to_numpy(dtype="float64"),
            has_history=isin(customer_ids, model.events["customer_unique_id"].astype(str)),
            bought=bought,
            cold_vectors=dict(zip(states, cold, strict=True)),
            calibrator=model.calibrator,
        )

    def knows(self, customer_id: str) -> bool:
        return self.customer_ids.get_indexer([customer_id])[0] >= 0

    def similarity(self, position: int) -> np.ndarray:
        """Cosine similarity of every item's vector to the item at ``position``."""
        if self._norms is None:
            self._norms = np.maximum(np.linalg.norm(self.item_vectors, axis=1), 1e-12)
        return (self.item_vectors @ self.item_vectors[position]) / (self._norms * self._norms[position])

    def recommend(
        self,
        customer_id: str | None,
        state: str | None,
        context_products: list[str],
        top_k: int,
        exclude_bought: bool = True,
    ) -> tuple[pd.DataFrame, bool]:
        """Top-K for one customer in context; also whether it is a cold start (no purchase history).

        Context items (viewed, in the cart) move the user vector towards their mean item vector,
        renormalised (a serving-time heuristic, not evaluated offline: the data has no views),
        and are not recommended back.
        """
        row = self.customer_ids.get_indexer([customer_id])[0] if customer_id else -1
        has_history = bool(row >= 0 and self.has_history[row])
        if row >= 0:
            user = self.user_vectors[row]
        else:
            user = self.cold_vectors.get(state or UNKNOWN, self.cold_vectors[UNKNOWN])
        context = self.product_ids.get_indexer(pd.Index(context_products, dtype="object"))
        context = context[context >= 0]
        if len(context):
            user = user + self.item_vectors[context].mean(axis=0)
            user = user / max(float(np.linalg.norm(user)), 1e-12)
        weight = self.weight_repeat if has_history else self.weight_first_time
        scores = self.item_vectors @ user / self.temperature + self.item_offset + weight * self.log_recent_buyers
        excluded = [context]
        if exclude_bought and customer_id in self.bought:
            excluded.append(self.bought[customer_id])
        scores[np.concatenate(excluded).astype("int64")] = -np.inf
        finite = np.isfinite(scores)
        log_softmax = scores - (np.log(np.exp(scores[finite] - scores[finite].max()).sum()) + scores[finite].max())
        count = min(top_k, int(finite.sum()))
        order = np.argsort(-scores, kind="stable")[:count]
        probability = (
            self.calibrator.predict(log_softmax[order]) if self.calibrator is not None else np.full(count, np.nan)
        )
        frame = pd.DataFrame(
            {
                "product_id": self.product_ids[order],
                "rank": np.arange(1, count + 1, dtype="int64"),
                "score": scores[order],
                "probability": probability,
            }
        )
        return frame, not has_history


@dataclass
class HistoryScorer:
    """Real-time scoring with an item-based model: the customer's history plus the context items."""

    model: ItemBasedRecommender
    product_ids: pd.Index

    @classmethod
    def from_model(cls, model: ItemBasedRecommender) -> HistoryScorer:
        return cls(model, pd.Index(model.catalog_ids.astype(str)))

    def knows(self, customer_id: str) -> bool:
        return self.model.customers.get_indexer([customer_id])[0] >= 0

    def similarity(self, position: int) -> np.ndarray:
        """The model's scores for a customer who bought only that item (item-kNN: its similarities).

        A popularity champion has no item-to-item signal of its own; co-purchase cosine over the
        same purchases stands in, so that "similar" never means "popular".
        """
        if self.model.shared is None:
            return self.model.score_history(np.array([position]))
        history = self.model.history
        buyers = np.asarray(history.sum(axis=0)).ravel()
        co_buyers = np.asarray((history.T @ history[:, position]).todense()).ravel()
        return co_buyers / np.maximum(np.sqrt(buyers * buyers[position]), 1.0)

    def recommend(
        self,
        customer_id: str | None,
        state: str | None,
        context_products: list[str],
        top_k: int,
        exclude_bought: bool = True,
    ) -> tuple[pd.DataFrame, bool]:
        """Top-K for one customer in context; also whether it is a cold start (no purchase history).

        Context items count as bought for scoring (a serving-time heuristic, not evaluated
        offline: the data has no views) and are not recommended back. ``state`` is unused:
        these models know customers by their purchases only.
        """
        bought = self.model.bought_positions(customer_id) if customer_id else np.empty(0, dtype="int64")
        context = self.product_ids.get_indexer(pd.Index(context_products, dtype="object"))
        context = context[context >= 0]
        scores = self.model.score_history(np.concatenate([bought, context]))
        excluded = np.concatenate([context, bought]) if exclude_bought else context
        scores[excluded.astype("int64")] = -np.inf
        count = min(top_k, int(np.isfinite(scores).sum()))
        order = top_k_positions(scores[None, :], count)[0] if count else np.empty(0, dtype="int64")
        ranks = np.arange(1, count + 1, dtype="int64")
        calibrator = self.model.calibrator
        probability = calibrator.predict(ranks) if calibrator is not None else np.full(count, np.nan)
        frame = pd.DataFrame(
            {"product_id": self.product_ids[order], "rank": ranks, "score": scores[order], "probability": probability}
        )
        return frame, bought.size == 0


def realtime_scorer(model, customers: pd.DataFrame) -> VectorScorer | HistoryScorer:
    """The real-time scorer of a fitted champion (as returned by ``RegisteredRecommender.for_data``)."""
    if isinstance(model, TwoTowerFitted):
        return VectorScorer.from_model(model.network, customers)
    if isinstance(model, ItemBasedRecommender):
        return HistoryScorer.from_model(model)
    raise TypeError(f"no real-time scorer for a {type(model).__name__}")
