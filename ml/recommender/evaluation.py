"""Scores every model on one split: both protocols, three customer segments."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from ml.recommender.frames import isin
from ml.recommender.metrics import (
    bootstrap_means,
    chunk_rows,
    per_customer_metrics,
    ranking_metrics,
    sample_negatives,
    sampled_metrics,
    sampled_ranks,
    shared_top_k_positions,
    support_top_k_positions,
    support_values,
    tie_break_order,
    top_k_positions,
)

Scorer = Callable[[pd.Index], np.ndarray]
# Customers per block of sparse scores (a block too wide to make dense is halved).
SUPPORT_BLOCK = 4096


@dataclass
class SupportScorer:
    """Scores that are ``support(ids)``'s stored entries (0 elsewhere) plus ``tie_breaker``:
    item-kNN and EASE^R, ranked without a (customers x catalogue) matrix."""

    support: Callable[[pd.Index], sparse.csr_matrix]
    tie_breaker: np.ndarray


SEGMENTS = ("all", "repeat", "first_time")
FULL, SAMPLED = "full_catalog", "sampled_100"


@dataclass
class EvaluationTask:
    """Held-out purchases and what is excluded from ranking, in catalogue positions.

    ``history`` are the interactions known before the window (a customer with at least one
    is a *repeat* customer, the others are *first-time*); ``held_out`` the pairs first bought
    in the window.
    """

    customers: pd.Index
    repeat: np.ndarray
    catalog: pd.Index
    held_out: pd.DataFrame
    bought_rows: np.ndarray
    bought_columns: np.ndarray
    target_rows: np.ndarray
    target_columns: np.ndarray
    negatives: np.ndarray

    @classmethod
    def build(
        cls, history: pd.DataFrame, held_out: pd.DataFrame, catalog: pd.Index, negatives: int = 99, seed: int = 0
    ) -> EvaluationTask:
        held_out = held_out[["customer_unique_id", "product_id"]].drop_duplicates()
        customers = pd.Index(np.sort(held_out["customer_unique_id"].unique()), name="customer_unique_id")
        known = history.loc[isin(history["customer_unique_id"], customers), ["customer_unique_id", "product_id"]]
        bought_rows = customers.get_indexer(known["customer_unique_id"])
        bought_columns = catalog.get_indexer(known["product_id"])
        target_rows = customers.get_indexer(held_out["customer_unique_id"])
        target_columns = catalog.get_indexer(held_out["product_id"])
        if (bought_columns < 0).any() or (target_columns < 0).any():
            raise ValueError("interactions name products that are not in the catalogue")
        overlap = pd.MultiIndex.from_arrays([target_rows, target_columns]).isin(
            pd.MultiIndex.from_arrays([bought_rows, bought_columns])
        )
        if overlap.any():
            raise ValueError(f"{int(overlap.sum())} held-out pairs were already bought before the window")
        order = np.lexsort((target_columns, target_rows))
        target_rows, target_columns = target_rows[order], target_columns[order]
        owned = (
            pd.DataFrame(
                {
                    "row": np.concatenate([bought_rows, target_rows]),
                    "column": np.concatenate([bought_columns, target_columns]),
                }
            )
            .groupby("row")["column"]
            .apply(np.asarray)
        )
        excluded = [owned.get(row, np.array([], dtype="int64")) for row in target_rows]
        repeat = isin(customers, history["customer_unique_id"])
        return cls(
            customers=customers,
            repeat=np.asarray(repeat),
            catalog=catalog,
            held_out=held_out,
            bought_rows=bought_rows,
            bought_columns=bought_columns,
            target_rows=target_rows,
            target_columns=target_columns,
            negatives=sample_negatives(len(catalog), excluded, negatives, seed),
        )


@dataclass
class ModelRun:
    """A model's top-k lists on a task and the sampled rank of each held-out pair.

    ``positions``: the same lists as catalogue positions, one row per task customer in the
    task's order (-1 pads), where ``run_scorer`` made them: the figures are then counted on
    integers instead of merged frames of ids.
    """

    recommendations: pd.DataFrame
    ranks: np.ndarray
    positions: np.ndarray | None = None


def run_scorer(task: EvaluationTask, scorer: Scorer | np.ndarray, k: int = 10) -> ModelRun:
    """Top-k lists (bought items excluded) and sampled ranks of every held-out pair.

    ``scorer`` maps customer ids to their (customers x catalogue) float scores; a 1-d array
    instead scores every customer the same (the popularity baselines), which is ranked once
    rather than once per customer.
    """
    if isinstance(scorer, np.ndarray):
        return _run_shared(task, scorer, k)
    if isinstance(scorer, SupportScorer):
        return _run_support(task, scorer, k)
    bought_rows, bought_columns = _bought_by_row(task)
    ranks = np.empty(len(task.target_rows), dtype="int64")
    blocks = []
    step = chunk_rows(len(task.catalog))
    for start in range(0, len(task.customers), step):
        stop = min(start + step, len(task.customers))
        scores = scorer(task.customers[start:stop])
        if not isinstance(scores, np.ndarray) or scores.dtype.kind != "f":
            scores = np.asarray(scores, dtype="float64")
        if scores.shape != (stop - start, len(task.catalog)):
            raise ValueError(f"scorer returned shape {scores.shape}, expected {(stop - start, len(task.catalog))}")
        if np.isnan(scores).any():
            raise ValueError("scorer returned NaN scores")
        lo, hi = np.searchsorted(task.target_rows, [start, stop])
        rows = task.target_rows[lo:hi] - start
        ranks[lo:hi] = sampled_ranks(
            scores[rows, task.target_columns[lo:hi]],
            scores[rows[:, None], task.negatives[lo:hi]],
            task.target_columns[lo:hi],
            task.negatives[lo:hi],
        )
        lo, hi = np.searchsorted(bought_rows, [start, stop])
        if not scores.flags.writeable:
            scores = scores.copy()
        scores[bought_rows[lo:hi] - start, bought_columns[lo:hi]] = -np.inf
        blocks.append(top_k_positions(scores, k))
    return _run(task, blocks, ranks)


def _run_shared(task: EvaluationTask, item_scores: np.ndarray, k: int) -> ModelRun:
    """run_scorer for one score vector shared by every customer: the same figures, without the matrix."""
    if item_scores.shape != (len(task.catalog),):
        raise ValueError(f"shared scores have shape {item_scores.shape}, expected {(len(task.catalog),)}")
    if np.isnan(item_scores).any():
        raise ValueError("scorer returned NaN scores")
    ranks = sampled_ranks(
        item_scores[task.target_columns], item_scores[task.negatives], task.target_columns, task.negatives
    )
    bought_rows, bought_columns = _bought_by_row(task)
    blocks = []
    step = chunk_rows(k + int(np.bincount(bought_rows).max(initial=0)))
    for start in range(0, len(task.customers), step):
        stop = min(start + step, len(task.customers))
        lo, hi = np.searchsorted(bought_rows, [start, stop])
        blocks.append(
            shared_top_k_positions(item_scores, k, bought_rows[lo:hi] - start, bought_columns[lo:hi], stop - start)
        )
    return _run(task, blocks, ranks)


def _run_support(task: EvaluationTask, scorer: SupportScorer, k: int) -> ModelRun:
    """run_scorer for sparse scores plus a tie-break: the same figures, from the stored entries."""
    if scorer.tie_breaker.shape != (len(task.catalog),):
        raise ValueError(f"tie-break has shape {scorer.tie_breaker.shape}, expected {(len(task.catalog),)}")
    bought_rows, bought_columns = _bought_by_row(task)
    order = tie_break_order(scorer.tie_breaker)
    ranks = np.empty(len(task.target_rows), dtype="int64")
    blocks = []
    for start in range(0, len(task.customers), SUPPORT_BLOCK):
        stop = min(start + SUPPORT_BLOCK, len(task.customers))
        scored = scorer.support(task.customers[start:stop]).tocsr()
        if scored.shape != (stop - start, len(task.catalog)):
            raise ValueError(f"scorer returned shape {scored.shape}, expected {(stop - start, len(task.catalog))}")
        if np.isnan(scored.data).any():
            raise ValueError("scorer returned NaN scores")
        lo, hi = np.searchsorted(task.target_rows, [start, stop])
        rows = task.target_rows[lo:hi] - start
        # Targets and their negatives in one lookup: column 0 is the target.
        columns = np.concatenate([task.target_columns[lo:hi, None], task.negatives[lo:hi]], axis=1)
        values = support_values(scored, scorer.tie_breaker, np.repeat(rows[:, None], columns.shape[1], 1), columns)
        ranks[lo:hi] = sampled_ranks(values[:, 0], values[:, 1:], task.target_columns[lo:hi], task.negatives[lo:hi])
        lo, hi = np.searchsorted(bought_rows, [start, stop])
        blocks.append(
            support_top_k_positions(
                scored, scorer.tie_breaker, bought_rows[lo:hi] - start, bought_columns[lo:hi], k, order
            )
        )
    return _run(task, blocks, ranks)


def _bought_by_row(task: EvaluationTask) -> tuple[np.ndarray, np.ndarray]:
    """The task's bought (row, column) pairs sorted by row, so a chunk of rows is one slice."""
    order = np.argsort(task.bought_rows, kind="stable")
    return task.bought_rows[order], task.bought_columns[order]


