"""What every recommender candidate offers, and the item-based machinery most of them share.

A candidate is a family with a small grid of hyper-parameters. ``fit(data, params)`` learns
from the interactions known before ``data.boundary`` and returns a fitted recommender,
which the evaluation only ever asks for scores: ``scorer(customers)`` gives a function from (a chunk of)
those customer ids to a (customers x catalogue) score matrix, or one score vector shared by everyone.
``rebased(data)`` keeps what was learned and takes the customers' histories as of another
moment: how the evaluated model is scored on today's test window and how a champion from
an earlier run scores today's customers. ``applies_to(shape)`` says when a candidate must
step aside and why (too few items, too large a catalogue for its memory), so that the run
goes on with the others.

Item-based candidates (popularity, item-kNN, EASE^R, matrix factorisation) share
:class:`ItemBasedRecommender`: their learned state is an ``ItemModel`` that maps rows of a
customer x catalogue history matrix to scores, so batch scoring, real-time scoring of one
customer in context and similar items are the same computation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.isotonic import IsotonicRegression

from ml.recommender.evaluation import SUPPORT_BLOCK, SupportScorer
from ml.recommender.metrics import (
    chunk_rows,
    shared_top_k_positions,
    support_top_k_positions,
    support_values,
    tie_break_order,
    top_k_positions,
)
from ml.recommender.split import purchase_events

Scorer = Callable[[pd.Index], np.ndarray]
# The tie-break below must never reorder two items a model scores apart; model scores in
# double precision differ by far more than this when they differ at all.
TIE_BREAK_SCALE = 1e-9
# The size rule of the candidates that score every item of every customer by a dot product
# (ALS, the two-tower): customers x catalogue above this many scores, they step aside. At
# 10^10 one scoring pass over every customer takes about 40 s on two cores (3 x 10^9 took
# 11 s at 100K orders), and a run makes several (validation settings, test, calibration,
# promotion, the published lists); at 1M Olist-like orders (850K customers, 313K products,
# 2.7 x 10^11) publishing alone took 32 minutes. Item-kNN and EASE^R rank from their sparse
# scores instead and have no such limit.
DENSE_SCORING_LIMIT = 10**10


@dataclass(frozen=True)
class DataShape:
    """What a candidate needs to know to decide whether it applies."""

    customers: int
    catalogue: int
    bought_items: int
    pairs: int
    repeat_share: float  # customers with purchases at two or more moments / customers
    days: int

    def too_large_to_score_densely(self, candidate: str) -> str | None:
        """Why ``candidate`` steps aside under the dense-scoring size rule, or None."""
        scores = self.customers * self.catalogue
        if scores <= DENSE_SCORING_LIMIT:
            return None
        return (
            f"{candidate} scores every item for every customer: {self.customers:,} customers x "
            f"{self.catalogue:,} items = {scores:.1e} scores, above its size rule of {DENSE_SCORING_LIMIT:.0e}"
        )

    @classmethod
    def of(cls, known: pd.DataFrame, catalogue: int) -> DataShape:
        moments = known.groupby("customer_unique_id")["first_purchased_at"].nunique()
        repeated = (known["purchase_count"] > 1).groupby(known["customer_unique_id"]).any()
        repeaters = (moments > 1) | repeated.reindex(moments.index, fill_value=False)
        span = known["last_purchased_at"].max() - known["first_purchased_at"].min() if len(known) else pd.Timedelta(0)
        return cls(
            customers=int(len(moments)),
            catalogue=int(catalogue),
            bought_items=int(known["product_id"].nunique()),
            pairs=int(len(known)),
            repeat_share=float(repeaters.mean()) if len(moments) else 0.0,
            days=int(span / pd.Timedelta(days=1)) + 1 if len(known) else 0,
        )


@dataclass
class FitData:
    """What a candidate may learn from: everything known before ``boundary``.

    ``known`` are interactions passed through ``known_before(boundary)``; ``validation``
    the pairs first bought in the window after the boundary, given only when fitting for
    the validation window, for candidates that stop early on it (the two-tower).
    ``recent_days`` is the recent-popularity window chosen on validation, which every
    item-based candidate uses to order the items its own scores leave tied.
    """

    known: pd.DataFrame
    boundary: pd.Timestamp
    catalog: pd.DataFrame
    states: pd.Series
    orders: pd.DataFrame | None
    recent_days: int = 30
    validation: pd.DataFrame | None = None
    seed: int = 0
    # Every candidate and setting fitted on these data shares the history matrix and the
    # popularity counts; building them is a good part of a fit on a large catalogue.
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def catalog_ids(self) -> pd.Index:
        if "catalog_ids" not in self._cache:
            self._cache["catalog_ids"] = pd.Index(self.catalog["product_id"])
        return self._cache["catalog_ids"]

    def history(self) -> tuple[pd.Index, sparse.csr_matrix]:
        """``history_matrix`` of ``known`` over the catalogue, computed once."""
        if "history" not in self._cache:
            self._cache["history"] = history_matrix(self.known, self.catalog_ids)
        return self._cache["history"]

    def popularity(self, days: int | None) -> np.ndarray:
        """Distinct buyers per item (``days`` None) or ``recent_popularity`` over ``days``, computed once each."""
        key = ("popularity", days)
        if key not in self._cache:
            if days is None:
                self._cache[key] = buyers_per_item(self.known, self.catalog_ids)
            else:
                self._cache[key] = recent_popularity(self.known, self.catalog_ids, self.boundary, days)
        return self._cache[key]


class FittedRecommender(Protocol):
    name: str
    family: str
    params: dict[str, Any]

    def scorer(self, customers: pd.Index) -> Scorer | np.ndarray: ...

    def rebased(self, data: FitData) -> FittedRecommender: ...

    def recommend(
        self, customers: pd.DataFrame | pd.Index, top_k: int, exclude_bought: bool = True
    ) -> pd.DataFrame: ...


class Candidate(Protocol):
    name: str
    family: str
    # Lower is simpler: a tie on the selection metric goes to the simpler candidate.
    simplicity: int

    def applies_to(self, shape: DataShape) -> str | None: ...

    def grid(self) -> list[dict[str, Any]]: ...

    def fit(self, data: FitData, params: dict[str, Any]) -> FittedRecommender: ...


class ItemModel(Protocol):
    """Learned item-side state: scores for each row of a (customers x catalogue) 0/1 history.

    A model whose scores are zero for most items (item-kNN: only items bought with the
    customer's; EASE^R on a large catalogue: only the modelled items) may also offer
    ``score_support(history) -> csr_matrix``, the same scores with every item it does not
    store scoring exactly 0. Publishing then ranks each customer from those entries and the
    tie-break order instead of a dense row of the whole catalogue (see
    ``support_top_k_frame``).
    """

    def score_rows(self, history: sparse.csr_matrix) -> np.ndarray: ...


@dataclass
class ReindexedModel:
    """A model learned on one catalogue, scoring another: new products score lowest, gone ones are dropped."""

    inner: ItemModel
    old_ids: pd.Index
    to_old: sparse.csr_matrix  # new catalogue x old catalogue, 1 where the product is the same
    present: np.ndarray  # old position of each new product, -1 for a product the model never saw

    @classmethod
    def between(cls, inner: ItemModel, old_ids: pd.Index, new_ids: pd.Index) -> ReindexedModel:
        present = old_ids.get_indexer(new_ids)
        kept = np.flatnonzero(present >= 0)
        to_old = sparse.csr_matrix((np.ones(kept.size), (kept, present[kept])), shape=(len(new_ids), len(old_ids)))
        return cls(inner, old_ids, to_old, present)

    def score_rows(self, history: sparse.csr_matrix) -> np.ndarray:
        old = np.asarray(self.inner.score_rows((history @ self.to_old).tocsr()), dtype="float64")
        # A product the model never saw ranks below every product it scored, whatever the sign
        # of the model's scores (EASE^R and ALS score some items below zero).
        floor = old.min(axis=1, keepdims=True) if old.size else np.zeros((history.shape[0], 1))
        scores = np.repeat(floor, self.present.size, axis=1)
        kept = self.present >= 0
        scores[:, kept] = old[:, self.present[kept]]
        return scores

    @property
    def score_support(self):
        """The inner model's ``score_support`` in the new catalogue's positions, where it has one."""
        inner = getattr(self.inner, "score_support", None)
        return None if inner is None else lambda history: self._support(inner, history)

    def _support(self, inner, history: sparse.csr_matrix) -> sparse.csr_matrix:
        old = inner((history @ self.to_old).tocsr()).tocsr()
        # The row's floor as score_rows has it: its lowest score over the old catalogue, where
        # the items not stored count as 0. New products take it; only a negative floor needs storing.
        coo = old.tocoo()
        floor = np.full(old.shape[0], np.inf)
        np.minimum.at(floor, coo.row, coo.data)
        partial = np.diff(old.indptr) < old.shape[1]
        floor[partial] = np.minimum(floor[partial], 0.0)
        new_of_old = np.full(old.shape[1], -1, dtype="int64")
        kept = np.flatnonzero(self.present >= 0)
        new_of_old[self.present[kept]] = kept
        columns = new_of_old[coo.col]
        keep = columns >= 0
        rows, columns, values = [coo.row[keep]], [columns[keep]], [coo.data[keep]]
        unseen = np.flatnonzero(self.present < 0)
        below = np.flatnonzero(floor < 0)
        if unseen.size and below.size:
            rows.append(np.repeat(below, unseen.size))
            columns.append(np.tile(unseen, below.size))
            values.append(np.repeat(floor[below], unseen.size))
        return sparse.csr_matrix(
            (np.concatenate(values), (np.concatenate(rows), np.concatenate(columns))),
            shape=(history.shape[0], self.present.size),
        )


def history_matrix(known: pd.DataFrame, catalog_ids: pd.Index) -> tuple[pd.Index, sparse.csr_matrix]:
    """Customers with a purchase in ``known`` and their 0/1 (customer x catalogue) matrix."""
    pairs = known[["customer_unique_id", "product_id"]].drop_duplicates()
    customers = pd.Index(np.sort(pairs["customer_unique_id"].unique()), name="customer_unique_id")
    rows = customers.get_indexer(pairs["customer_unique_id"])
    columns = catalog_ids.get_indexer(pairs["product_id"])
    if (columns < 0).any():
        raise ValueError("interactions name products that are not in the catalogue")
    matrix = sparse.csr_matrix(
        (np.ones(len(pairs), dtype="float64"), (rows, columns)), shape=(len(customers), len(catalog_ids))
    )
    return customers, matrix


def buyers_per_item(known: pd.DataFrame, catalog_ids: pd.Index, since: pd.Timestamp | None = None) -> np.ndarray:
    """Distinct buyers per catalogue item, counting purchases in [since, ...) when ``since`` is given."""
    if since is None:
        pairs = known[["customer_unique_id", "product_id"]]
    else:
        events = purchase_events(known)
        pairs = events.loc[events["purchased_at"] >= since, ["customer_unique_id", "product_id"]]
    counts = pairs.drop_duplicates()["product_id"].value_counts()
    return counts.reindex(catalog_ids, fill_value=0).to_numpy(dtype="float64")


def recent_popularity(known: pd.DataFrame, catalog_ids: pd.Index, boundary: pd.Timestamp, days: int) -> np.ndarray:
    """Buyers in the last ``days`` days, ties broken by all-time buyers (a value below 1)."""
    overall = buyers_per_item(known, catalog_ids)
    recent = buyers_per_item(known, catalog_ids, since=boundary - pd.Timedelta(days=days))
    return recent + overall / (overall.max(initial=0.0) + 1.0)


def tie_break(item_scores: np.ndarray) -> np.ndarray:
    """``item_scores`` mapped to [0, TIE_BREAK_SCALE): their order, too small to change any other."""
    order = np.lexsort((np.arange(item_scores.size), -item_scores))
    rank = np.empty(item_scores.size, dtype="float64")
    rank[order] = np.arange(item_scores.size)
    return TIE_BREAK_SCALE * (1.0 - (rank + 1.0) / max(item_scores.size, 1))


class RankCalibrator:
    """P(the item at rank r is bought in the window), from the validation lists, monotone in r.

    Model-agnostic: it needs ranks and outcomes only, so every candidate's lists get a
    ``probability`` that means the same thing (the two-tower keeps its score-based calibrator).
    """

    def __init__(self) -> None:
        self._isotonic = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=False, out_of_bounds="clip")

    def fit(self, recommendations: pd.DataFrame, held_out: pd.DataFrame) -> RankCalibrator:
        bought = pd.MultiIndex.from_frame(held_out[["customer_unique_id", "product_id"]])
        hit = pd.MultiIndex.from_frame(recommendations[["customer_unique_id", "product_id"]]).isin(bought)
        if not len(recommendations):
            raise ValueError("no validation recommendations to calibrate on")
        self._isotonic.fit(recommendations["rank"].to_numpy(dtype="float64"), hit.astype("float64"))
        return self

    def predict(self, ranks: np.ndarray) -> np.ndarray:
        return np.clip(self._isotonic.predict(np.asarray(ranks, dtype="float64")), 0.0, 1.0)


def _customer_index(customers: pd.DataFrame | pd.Series | pd.Index) -> pd.Index:
    ids = customers["customer_unique_id"] if isinstance(customers, pd.DataFrame) else customers
    return pd.Index(pd.unique(pd.Series(np.asarray(ids), dtype="object").astype(str)), name="customer_unique_id")


def top_k_frame(
    scorer: Scorer,
    customer_ids: pd.Index,
    catalog_ids: pd.Index,
    excluded: Callable[[pd.Index], tuple[np.ndarray, np.ndarray]] | None,
    top_k: int,
) -> pd.DataFrame:
    """customer_unique_id, product_id, rank 1..K, score: each customer's best K, ``excluded`` pairs removed.

    ``excluded(ids)`` gives (row, column) positions, within ``ids``, that must not be listed.
    """
    if top_k < 1:
        raise ValueError(f"top_k must be at least 1, got {top_k}")
    frames = []
    step = chunk_rows(len(catalog_ids))
    for start in range(0, len(customer_ids), step):
        ids = customer_ids[start : start + step]
        scores = np.array(scorer(ids), dtype="float64")
        if excluded is not None:
            rows, columns = excluded(ids)
            scores[rows, columns] = -np.inf
        positions = top_k_positions(scores, top_k)
        frames.append(_ranked(ids, catalog_ids, positions, scores))
    return _concat(frames)


def _ranked(ids: pd.Index, catalog_ids: pd.Index, positions: np.ndarray, scores: np.ndarray) -> pd.DataFrame:
    """customer_unique_id, product_id, rank, score from a (customers x k) block of catalogue positions;
    ``scores`` is the block's (customers x catalogue) matrix, or one vector shared by every row."""
    row, rank = np.nonzero(positions >= 0)
    column = positions[row, rank]
    chosen = scores[column] if scores.ndim == 1 else scores[row, column]
    return _frame(ids, catalog_ids, row, rank, column, chosen)


def _frame(ids, catalog_ids, row, rank, column, chosen) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_unique_id": ids[row],
            "product_id": catalog_ids[column],
            "rank": (rank + 1).astype("int64"),
            "score": np.asarray(chosen, dtype="float64"),
        }
    )


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    if not frames:
        return pd.DataFrame({"customer_unique_id": [], "product_id": [], "rank": [], "score": []}).astype(
            {"rank": "int64", "score": "float64"}
        )
    return pd.concat(frames, ignore_index=True)


