"""Ranking and calibration metrics: pure functions on small frames and arrays.

Full-catalog protocol: each customer's top-K list over the whole catalogue, with the items
they bought before the cutoff removed, against every item they bought after it. The
figures are means over customers: HR@K is 1 when at least one held-out item is in the top
K, MRR@K is 1/rank of the first one (0 when none), NDCG@K uses binary relevance and the
ideal DCG of min(held-out items, K) hits.

Sampled protocol (the one many papers report, kept apart because it flatters every model):
each held-out item is ranked against a fixed set of random items the customer never bought;
the figures are means over (customer, held-out item) pairs.

Ties go to the item that comes first in the catalogue order, in both protocols, so that a
rank is the position the item would take in a top-K list.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from scipy import sparse

from ml.recommender.frames import isin

# Scores held at once while ranking: 2^26 float32 (256 MiB) is 200 customers of a
# 300K-product catalogue, or 2,000 of a 30K one.
CHUNK_ELEMENTS = 2**26


def chunk_rows(columns: int, most: int = 4096) -> int:
    """Rows of a score chunk with ``columns`` columns that stay within CHUNK_ELEMENTS."""
    return max(1, min(most, CHUNK_ELEMENTS // max(columns, 1)))


def per_customer_metrics(recommendations: pd.DataFrame, held_out: pd.DataFrame, k: int = 10) -> pd.DataFrame:
    """One row per held-out customer: ``first_hit`` (rank of the first hit, NaN for none) and ``ndcg``.

    ``recommendations``: customer_unique_id, product_id, rank (1 = best). ``held_out``:
    customer_unique_id, product_id, one row per item bought in the evaluation window. A
    held-out customer without recommendations counts as a miss.
    """
    relevant = held_out[["customer_unique_id", "product_id"]].drop_duplicates()
    customers = pd.Index(relevant["customer_unique_id"].unique(), name="customer_unique_id")
    if customers.empty:
        raise ValueError("held_out is empty: there is nothing to evaluate")
    top = recommendations.loc[
        (recommendations["rank"] <= k) & isin(recommendations["customer_unique_id"], customers),
        ["customer_unique_id", "product_id", "rank"],
    ]
    hits = top.merge(relevant, on=["customer_unique_id", "product_id"], how="inner")
    first_hit = hits.groupby("customer_unique_id")["rank"].min().reindex(customers).astype("float64")
    dcg = (
        (1.0 / np.log2(hits["rank"] + 1.0)).groupby(hits["customer_unique_id"]).sum().reindex(customers, fill_value=0.0)
    )
    relevant_count = relevant.groupby("customer_unique_id").size().reindex(customers).clip(upper=k)
    discounts = np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))
    ideal = discounts[relevant_count.to_numpy() - 1]
    return pd.DataFrame({"first_hit": first_hit, "ndcg": dcg.to_numpy() / ideal}, index=customers)


def ranking_metrics(
    recommendations: pd.DataFrame, held_out: pd.DataFrame, catalog_size: int, k: int = 10
) -> dict[str, float]:
    """Full-catalog HR@1, HR@K, NDCG@K, MRR@K and catalogue coverage over the held-out customers.

    Inputs as in :func:`per_customer_metrics`. Coverage is the share of the ``catalog_size``
    items that appear in some held-out customer's top K.
    """
    if catalog_size < 1:
        raise ValueError(f"catalog_size must be >= 1, got {catalog_size}")
    per_customer = per_customer_metrics(recommendations, held_out, k)
    first_hit = per_customer["first_hit"]
    top = recommendations.loc[
        (recommendations["rank"] <= k) & isin(recommendations["customer_unique_id"], per_customer.index)
    ]
    return {
        "customers": float(len(per_customer)),
        "hr_at_1": float((first_hit == 1).mean()),
        f"hr_at_{k}": float(first_hit.notna().mean()),
        f"ndcg_at_{k}": float(per_customer["ndcg"].mean()),
        f"mrr_at_{k}": float((1.0 / first_hit).fillna(0.0).mean()),
        "catalog_coverage": float(top["product_id"].nunique() / catalog_size),
    }


def paired_bootstrap(
    a: np.ndarray, b: np.ndarray, resamples: int = 2000, level: float = 0.95, seed: int = 0
) -> dict[str, float]:
    """Mean of ``a - b`` and its percentile bootstrap interval, resampling the paired units.

    ``a`` and ``b`` are one model's and another's per-customer figures on the same customers,
    so that the customers' shared difficulty cancels out of the difference.
    """
    a, b = np.asarray(a, dtype="float64"), np.asarray(b, dtype="float64")
    if a.shape != b.shape or a.ndim != 1 or a.size == 0:
        raise ValueError("a and b must be non-empty 1-d arrays of the same length")
    return bootstrap_means((a - b)[None, :], resamples, level, seed)[0]


def bootstrap_means(
    differences: np.ndarray, resamples: int = 2000, level: float = 0.95, seed: int = 0
) -> list[dict[str, float]]:
    """``paired_bootstrap`` of every row of ``differences`` (paired differences over the same
    units), each row with the resamples that call would draw: the draws, most of the cost,
    are made once for all rows."""
    differences = np.asarray(differences, dtype="float64")
    if differences.ndim != 2 or differences.shape[1] == 0:
        raise ValueError("differences must be a 2-d array with at least one unit per row")
    if resamples < 1 or not 0 < level < 1:
        raise ValueError(f"need resamples >= 1 and 0 < level < 1, got {resamples} and {level}")
    units = differences.shape[1]
    rng = np.random.default_rng(seed)
    means = np.empty((differences.shape[0], resamples))
    # Chunks keep the index matrix small when there are many customers.
    chunk = max(1, 4_000_000 // units)
    for start in range(0, resamples, chunk):
        stop = min(start + chunk, resamples)
        drawn = rng.integers(0, units, size=(stop - start, units))
        for row, difference in enumerate(differences):
            means[row, start:stop] = difference[drawn].mean(1)
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail], axis=1)
    return [
        {"difference": float(difference.mean()), "ci_low": float(lo), "ci_high": float(hi)}
        for difference, lo, hi in zip(differences, low, high, strict=True)
    ]


def sampled_ranks(
    target_scores: np.ndarray,
    negative_scores: np.ndarray,
    target_positions: np.ndarray | None = None,
    negative_positions: np.ndarray | None = None,
) -> np.ndarray:
    """1-based rank of each target among itself and its row of negatives.

    A negative scored equal to the target ranks above it when its catalogue position is
    smaller (positions given), so ties are broken as in a top-K list; without positions a
    tie counts against the target (the pessimistic rank).
    """
    target_scores = np.asarray(target_scores, dtype="float64")
    negative_scores = np.asarray(negative_scores, dtype="float64")
    above = (negative_scores > target_scores[:, None]).sum(axis=1)
    ties = negative_scores == target_scores[:, None]
    if target_positions is None or negative_positions is None:
        tied_above = ties.sum(axis=1)
    else:
        tied_above = (ties & (np.asarray(negative_positions) < np.asarray(target_positions)[:, None])).sum(axis=1)
    return 1 + above + tied_above


def sampled_metrics(ranks: Sequence[int] | np.ndarray, k: int = 10) -> dict[str, float]:
    """HR@1, HR@K, NDCG@K and MRR@K from the ranks of held-out items among sampled negatives."""
    ranks = np.asarray(ranks, dtype="float64")
    if ranks.size == 0:
        raise ValueError("no ranks to evaluate")
    if (ranks < 1).any():
        raise ValueError("ranks are 1-based")
    inside = ranks <= k
    return {
        "pairs": float(ranks.size),
        "hr_at_1": float((ranks == 1).mean()),
        f"hr_at_{k}": float(inside.mean()),
        f"ndcg_at_{k}": float(np.where(inside, 1.0 / np.log2(ranks + 1.0), 0.0).mean()),
        f"mrr_at_{k}": float(np.where(inside, 1.0 / ranks, 0.0).mean()),
    }


def sample_negatives(
    catalog_size: int, excluded: Sequence[np.ndarray], negatives: int = 99, seed: int = 0
) -> np.ndarray:
    """For each row, ``negatives`` distinct catalogue positions not in that row's ``excluded``.

    One generator seeded once, rows drawn in order: the same inputs give the same sample.
    """
    rng = np.random.default_rng(seed)
    result = np.empty((len(excluded), negatives), dtype="int64")
    for row, banned in enumerate(excluded):
        banned = np.unique(np.asarray(banned, dtype="int64"))
        allowed = catalog_size - banned.size
        if allowed < negatives:
            raise ValueError(
                f"row {row}: only {allowed} catalogue items are not excluded, fewer than {negatives} negatives"
            )
        # Rejection sampling: a few more draws than needed, duplicates and excluded items dropped.
        draw = np.empty(0, dtype="int64")
        while draw.size < negatives:
            extra = rng.integers(0, catalog_size, size=2 * negatives + banned.size)
            draw = pd.unique(np.concatenate([draw, extra]))
            draw = draw[~np.isin(draw, banned)]
        result[row] = draw[:negatives]
    return result


def expected_calibration_error(probability: np.ndarray, outcome: np.ndarray, bins: int = 10) -> dict[str, float]:
    """ECE over equal-count bins of predicted probability: sum of bin share x |mean predicted - observed rate|.

    Equal-count bins, because purchase probabilities crowd near zero and equal-width bins
    would put nearly every pair in the first one.
    """
    probability = np.asarray(probability, dtype="float64")
    outcome = np.asarray(outcome, dtype="float64")
    if probability.shape != outcome.shape or probability.size == 0:
        raise ValueError("probability and outcome must be non-empty and of the same length")
    if ((probability < 0) | (probability > 1)).any():
        raise ValueError("probabilities must lie in [0, 1]")
    order = np.argsort(probability, kind="stable")
    error = 0.0
    for chunk in np.array_split(order, min(bins, probability.size)):
        if chunk.size:
            error += chunk.size / probability.size * abs(probability[chunk].mean() - outcome[chunk].mean())
    return {
        "ece": float(error),
        "mean_probability": float(probability.mean()),
        "observed_rate": float(outcome.mean()),
        "pairs": float(probability.size),
    }


def top_k_positions(scores: np.ndarray | torch.Tensor, k: int) -> np.ndarray:
    """Each row's k best column positions, best first, ties to the smaller position; -1 pads.

    ``-inf`` marks a column that must not be recommended (already bought); a row with fewer
    than k finite scores is padded with -1. ``scores`` is a float array or tensor (any
    device); it is neither copied nor widened, since at a 300K-item catalogue a chunk of
    rows is hundreds of megabytes.
    """
    tensor = scores if isinstance(scores, torch.Tensor) else torch.from_numpy(np.asarray(scores))
    if not tensor.is_floating_point():
        tensor = tensor.double()
    rows, columns = tensor.shape
    k_eff = min(k, columns)
    result = np.full((rows, k), -1, dtype="int64")
    if rows == 0 or k_eff == 0:
        return result
    # torch's top-k is about ten times faster than np.partition. It leaves the order of tied
    # scores open, so its k + 1 best settle a row only when the k-th and the next differ;
    # the rare rows with a tie across that boundary are ranked from all their candidates.
    values, indices = torch.topk(tensor, min(k_eff + 1, columns), dim=1)
    values, indices = values.cpu().numpy(), indices.cpu().numpy()
    tied = np.zeros(rows, dtype=bool)
    if values.shape[1] > k_eff:
        tied = (values[:, k_eff - 1] == values[:, k_eff]) & np.isfinite(values[:, k_eff - 1])
    values, indices = values[:, :k_eff], indices[:, :k_eff]
    order = np.lexsort((indices, -values), axis=1)
    values, indices = np.take_along_axis(values, order, 1), np.take_along_axis(indices, order, 1)
    result[:, :k_eff] = np.where(np.isfinite(values), indices, -1)
    if tied.any():
        result[tied] = _top_k_with_ties(tensor[torch.as_tensor(tied, device=tensor.device)], k)
    return result


def _top_k_with_ties(tensor: torch.Tensor, k: int) -> np.ndarray:
    """top_k_positions from every candidate at or above each row's k-th value (ties by position)."""
    rows = tensor.shape[0]
    result = np.full((rows, k), -1, dtype="int64")
    k_eff = min(k, tensor.shape[1])
    kth = torch.topk(tensor, k_eff, dim=1).values[:, -1:]
    candidate_rows, candidate_columns = (part.cpu().numpy() for part in torch.nonzero(tensor >= kth, as_tuple=True))
    candidate_scores = tensor[candidate_rows, candidate_columns].cpu().numpy()
    order = np.lexsort((candidate_columns, -candidate_scores, candidate_rows))
    candidate_rows, candidate_columns = candidate_rows[order], candidate_columns[order]
    candidate_scores = candidate_scores[order]
    row_start = np.searchsorted(candidate_rows, np.arange(rows))
    place = np.arange(candidate_rows.size) - row_start[candidate_rows]
    keep = (place < k_eff) & np.isfinite(candidate_scores)
    result[candidate_rows[keep], place[keep]] = candidate_columns[keep]
    return result


