"""The two-tower network, its feature encoder, and a fitted recommender that scores as of a moment."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional

from ml.recommender.features import (
    ITEM_DYNAMIC,
    ITEM_NUMERIC,
    ITEM_STATIC,
    UNKNOWN,
    USER_NUMERIC,
    Vocabulary,
    history_items,
    item_dynamic_features,
    item_static_features,
    user_numeric_features,
)
from ml.recommender.frames import isin
from ml.recommender.metrics import chunk_rows, top_k_positions

SMALL_EMBEDDING = 16
CONTENT_COLUMNS = [ITEM_NUMERIC.index(name) for name in (*ITEM_STATIC, "static_missing", "log_price", "price_missing")]
POPULARITY_COLUMNS = [index for index in range(len(ITEM_NUMERIC)) if index not in CONTENT_COLUMNS]


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


def choose_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


@contextmanager
def seeded_torch(seed: int, threads: int | None = None) -> Iterator[None]:
    """Seed torch and ask for deterministic kernels inside the block; restore the caller's state after.

    ``warn_only``: on CUDA a few kernels (index_add in EmbeddingBag's backward) have no
    deterministic variant; CPU runs are bit-for-bit repeatable for a fixed thread count.
    """
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    was_warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    previous_threads = torch.get_num_threads()
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        torch.use_deterministic_algorithms(True, warn_only=True)
        if threads:
            torch.set_num_threads(threads)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(was_deterministic, warn_only=was_warn_only)
            torch.set_num_threads(previous_threads)


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


def _embedding(rows: int, width: int, std: float = 0.05, sparse: bool = False) -> nn.Embedding:
    layer = nn.Embedding(rows, width, padding_idx=0, sparse=sparse)
    with torch.no_grad():
        layer.weight.normal_(0.0, std)
        layer.weight[0].zero_()
    return layer


class MaskDropout(nn.Module):
    """Dropout whose CPU masks come from a numpy generator once one is set (``TwoTowerNet.use_generator``).

    torch's CPU dropout draws its mask from a Mersenne twister one float at a time: at 100K
    orders that was a sixth of the two-tower's training. Sixteen bits per unit from PCG64
    cost a quarter as much; a unit is kept with probability 1 - p to within 2**-16, and
    the kept ones are scaled by the inverse of exactly that probability. On another device,
    or without a generator, it is torch's own dropout.
    """

    LEVELS = 2**16

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p
        self.generator: np.random.Generator | None = None

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return inputs
        if self.generator is None or inputs.device.type != "cpu":
            return functional.dropout(inputs, self.p, training=True)
        dropped = round(self.p * self.LEVELS)
        bits = self.generator.integers(0, self.LEVELS, tuple(inputs.shape), dtype=np.uint16)
        keep = torch.from_numpy(bits >= dropped)
        return inputs * keep * (self.LEVELS / (self.LEVELS - dropped))


def _mlp(inputs: int, hidden: int, outputs: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(nn.Linear(inputs, hidden), nn.ReLU(), MaskDropout(dropout), nn.Linear(hidden, outputs))


class TwoTowerNet(nn.Module):
    """User tower (state, hashed id, categories bought, numeric history) and item tower (id, category,
    content) to unit vectors, plus an item bias from popularity and category.

    score = user . item / temperature + item bias, where the bias, also from the item tower,
    carries the item's overall appeal (popularity as of the boundary) that the in-batch
    softmax with logQ correction lets the network learn.
    """

    def __init__(
        self,
        states: int,
        categories: int,
        items: int,
        user_hash_buckets: int,
        embedding_dim: int,
        hidden_dim: int,
        id_dim: int,
        temperature: float,
        dropout: float,
    ) -> None:
        super().__init__()
        self.temperature = temperature
        self.state = _embedding(states, SMALL_EMBEDDING)
        # Zero rows: a customer the network never saw with history contributes nothing through the id.
        # The id tables are large and a batch touches few rows: sparse gradients (SparseAdam).
        self.user_id = _embedding(user_hash_buckets + 1, id_dim, std=0.0, sparse=True)
        # No bag of the individual products bought before: with one, training loss kept
        # falling while validation log-likelihood got worse from the second epoch (it learned
        # which product followed which); the categories bought carry what generalises.
        user_width = SMALL_EMBEDDING * 2 + id_dim + len(USER_NUMERIC)
        self.user_mlp = _mlp(user_width, hidden_dim, embedding_dim, dropout)
        self.category = _embedding(categories, SMALL_EMBEDDING)
        self.item_id = _embedding(items, id_dim, sparse=True)
        # The vector sees what the item is (id, category, size, price); popularity and life
        # cycle as of the boundary feed only the bias, with the category: they are the same
        # for every customer. Fed to the unit vector too, popularity took up its directions
        # (on validation, 12% of a repeat customer's top 10 fell in their main category,
        # against 18% with popularity in the bias alone).
        self.register_buffer("content_columns", torch.tensor(CONTENT_COLUMNS), persistent=False)
        self.register_buffer("popularity_columns", torch.tensor(POPULARITY_COLUMNS), persistent=False)
        self.item_mlp = _mlp(SMALL_EMBEDDING + id_dim + len(CONTENT_COLUMNS), hidden_dim, embedding_dim, dropout)
        self.bias_mlp = _mlp(SMALL_EMBEDDING + len(POPULARITY_COLUMNS), hidden_dim // 2, 1, dropout)

    def use_generator(self, generator: np.random.Generator) -> TwoTowerNet:
        """Draw every dropout mask from ``generator`` (seeded by the caller: runs repeat exactly)."""
        for module in self.modules():
            if isinstance(module, MaskDropout):
                module.generator = generator
        return self

    def sparse_parameters(self) -> list[nn.Parameter]:
        return [self.user_id.weight, self.item_id.weight]

    def dense_parameters(self) -> list[nn.Parameter]:
        sparse = {id(parameter) for parameter in self.sparse_parameters()}
        return [parameter for parameter in self.parameters() if id(parameter) not in sparse]

    def users(
        self,
        state: torch.Tensor,
        user_id: torch.Tensor,
        numeric: torch.Tensor,
        history_categories: torch.Tensor,
    ) -> torch.Tensor:
        parts = [
            self.state(state),
            self.user_id(user_id),
            # The categories bought before share the item tower's category table, so "more of
            # the same category" is a direction both towers already agree on.
            functional.embedding_bag(history_categories, self.category.weight, mode="mean", padding_idx=0),
            numeric,
        ]
        return functional.normalize(self.user_mlp(torch.cat(parts, dim=1)), dim=1)

    def items(
        self, item_id: torch.Tensor, category: torch.Tensor, numeric: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        category_vector = self.category(category)
        content = numeric[:, self.content_columns]
        vector = self.item_mlp(torch.cat([self.item_id(item_id), category_vector, content], dim=1))
        bias = self.bias_mlp(torch.cat([category_vector, numeric[:, self.popularity_columns]], dim=1))[:, 0]
        return functional.normalize(vector, dim=1), bias

    def logits(self, users: torch.Tensor, items: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        return users @ items.T / self.temperature + bias


def _logsumexp_in_place(scores: torch.Tensor) -> torch.Tensor:
    """Each row's log-sum-exp; ``scores`` is overwritten (exp of its shifted values).

    torch.logsumexp allocates two temporaries of the matrix's size; at a 300K-item
    catalogue that costs about as much as computing the scores. A row of -inf gives -inf.
    """
    peak = scores.amax(dim=1, keepdim=True)
    peak = torch.where(torch.isfinite(peak), peak, torch.zeros_like(peak))
    return (peak[:, 0] + scores.sub_(peak).exp_().sum(dim=1).log()).to(scores.dtype)


class TwoTowerRecommender:
    """A trained network with what it knows as of ``reference_time``: it scores as of that moment.

    ``events`` are the purchase events before the reference time (for history features and
    for excluding what a customer already bought), ``orders`` the orders before it (or None),
    ``states`` the customers' states and ``products`` the default catalogue. ``calibrator``
    maps a recommendation's log-softmax over the catalogue to a purchase probability.
    """

    def __init__(
        self,
        net: TwoTowerNet,
        encoder: FeatureEncoder,
        reference_time: pd.Timestamp,
        events: pd.DataFrame,
        orders: pd.DataFrame | None,
        states: pd.Series,
        products: pd.DataFrame,
        calibrator=None,
        device: str = "auto",
        batch_size: int = 1024,
    ) -> None:
        self.net = net
        self.encoder = encoder
        self.reference_time = pd.Timestamp(reference_time)
        self.events = events.loc[events["purchased_at"] < self.reference_time].reset_index(drop=True)
        self.orders = None if orders is None else orders.loc[orders["purchased_at"] < self.reference_time]
        self.states = states
        self.products = products.sort_values("product_id", kind="stable").reset_index(drop=True)
        self.calibrator = calibrator
        self.prior: PopularityPrior | None = None
        self.device = choose_device(device)
        self.batch_size = batch_size
        self._item_cache: tuple[pd.Index, torch.Tensor, torch.Tensor] | None = None

    def with_calibrator(self, calibrator) -> TwoTowerRecommender:
        self.calibrator = calibrator
        return self

    def with_prior(self, prior: PopularityPrior | None) -> TwoTowerRecommender:
        """Blend in recent popularity (see PopularityPrior); None scores with the network alone."""
        self.prior = prior
        return self

    def rebased(
        self,
        reference_time: pd.Timestamp,
        events: pd.DataFrame,
        orders: pd.DataFrame | None,
        states: pd.Series,
        products: pd.DataFrame,
    ) -> TwoTowerRecommender:
        """The same network, calibrator and prior, scoring as of another moment with other data.

        How a champion trained on an earlier run scores today's customers and catalogue:
        features, already-bought items and recent popularity come from ``events`` and
        ``orders`` before ``reference_time``; the weights stay as trained.
        """
        return TwoTowerRecommender(
            self.net,
            self.encoder,
            reference_time,
            events,
            orders,
            states,
            products,
            calibrator=self.calibrator,
            device=str(self.device),
            batch_size=self.batch_size,
        ).with_prior(self.prior)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_item_cache"] = None
        state["net"] = self.net.to("cpu")
        state["device"] = "cpu"
        return state

    def __setstate__(self, state: dict) -> None:
        state.setdefault("prior", None)
        self.__dict__.update(state)
        self.device = choose_device("auto")

    # -- inputs ------------------------------------------------------------------------------

    def _customers(self, customers: pd.DataFrame | pd.Series | pd.Index) -> tuple[pd.Index, pd.Series]:
        if isinstance(customers, pd.DataFrame):
            ids = customers["customer_unique_id"].astype(str)
            given = (
                customers.set_index(ids)["customer_state"].astype("object")
                if "customer_state" in customers.columns
                else pd.Series(dtype="object")
            )
        else:
            ids = pd.Series(np.asarray(customers), dtype="object").astype(str)
            given = pd.Series(dtype="object")
        index = pd.Index(pd.unique(ids), name="customer_unique_id")
        given = given[~given.index.duplicated()].dropna()
        states = given.reindex(index).fillna(self.states.reindex(index))
        return index, states

    def _catalog(self, products: pd.DataFrame | None) -> pd.DataFrame:
        if products is None:
            return self.products
        return products.sort_values("product_id", kind="stable").reset_index(drop=True)

    def _item_vectors(self, products: pd.DataFrame | None) -> tuple[pd.Index, torch.Tensor, torch.Tensor]:
        """Item vectors of ``products`` (None: the model's catalogue, computed once until ``clear_cache``)."""
        if products is None and self._item_cache is not None:
            return self._item_cache
        catalog = self._catalog(products)
        inputs = self.encoder.item_inputs(catalog, self.events, self.reference_time)
        self.net.to(self.device).eval()
        with torch.no_grad():
            vectors, bias = self.net.items(*inputs.tensors(self.device))
        product_ids = pd.Index(catalog["product_id"].astype(str))
        result = (product_ids, vectors, bias)
        if products is None:
            self._item_cache = result
        return result

    def _prior_terms(self, ids: pd.Index, product_ids: pd.Index) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Per-customer alpha and per-item log recent buyers (float32), or None without a prior."""
        if self.prior is None:
            return None
        has_history = isin(ids, self.events["customer_unique_id"])
        alpha = np.where(has_history, self.prior.repeat, self.prior.first_time)
        log_buyers = self.prior.item_log_buyers(self.events, self.reference_time, product_ids)
        return (
            torch.as_tensor(alpha, dtype=torch.float32, device=self.device),
            torch.as_tensor(log_buyers, dtype=torch.float32, device=self.device),
        )

    def _score_operands(
        self, users: torch.Tensor, item_vectors: torch.Tensor, prior: tuple[torch.Tensor, torch.Tensor] | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(left, right) with left @ right = user . item / temperature + alpha x log recent buyers.

        The prior rides along as one more dimension, so a chunk of scores is a single fused
        ``addmm`` with the item bias: at a 300K-item catalogue every extra pass over the
        matrix costs as much as the product itself.
        """
        left, right = users / self.net.temperature, item_vectors
        if prior is not None:
            alpha, log_buyers = prior
            left = torch.cat([left, alpha[:, None]], dim=1)
            right = torch.cat([right, log_buyers[:, None]], dim=1)
        return left, right.T.contiguous()

    def clear_cache(self) -> None:
        """Forget the catalogue's item vectors (after the network's weights changed)."""
        self._item_cache = None

    def _user_vectors(self, ids: pd.Index, states: pd.Series) -> torch.Tensor:
        inputs = self.encoder.user_inputs(ids, states, self.events, self.orders, self.reference_time)
        self.net.to(self.device).eval()
        with torch.no_grad():
            return (
                torch.cat(
                    [
                        self.net.users(*inputs.take(slice(start, start + self.batch_size)).tensors(self.device))
                        for start in range(0, len(ids), self.batch_size)
                    ]
                )
                if len(ids)
                else torch.zeros((0, self.net.user_mlp[-1].out_features), device=self.device)
            )

    def _bought(self, ids: pd.Index, catalog: pd.Index) -> tuple[np.ndarray, np.ndarray]:
        """(rows, columns) of what each customer bought before the reference time, sorted by row."""
        pairs = self.events.loc[isin(self.events["customer_unique_id"], ids), ["customer_unique_id", "product_id"]]
        rows = ids.get_indexer(pairs["customer_unique_id"])
        columns = catalog.get_indexer(pairs["product_id"])
        keep = columns >= 0
        order = np.argsort(rows[keep], kind="stable")
        return rows[keep][order].astype("int64"), columns[keep][order].astype("int64")

    def _chunks(
        self, ids: pd.Index, states: pd.Series, products: pd.DataFrame | None, exclude_bought: bool
    ) -> Iterator[tuple[int, int, torch.Tensor]]:
        """(start, stop, scores) over ``ids`` in chunks of bounded size; bought items at -inf.

        Every chunk is written into the same buffer (fresh 256 MiB tensors cost as much in
        page faults as the product itself): a consumer is done with one before the next.
        """
        product_ids, item_vectors, item_bias = self._item_vectors(products)
        users = self._user_vectors(ids, states)
        left, right = self._score_operands(users, item_vectors, self._prior_terms(ids, product_ids))
        bought_rows, bought_columns = self._bought(ids, product_ids) if exclude_bought else (np.zeros(0, "int64"),) * 2
        step = chunk_rows(len(product_ids))
        buffer = torch.empty((min(step, len(ids)), len(product_ids)), device=left.device)
        for start in range(0, len(ids), step):
            stop = min(start + step, len(ids))
            with torch.no_grad():
                scores = torch.addmm(item_bias, left[start:stop], right, out=buffer[: stop - start])
                lo, hi = np.searchsorted(bought_rows, [start, stop])
                if hi > lo:
                    scores[
                        torch.as_tensor(bought_rows[lo:hi] - start, device=scores.device),
                        torch.as_tensor(bought_columns[lo:hi], device=scores.device),
                    ] = -np.inf
            yield start, stop, scores

    # -- scoring -----------------------------------------------------------------------------

    def score_matrix(
        self, customers: pd.DataFrame | pd.Series | pd.Index, products: pd.DataFrame | None = None
    ) -> np.ndarray:
        """Scores (customers x catalogue in product_id order) as float32; no exclusion applied."""
        return self.scorer(customers, products)(None)

    def scorer(self, customers: pd.DataFrame | pd.Series | pd.Index, products: pd.DataFrame | None = None):
        """A function from a subset of ``customers`` (None: all) to their float32 score matrix.

        The user vectors are computed once, so repeated scoring (several priors tried on
        one validation window) costs only the matrix products.
        """
        ids, states = self._customers(customers)
        product_ids, item_vectors, item_bias = self._item_vectors(products)
        left, right = self._score_operands(
            self._user_vectors(ids, states), item_vectors, self._prior_terms(ids, product_ids)
        )

        def score(subset: pd.Index | None) -> np.ndarray:
            rows = np.arange(len(ids)) if subset is None else ids.get_indexer(pd.Index(subset).astype(str))
            if (rows < 0).any():
                raise ValueError("scorer asked for customers it was not built for")
            index = torch.as_tensor(rows, device=left.device)
            with torch.no_grad():
                return torch.addmm(item_bias, left[index], right).cpu().numpy()

        return score

    def log_likelihood(self, held_out: pd.DataFrame) -> np.ndarray:
        """Log-softmax over the catalogue (bought items excluded) of each held-out (customer, product) pair.

        The mean is the validation log-likelihood the early stopping follows: it uses the
        whole ranking of every held-out item, so it is far less noisy than recall@10.
        """
        customers = pd.Index(np.sort(held_out["customer_unique_id"].unique()))
        return self.window_figures(held_out, customers, top_k=0)[1]

    def window_figures(
        self, held_out: pd.DataFrame, customers: pd.Index, top_k: int = 10
    ) -> tuple[pd.DataFrame, np.ndarray]:
        """``ranked(customers, top_k=top_k)`` and the log-likelihood of each held-out pair of
        those customers (in the order of ``held_out``'s unique pairs sorted by customer), in
        one pass over the scores: early stopping needs both after every epoch."""
        pairs = held_out[["customer_unique_id", "product_id"]].drop_duplicates()
        ids, states = self._customers(customers)
        product_ids = self._item_vectors(None)[0]
        target_rows = ids.get_indexer(pairs["customer_unique_id"])
        target_columns = product_ids.get_indexer(pairs["product_id"])
        if (target_rows < 0).any():
            raise ValueError("held-out pairs name customers outside the given customers")
        if (target_columns < 0).any():
            raise ValueError("held-out products are missing from the model's catalogue")
        order = np.argsort(target_rows, kind="stable")
        target_rows, target_columns = target_rows[order], target_columns[order]
        log_likelihood = np.empty(len(target_rows))
        frames = []
        for start, stop, scores in self._chunks(ids, states, None, exclude_bought=True):
            top = self._top(scores, top_k) if top_k else None
            lo, hi = np.searchsorted(target_rows, [start, stop])
            rows = torch.as_tensor(target_rows[lo:hi] - start, device=scores.device)
            columns = torch.as_tensor(target_columns[lo:hi], device=scores.device)
            with torch.no_grad():
                targets = scores[rows, columns]
                normaliser = _logsumexp_in_place(scores)
                log_likelihood[lo:hi] = (targets - normaliser[rows]).cpu().numpy()
            if top is not None:
                frames.append(self._top_frame(ids, product_ids, start, *top, normaliser))
        return self._ranked_frame(frames), log_likelihood

    @staticmethod
    def _top(scores: torch.Tensor, top_k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, torch.Tensor]:
        """(rows, ranks from 0, columns, scores) of each row's top k."""
        positions = top_k_positions(scores, top_k)
        rows, ranks = np.nonzero(positions >= 0)
        columns = positions[rows, ranks]
        with torch.no_grad():
            chosen = scores[torch.as_tensor(rows, device=scores.device), torch.as_tensor(columns, device=scores.device)]
        return rows, ranks, columns, chosen

    @staticmethod
    def _top_frame(
        ids: pd.Index,
        product_ids: pd.Index,
        start: int,
        rows: np.ndarray,
        ranks: np.ndarray,
        columns: np.ndarray,
        chosen: torch.Tensor,
        normaliser: torch.Tensor,
    ) -> pd.DataFrame:
        with torch.no_grad():
            log_softmax = chosen - normaliser[torch.as_tensor(rows, device=chosen.device)]
        return pd.DataFrame(
            {
                "customer_unique_id": ids[start + rows],
                "product_id": product_ids[columns],
                "rank": (ranks + 1).astype("int64"),
                "score": chosen.cpu().numpy().astype("float64"),
                "log_softmax": log_softmax.cpu().numpy().astype("float64"),
            }
        )

    @staticmethod
    def _ranked_frame(frames: list[pd.DataFrame]) -> pd.DataFrame:
        if not frames:
            return pd.DataFrame(
                {"customer_unique_id": [], "product_id": [], "rank": [], "score": [], "log_softmax": []}
            ).astype({"rank": "int64", "score": "float64", "log_softmax": "float64"})
        return pd.concat(frames, ignore_index=True)

    def ranked(
        self,
        customers: pd.DataFrame | pd.Series | pd.Index,
        products: pd.DataFrame | None = None,
        top_k: int = 10,
        exclude_bought: bool = True,
    ) -> pd.DataFrame:
        """Top-K per customer with score and log_softmax (the model's share of the customer's next purchase)."""
        if top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {top_k}")
        ids, states = self._customers(customers)
        product_ids = self._item_vectors(products)[0]
        frames = []
        for start, _, scores in self._chunks(ids, states, products, exclude_bought):
            top = self._top(scores, top_k)
            with torch.no_grad():
                normaliser = _logsumexp_in_place(scores)
            frames.append(self._top_frame(ids, product_ids, start, *top, normaliser))
        return self._ranked_frame(frames)

    def recommend(
        self,
        customers: pd.DataFrame | pd.Series | pd.Index,
        products: pd.DataFrame | None = None,
        top_k: int = 10,
        exclude_bought: bool = True,
    ) -> pd.DataFrame:
        """customer_unique_id, product_id, rank 1..K, score, probability.

        A customer unknown to the model is scored from its state (``customer_state`` in the
        frame, else the state the model saw, else unknown). ``probability`` is the calibrated
        probability that the customer buys the item within the calibration horizon, given
        that they buy something then; NaN when the model has no calibrator.
        """
        ranked = self.ranked(customers, products, top_k, exclude_bought)
        if self.calibrator is None:
            probability = np.full(len(ranked), np.nan)
        else:
            probability = self.calibrator.predict(ranked["log_softmax"].to_numpy())
        return ranked.drop(columns="log_softmax").assign(probability=probability)

    def predict(self, customers: pd.DataFrame) -> pd.DataFrame:
        """MLflow's pyfunc entry point: the top-10 recommendations of ``customers``."""
        return self.recommend(customers)

    def user_embeddings(self, customers: pd.DataFrame | pd.Series | pd.Index) -> pd.DataFrame:
        """customer_unique_id, embedding_0..embedding_{d-1} (unit vectors) and prior_weight (see item_embeddings)."""
        ids, states = self._customers(customers)
        vectors = self._user_vectors(ids, states).cpu().numpy()
        frame = pd.DataFrame(vectors, columns=[f"embedding_{i}" for i in range(vectors.shape[1])])
        frame.insert(0, "customer_unique_id", ids.to_numpy())
        prior = self._prior_terms(ids, pd.Index([], dtype="object"))
        frame["prior_weight"] = prior[0].cpu().numpy() if prior is not None else 0.0
        return frame

    def item_embeddings(self, products: pd.DataFrame | None = None) -> pd.DataFrame:
        """product_id, embedding_0..embedding_{d-1}, bias and log_recent_buyers.

        score = user . item / temperature + bias + user's prior_weight * log_recent_buyers
        (log_recent_buyers is 0 without a prior).
        """
        product_ids, vectors, bias = self._item_vectors(products)
        vectors_np = vectors.cpu().numpy()
        frame = pd.DataFrame(vectors_np, columns=[f"embedding_{i}" for i in range(vectors_np.shape[1])])
        frame.insert(0, "product_id", product_ids.to_numpy())
        frame["bias"] = bias.cpu().numpy()
        frame["log_recent_buyers"] = (
            self.prior.item_log_buyers(self.events, self.reference_time, product_ids)
            if self.prior is not None
            else np.zeros(len(product_ids))
        )
        return frame