def shared_top_k_frame(
    item_scores: np.ndarray,
    customer_ids: pd.Index,
    catalog_ids: pd.Index,
    excluded: Callable[[pd.Index], tuple[np.ndarray, np.ndarray]] | None,
    top_k: int,
) -> pd.DataFrame:
    """``top_k_frame`` for one score vector shared by everyone: ranked once, no customer x catalogue matrix."""
    frames = []
    step = 65_536
    for start in range(0, len(customer_ids), step):
        ids = customer_ids[start : start + step]
        rows, columns = excluded(ids) if excluded is not None else (np.empty(0, "int64"), np.empty(0, "int64"))
        positions = shared_top_k_positions(item_scores, top_k, rows, columns, len(ids))
        frames.append(_ranked(ids, catalog_ids, positions, item_scores))
    return _concat(frames)


def support_top_k_frame(
    support: Callable[[pd.Index], sparse.csr_matrix],
    tie_breaker: np.ndarray,
    customer_ids: pd.Index,
    catalog_ids: pd.Index,
    excluded: Callable[[pd.Index], tuple[np.ndarray, np.ndarray]] | None,
    top_k: int,
) -> pd.DataFrame:
    """``top_k_frame`` for scores that are ``support(ids)``'s stored entries, 0 elsewhere, plus
    ``tie_breaker``: the same lists, ranked by ``support_top_k_positions`` without a
    (customers x catalogue) matrix. At 950K customers and a 313K-item catalogue this is the
    difference between ranking 3 x 10^11 scores and a few hundred per customer."""
    if top_k < 1:
        raise ValueError(f"top_k must be at least 1, got {top_k}")
    order = tie_break_order(tie_breaker)
    frames = []
    for start in range(0, len(customer_ids), SUPPORT_BLOCK):
        ids = customer_ids[start : start + SUPPORT_BLOCK]
        scored = support(ids).tocsr()
        rows, columns = excluded(ids) if excluded is not None else (np.empty(0, "int64"), np.empty(0, "int64"))
        positions = support_top_k_positions(scored, tie_breaker, rows, columns, top_k, order)
        row, rank = np.nonzero(positions >= 0)
        column = positions[row, rank]
        frames.append(_frame(ids, catalog_ids, row, rank, column, support_values(scored, tie_breaker, row, column)))
    return _concat(frames)