def shared_top_k_positions(
    item_scores: np.ndarray, k: int, excluded_rows: np.ndarray, excluded_columns: np.ndarray, rows: int
) -> np.ndarray:
    """``top_k_positions`` of ``rows`` rows that all hold ``item_scores``, less each row's excluded columns.

    One ordering of the catalogue serves every row: a row's top k lie among the first k +
    (its excluded columns) of it, so nothing of size rows x catalogue is built.
    """
    item_scores = np.asarray(item_scores)
    result = np.full((rows, k), -1, dtype="int64")
    if rows == 0 or k == 0 or item_scores.size == 0:
        return result
    excluded_rows, excluded_columns = np.asarray(excluded_rows, "int64"), np.asarray(excluded_columns, "int64")
    widest = int(np.bincount(excluded_rows, minlength=rows).max()) if excluded_rows.size else 0
    order = np.lexsort((np.arange(item_scores.size), -item_scores))
    head = order[: k + widest]
    head = head[np.isfinite(item_scores[head])]
    place_in_head = np.full(item_scores.size, -1, dtype="int64")
    place_in_head[head] = np.arange(head.size)
    allowed = np.ones((rows, head.size), dtype=bool)
    place = place_in_head[excluded_columns]
    allowed[excluded_rows[place >= 0], place[place >= 0]] = False
    rank = np.cumsum(allowed, axis=1) - 1
    row, column = np.nonzero(allowed & (rank < k))
    result[row, rank[row, column]] = head[column]
    return result


