"""The two-tower's feature encoder: what it fits on the training rows and the tower inputs it builds."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from ml.recommender.features import (
    ITEM_DYNAMIC,
    ITEM_STATIC,
    UNKNOWN,
    USER_NUMERIC,
    Vocabulary,
    history_items,
    item_dynamic_features,
    item_static_features,
    user_numeric_features,
)


@dataclass
class UserInputs:
    state: np.ndarray
    user_hash: np.ndarray
    numeric: np.ndarray
    history_categories: np.ndarray

    def __len__(self) -> int:
        return len(self.state)

    def take(self, rows: np.ndarray | slice) -> UserInputs:
        return UserInputs(
            self.state[rows],
            self.user_hash[rows],
            self.numeric[rows],
            self.history_categories[rows],
        )

    def tensors(self, device: torch.device) -> tuple[torch.Tensor, ...]:
        return (
            torch.as_tensor(self.state, device=device),
            torch.as_tensor(self.user_hash, device=device),
            torch.as_tensor(self.numeric, device=device),
            torch.as_tensor(self.history_categories, device=device),
        )


@dataclass
class ItemInputs:
    item_id: np.ndarray
    category: np.ndarray
    numeric: np.ndarray

    def tensors(self, device: torch.device) -> tuple[torch.Tensor, ...]:
        return (
            torch.as_tensor(self.item_id, device=device),
            torch.as_tensor(self.category, device=device),
            torch.as_tensor(self.numeric, device=device),
        )


def hash_customers(customer_ids: pd.Index | np.ndarray, buckets: int) -> np.ndarray:
    """Stable hash bucket 1..buckets per id (pandas' SipHash with its fixed key: the same in every process)."""
    hashed = pd.util.hash_array(np.asarray(customer_ids, dtype="object"))
    return (hashed % np.uint64(buckets)).astype("int64") + 1


@dataclass
class FeatureEncoder:
    """Vocabularies and standardisation fitted on the training rows; turns frames into tower inputs."""

    states: Vocabulary
    categories: Vocabulary
    items: Vocabulary
    static_fill: np.ndarray
    user_mean: np.ndarray
    user_scale: np.ndarray
    item_mean: np.ndarray
    item_scale: np.ndarray
    history_length: int
    user_hash_buckets: int

    @classmethod
    def with_vocabularies(
        cls,
        customer_states: pd.Series,
        products: pd.DataFrame,
        trained_items: pd.Series,
        history_length: int,
        user_hash_buckets: int,
    ) -> FeatureEncoder:
        """An encoder whose scales are still the identity: call ``fit_scales`` on the training rows."""
        static = item_static_features(products)
        return cls(
            states=Vocabulary.fit(customer_states),
            categories=Vocabulary.fit(products["category"]),
            items=Vocabulary.fit(trained_items),
            static_fill=static.median().fillna(0.0).to_numpy(),
            user_mean=np.zeros(len(USER_NUMERIC)),
            user_scale=np.ones(len(USER_NUMERIC)),
            item_mean=np.zeros(len(ITEM_STATIC) + 1 + len(ITEM_DYNAMIC)),
            item_scale=np.ones(len(ITEM_STATIC) + 1 + len(ITEM_DYNAMIC)),
            history_length=history_length,
            user_hash_buckets=user_hash_buckets,
        )

    def fit_scales(self, user_numeric: np.ndarray, item_numeric: np.ndarray) -> None:
        """Standardise with the means and deviations of the training rows (raw, unscaled values)."""
        self.user_mean = user_numeric.mean(axis=0)
        self.user_scale = np.maximum(user_numeric.std(axis=0), 1e-6)
        self.item_mean = item_numeric.mean(axis=0)
        self.item_scale = np.maximum(item_numeric.std(axis=0), 1e-6)

    def user_inputs(
        self,
        customer_ids: pd.Index,
        states: pd.Series,
        events: pd.DataFrame,
        orders: pd.DataFrame | None,
        boundary: pd.Timestamp,
        scaled: bool = True,
    ) -> UserInputs:
        """Inputs for ``customer_ids`` as of ``boundary``; ``states`` maps id -> state (missing: unknown)."""
        numeric = user_numeric_features(customer_ids, events, orders, boundary)
        has_history = numeric["has_history"].to_numpy() > 0
        user_hash = np.where(has_history, hash_customers(customer_ids, self.user_hash_buckets), 0)
        recent = history_items(customer_ids, events, boundary, self.history_length)
        rows = customer_ids.get_indexer(recent["customer_unique_id"])
        categories = np.zeros((len(customer_ids), self.history_length), dtype="int64")
        categories[rows, recent["position"].to_numpy()] = self.categories.encode(recent["category"])
        state = states.reindex(customer_ids).astype("object").fillna(UNKNOWN)
        return UserInputs(
            state=self.states.encode(state),
            user_hash=user_hash.astype("int64"),
            numeric=self.scale_users(numeric.to_numpy()) if scaled else numeric.to_numpy(),
            history_categories=categories,
        )

    def scale_users(self, numeric: np.ndarray) -> np.ndarray:
        return ((numeric - self.user_mean) / self.user_scale).astype("float32")

    def item_static(self, products: pd.DataFrame) -> np.ndarray:
        return _static_block(item_static_features(products), self.static_fill)

    def item_inputs(
        self, products: pd.DataFrame, events: pd.DataFrame, boundary: pd.Timestamp, scaled: bool = True
    ) -> ItemInputs:
        """Inputs for every row of ``products`` as of ``boundary``."""
        product_ids = pd.Index(products["product_id"].astype(str))
        dynamic = item_dynamic_features(product_ids, products["category"], events, boundary).to_numpy()
        numeric = np.concatenate([self.item_static(products), dynamic], axis=1)
        return ItemInputs(
            item_id=self.items.encode(product_ids),
            category=self.categories.encode(products["category"]),
            numeric=self.scale_items(numeric) if scaled else numeric,
        )

    def scale_items(self, numeric: np.ndarray) -> np.ndarray:
        return ((numeric - self.item_mean) / self.item_scale).astype("float32")


def _static_block(static: pd.DataFrame, fill: np.ndarray) -> np.ndarray:
    values = static[list(ITEM_STATIC)].to_numpy(dtype="float64")
    missing = np.isnan(values)
    values = np.where(missing, fill, values)
    return np.concatenate([values, missing.any(axis=1, keepdims=True).astype("float64")], axis=1)