@dataclass
class ItemBasedRecommender:
    """An ``ItemModel`` with the customers' histories as of ``boundary``.

    Scores are the model's, plus recent popularity as a tie-break far below any difference
    the model makes: a customer without history (a first-time buyer) gets the recent
    popularity ranking, which is the best a model without features can do for them.
    """

    name: str
    family: str
    params: dict[str, Any]
    model: ItemModel
    catalog: pd.DataFrame
    boundary: pd.Timestamp
    customers: pd.Index
    history: sparse.csr_matrix
    tie_breaker: np.ndarray
    recent_days: int
    shared: np.ndarray | None = None  # one score vector for everyone (popularity): ranked once
    calibrator: RankCalibrator | None = None
    vectors: Callable[[ItemBasedRecommender, pd.Index], tuple[pd.DataFrame, pd.DataFrame]] | None = field(
        default=None, repr=False
    )

    @classmethod
    def build(
        cls, name: str, family: str, params: dict[str, Any], model: ItemModel, data: FitData, shared: bool = False
    ) -> ItemBasedRecommender:
        customers, history = data.history()
        popularity = data.popularity(data.recent_days)
        fitted = cls(
            name=name,
            family=family,
            params=dict(params),
            model=model,
            catalog=data.catalog,
            boundary=pd.Timestamp(data.boundary),
            customers=customers,
            history=history,
            tie_breaker=tie_break(popularity),
            recent_days=data.recent_days,
        )
        if shared:
            fitted.shared = fitted._row_scores(sparse.csr_matrix((1, len(data.catalog_ids))))[0]
        return fitted

    @property
    def catalog_ids(self) -> pd.Index:
        return pd.Index(self.catalog["product_id"])

    def rebased(self, data: FitData) -> ItemBasedRecommender:
        """The same learned model, with histories and the tie-break as of ``data.boundary``.

        A model that is a rule over the data rather than a fit (popularity) recomputes itself.
        """
        rebase = getattr(self.model, "rebase", None)
        learned, learned_ids = (
            (self.model.inner, self.model.old_ids)
            if isinstance(self.model, ReindexedModel)
            else (self.model, self.catalog_ids)
        )
        if rebase is not None:
            model = rebase(data)
        elif learned_ids.equals(data.catalog_ids):
            model = learned
        else:
            model = ReindexedModel.between(learned, learned_ids, data.catalog_ids)
        rebased = ItemBasedRecommender.build(
            self.name, self.family, self.params, model, data, shared=self.shared is not None
        )
        rebased.calibrator, rebased.vectors = self.calibrator, self.vectors
        return rebased

    def with_calibrator(self, calibrator: RankCalibrator | None) -> ItemBasedRecommender:
        self.calibrator = calibrator
        return self

    def _row_scores(self, history: sparse.csr_matrix) -> np.ndarray:
        scores = np.array(self.model.score_rows(history), dtype="float64", copy=None)
        if scores.shape != (history.shape[0], len(self.tie_breaker)):
            raise ValueError(
                f"{self.name} scored shape {scores.shape}, expected {(history.shape[0], len(self.tie_breaker))}"
            )
        if not scores.flags.writeable:
            scores = scores.copy()
        scores += self.tie_breaker  # in place: the chunk is this call's own, and large
        return scores

    def rows_of(self, customer_ids: pd.Index) -> sparse.csr_matrix:
        """History rows of ``customer_ids`` (an empty row for a customer without history)."""
        positions = self.customers.get_indexer(customer_ids)
        known = positions >= 0
        selector = sparse.csr_matrix(
            (np.ones(int(known.sum())), (np.flatnonzero(known), positions[known])),
            shape=(len(customer_ids), len(self.customers)),
        )
        return (selector @ self.history).tocsr()

    def score(self, customer_ids: pd.Index) -> np.ndarray:
        if self.shared is not None:
            return np.broadcast_to(self.shared, (len(customer_ids), self.shared.size)).copy()
        return self._row_scores(self.rows_of(customer_ids))

    def scorer(self, customers: pd.Index | None = None) -> Scorer | np.ndarray | SupportScorer:
        """Scores for the evaluation: one shared vector, the sparse scores and the tie-break
        where the model has them, or a function of any customer ids."""
        if self.shared is not None:
            return self.shared
        if getattr(self.model, "score_support", None) is not None:
            return SupportScorer(self._support, self.tie_breaker)
        return self.score

    def _support(self, customer_ids: pd.Index) -> sparse.csr_matrix:
        return self.model.score_support(self.rows_of(customer_ids))

    def score_history(self, positions: np.ndarray) -> np.ndarray:
        """Scores of one customer who bought the catalogue ``positions``: real-time scoring."""
        positions = np.unique(np.asarray(positions, dtype="int64"))
        row = sparse.csr_matrix(
            (np.ones(positions.size), (np.zeros(positions.size, dtype="int64"), positions)),
            shape=(1, len(self.tie_breaker)),
        )
        return self._row_scores(row)[0]

    def bought_positions(self, customer_id: str) -> np.ndarray:
        row = self.customers.get_indexer([customer_id])[0]
        if row < 0:
            return np.empty(0, dtype="int64")
        return self.history.indices[self.history.indptr[row] : self.history.indptr[row + 1]].astype("int64")

    def _excluded(self, ids: pd.Index) -> tuple[np.ndarray, np.ndarray]:
        rows = self.rows_of(ids).tocoo()
        return rows.row.astype("int64"), rows.col.astype("int64")

    def recommend(
        self, customers: pd.DataFrame | pd.Series | pd.Index, top_k: int = 10, exclude_bought: bool = True
    ) -> pd.DataFrame:
        """customer_unique_id, product_id, rank 1..K, score, probability (NaN without a calibrator)."""
        ids = _customer_index(customers)
        if self.shared is not None:
            table = shared_top_k_frame(
                self.shared, ids, self.catalog_ids, self._excluded if exclude_bought else None, top_k
            )
        elif getattr(self.model, "score_support", None) is not None:
            table = support_top_k_frame(
                self._support,
                self.tie_breaker,
                ids,
                self.catalog_ids,
                self._excluded if exclude_bought else None,
                top_k,
            )
        else:
            table = top_k_frame(self.score, ids, self.catalog_ids, self._excluded if exclude_bought else None, top_k)
        probability = (
            self.calibrator.predict(table["rank"].to_numpy())
            if self.calibrator is not None
            else np.full(len(table), np.nan)
        )
        return table.assign(probability=probability)

    def embeddings(self, customers: pd.DataFrame | pd.Series | pd.Index) -> tuple[pd.DataFrame, pd.DataFrame] | None:
        """(user, item) vectors where the model has them (matrix factorisation), else None."""
        if self.vectors is None:
            return None
        return self.vectors(self, _customer_index(customers))