def tie_break_order(tie_breaker: np.ndarray) -> np.ndarray:
    """Catalogue positions from the best tie-break score down, equal ones by position."""
    return np.lexsort((np.arange(tie_breaker.size), -tie_breaker))


def support_top_k_positions(
    scored: sparse.csr_matrix,
    tie_breaker: np.ndarray,
    excluded_rows: np.ndarray,
    excluded_columns: np.ndarray,
    k: int,
    order: np.ndarray | None = None,
) -> np.ndarray:
    """``top_k_positions`` of ``scored.toarray() + tie_breaker`` with the excluded pairs at -inf,
    without building that (rows x catalogue) matrix.

    Only the columns some row has a stored score or an exclusion in can be ordered
    differently from the tie-break order, and the first k other columns of the tie-break
    order hold every other item any row can list; those columns alone are made dense. A
    block of rows whose columns would exceed CHUNK_ELEMENTS is halved. ``order`` is
    ``tie_break_order(tie_breaker)``, passed in when many blocks share it.
    """
    order = tie_break_order(tie_breaker) if order is None else order
    scored = _canonical(scored)
    excluded_rows, excluded_columns = np.asarray(excluded_rows, "int64"), np.asarray(excluded_columns, "int64")
    by_row = np.argsort(excluded_rows, kind="stable")
    excluded_rows, excluded_columns = excluded_rows[by_row], excluded_columns[by_row]
    result = np.full((scored.shape[0], k), -1, dtype="int64")

    def rank_block(lo: int, hi: int) -> None:
        entries = slice(scored.indptr[lo], scored.indptr[hi])
        first, last = np.searchsorted(excluded_rows, [lo, hi])
        rows, columns = excluded_rows[first:last] - lo, excluded_columns[first:last]
        # A mask rather than a set union: sorting every stored index costs more than the ranking.
        mask = np.zeros(scored.shape[1], dtype=bool)
        mask[scored.indices[entries]] = True
        mask[columns] = True
        # Every other item scores its tie-break alone: only the first k of them can be listed.
        mask[order[~mask[order]][:k]] = True
        kept = np.flatnonzero(mask)
        if hi - lo > 1 and (hi - lo) * kept.size > CHUNK_ELEMENTS:
            middle = (lo + hi) // 2
            rank_block(lo, middle)
            rank_block(middle, hi)
            return
        place = np.cumsum(mask) - 1
        # The block's entries re-indexed onto the kept columns, made dense by scipy's own loop.
        scores = sparse.csr_matrix(
            (scored.data[entries], place[scored.indices[entries]], scored.indptr[lo : hi + 1] - scored.indptr[lo]),
            shape=(hi - lo, kept.size),
        ).toarray()
        scores = scores.astype("float64", copy=False)
        scores += tie_breaker[kept]
        scores[rows, place[columns]] = -np.inf
        local = top_k_positions(scores, k)
        result[lo:hi] = np.where(local >= 0, kept[np.maximum(local, 0)], -1)

    if scored.shape[0]:
        rank_block(0, scored.shape[0])
    return result