def _run(task: EvaluationTask, blocks: list[np.ndarray], ranks: np.ndarray) -> ModelRun:
    """The run of the top-k positions of every customer block, in the task's customer order."""
    positions = np.concatenate(blocks) if blocks else np.zeros((0, 0), dtype="int64")
    row, rank = np.nonzero(positions >= 0)
    recommendations = pd.DataFrame(
        {
            "customer_unique_id": task.customers[row],
            "product_id": task.catalog[positions[row, rank]],
            "rank": rank + 1,
        }
    )
    return ModelRun(recommendations, ranks, positions)


def customer_figures(task: EvaluationTask, run: ModelRun, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Each task customer's full-catalogue hit@k (0 or 1) and NDCG@k, in the task's customer order.

    The figures of ``per_customer_metrics``, counted on catalogue positions when the run has
    them (each held-out pair is unique and a list holds an item once, so a pair hits at one
    rank at most); otherwise from the frames.
    """
    if run.positions is None or run.positions.shape[0] != len(task.customers):
        table = per_customer_metrics(run.recommendations, task.held_out, k).reindex(task.customers)
        return table["first_hit"].notna().to_numpy(dtype="float64"), table["ndcg"].to_numpy(dtype="float64")
    top = run.positions[:, :k]
    matches = top[task.target_rows] == task.target_columns[:, None]
    hit = matches.any(axis=1)
    rows, rank = task.target_rows[hit], matches[hit].argmax(axis=1) + 1
    customers = len(task.customers)
    hits = np.bincount(rows, minlength=customers) > 0
    dcg = np.bincount(rows, weights=1.0 / np.log2(rank + 1.0), minlength=customers)
    relevant = np.minimum(np.bincount(task.target_rows, minlength=customers), k)
    ideal = np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))[relevant - 1]
    return hits.astype("float64"), dcg / ideal


def metrics_table(task: EvaluationTask, runs: Mapping[str, ModelRun], k: int = 10) -> pd.DataFrame:
    """One row per model x protocol x segment."""
    rows = []
    repeat_customers = task.customers[task.repeat]
    pair_repeat = task.repeat[task.target_rows]
    for model, run in runs.items():
        for segment in SEGMENTS:
            if segment == "all":
                customers, pairs = task.customers, np.ones(len(task.target_rows), dtype=bool)
            elif segment == "repeat":
                customers, pairs = repeat_customers, pair_repeat
            else:
                customers, pairs = task.customers.difference(repeat_customers), ~pair_repeat
            if len(customers) == 0:
                continue
            held_out = task.held_out.loc[isin(task.held_out["customer_unique_id"], customers)]
            full = ranking_metrics(
                run.recommendations.loc[isin(run.recommendations["customer_unique_id"], customers)],
                held_out,
                len(task.catalog),
                k,
            )
            rows.append({"model": model, "protocol": FULL, "segment": segment, **full, "pairs": float(len(held_out))})
            if not task.negatives.shape[1]:
                continue  # no negatives were drawn: the sampled protocol does not apply
            sampled = sampled_metrics(run.ranks[pairs], k)
            rows.append(
                {"model": model, "protocol": SAMPLED, "segment": segment, "customers": float(len(customers)), **sampled}
            )
    table = pd.DataFrame(rows)
    columns = [
        "model",
        "protocol",
        "segment",
        "customers",
        "pairs",
        "hr_at_1",
        f"hr_at_{k}",
        f"ndcg_at_{k}",
        f"mrr_at_{k}",
        "catalog_coverage",
    ]
    table = table[columns]
    return table.astype({"customers": "int64", "pairs": "int64"})


def compare_to_baselines(
    task: EvaluationTask,
    runs: Mapping[str, ModelRun],
    model: str,
    k: int = 10,
    resamples: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """``model`` minus every other run in full-catalog HR@K and NDCG@K, per segment, with a
    95% paired bootstrap interval over customers: whether a lead is larger than the noise
    of a test window this size."""
    figures = {
        name: dict(zip((f"hr_at_{k}", f"ndcg_at_{k}"), customer_figures(task, run, k), strict=True))
        for name, run in runs.items()
    }
    masks = {"all": np.ones(len(task.customers), dtype=bool), "repeat": task.repeat, "first_time": ~task.repeat}
    rows = []
    pairs = [(baseline, metric) for baseline in runs if baseline != model for metric in (f"hr_at_{k}", f"ndcg_at_{k}")]
    for segment, mask in masks.items():
        if not mask.any() or not pairs:
            continue
        ours = {metric: figures[model][metric][mask] for _, metric in pairs}
        theirs = [figures[baseline][metric][mask] for baseline, metric in pairs]
        # Every difference of a segment is over the same customers: one set of resamples for all.
        intervals = bootstrap_means(
            np.stack([ours[metric] - values for (_, metric), values in zip(pairs, theirs, strict=True)]),
            resamples=resamples,
            seed=seed,
        )
        for (baseline, metric), values, interval in zip(pairs, theirs, intervals, strict=True):
            rows.append(
                {
                    "baseline": baseline,
                    "segment": segment,
                    "metric": metric,
                    "model_value": float(ours[metric].mean()),
                    "baseline_value": float(values.mean()),
                    **interval,
                }
            )
    order = {name: position for position, name in enumerate(runs)}
    table = pd.DataFrame(rows)
    if len(table):
        # Row order as before: by baseline, then segment, then metric.
        table = table.sort_values("baseline", key=lambda names: names.map(order), kind="stable", ignore_index=True)
    return table


def recall_at_k(recommendations: pd.DataFrame, held_out: pd.DataFrame, k: int = 10) -> float:
    """Mean over held-out customers of (held-out items in the top k) / (held-out items): the early-stopping target."""
    relevant = held_out[["customer_unique_id", "product_id"]].drop_duplicates()
    hits = recommendations.loc[recommendations["rank"] <= k].merge(relevant, on=["customer_unique_id", "product_id"])
    per_customer = hits.groupby("customer_unique_id").size() / relevant.groupby("customer_unique_id").size()
    customers = relevant["customer_unique_id"].unique()
    return float(per_customer.reindex(customers).fillna(0.0).mean())
