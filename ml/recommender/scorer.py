"""A fitted two-tower recommender that scores as of a moment: lists, score matrices, likelihoods, embeddings."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import torch

from ml.recommender.encoder import FeatureEncoder
from ml.recommender.frames import isin
from ml.recommender.metrics import chunk_rows, top_k_positions
from ml.recommender.network import TwoTowerNet
from ml.recommender.prior import PopularityPrior
from ml.recommender.torch_runtime import choose_device


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