def _canonical(scored: sparse.csr_matrix) -> sparse.csr_matrix:
    """``scored`` with sorted indices and duplicates summed (as toarray() would add them), copied only if needed."""
    if scored.has_canonical_format:
        return scored
    scored = scored.copy()
    scored.sum_duplicates()
    return scored


def support_values(scored: sparse.csr_matrix, tie_breaker: np.ndarray, rows: np.ndarray, columns: np.ndarray):
    """``scored.toarray()[rows, columns] + tie_breaker[columns]`` without the dense matrix (any shape).

    A binary search over the stored entries' (row, column) keys: scipy's own lookup scans a
    whole row per query whenever there are fewer queries than a tenth of the entries, which
    for EASE's dense rows of thousands of items is most of the evaluation's time.
    """
    rows, columns = np.asarray(rows, "int64"), np.asarray(columns, "int64")
    values = np.zeros(rows.size)
    if rows.size and scored.nnz:
        scored = _canonical(scored)
        width = np.int64(scored.shape[1])
        keys = np.repeat(np.arange(scored.shape[0], dtype="int64"), np.diff(scored.indptr)) * width + scored.indices
        wanted = rows.ravel() * width + columns.ravel()
        at = np.minimum(np.searchsorted(keys, wanted), keys.size - 1)
        found = keys[at] == wanted
        values[found] = scored.data[at[found]]
    return values.reshape(rows.shape) + tie_breaker[columns]
