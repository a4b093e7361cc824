"""Every candidate fitted and scored on the two windows of an evaluation protocol, and the choice.

A protocol gives two folds, validation and test, each a ``FitData`` (what a candidate may
learn from) and an ``EvaluationTask`` (what it is scored on). Validation comes first in
time, or, for the per-customer protocol, one order earlier; the test fold is the same cut
one step later. ``evaluate`` fits every applicable candidate on the selection protocol's
validation fold with each setting of its grid, keeps its best setting, then fits it again
on the test fold with that setting (the two-tower is rebased instead) and scores it there;
on the other protocol it uses the setting it kept. It never knows which model it scores.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ml.recommender.candidates import Candidate, DataShape, FitData, ItemBasedRecommender
from ml.recommender.candidates.base import RankCalibrator
from ml.recommender.cores import beside_caller, working_beside
from ml.recommender.evaluation import (
    EvaluationTask,
    ModelRun,
    compare_to_baselines,
    customer_figures,
    metrics_table,
    run_scorer,
)
from ml.recommender.frames import isin
from ml.recommender.next_purchase import NextPurchaseSplit, orders_before_each
from ml.recommender.split import TimeSplit, sample_customers

EVALUATION_K = 10
TIME_WINDOW, NEXT_PURCHASE = "time_window", "next_purchase"
NOT_SELECTED_HERE = "not evaluated on the selection protocol"
PROTOCOLS = (TIME_WINDOW, NEXT_PURCHASE)


@dataclass
class Fold:
    data: FitData
    task: EvaluationTask
    held_out: pd.DataFrame


@dataclass
class Protocol:
    """``prefix`` names the protocol in the metric tables: '' for the time window (full_catalog,
    sampled_100, as before), 'next_purchase_' for the per-customer one."""

    name: str
    prefix: str
    validation: Fold
    test: Fold
    negatives_reason: str | None = None


@dataclass
class Outcome:
    """What ``evaluate`` found on one protocol; ``rows`` has one dict per candidate."""

    protocol: Protocol
    rows: list[dict[str, Any]]
    validated: dict[str, tuple[Candidate, Any, dict[str, Any]]]
    validation_runs: dict[str, ModelRun]
    tested: dict[str, Any] = field(default_factory=dict)
    # Each candidate's per-customer hit@10 and NDCG@10 on the validation fold, in the task's order.
    validation_figures: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    test_runs: dict[str, ModelRun] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def metrics(self, window: str) -> pd.DataFrame:
        fold, runs = (
            (self.protocol.validation, self.validation_runs)
            if window == "validation"
            else (self.protocol.test, self.test_runs)
        )
        table = metrics_table(fold.task, runs, EVALUATION_K)
        return table.assign(protocol=self.protocol.prefix + table["protocol"])

    def comparisons(self, window: str, chosen: str, seed: int) -> pd.DataFrame:
        fold, runs = (
            (self.protocol.validation, self.validation_runs)
            if window == "validation"
            else (self.protocol.test, self.test_runs)
        )
        if chosen not in runs:
            return pd.DataFrame()
        table = compare_to_baselines(fold.task, runs, chosen, EVALUATION_K, seed=seed)
        return table.assign(protocol=self.protocol.name) if len(table) else table


def sampled_negatives_possible(
    history: pd.DataFrame, held_out: pd.DataFrame, catalogue: int, negatives: int
) -> str | None:
    """None when every held-out customer has ``negatives`` items they never bought, else why not."""
    pairs = pd.concat(
        [
            history.loc[
                isin(history["customer_unique_id"], held_out["customer_unique_id"]),
                ["customer_unique_id", "product_id"],
            ],
            held_out[["customer_unique_id", "product_id"]],
        ]
    ).drop_duplicates()
    widest = int(pairs.groupby("customer_unique_id").size().max()) if len(pairs) else 0
    if catalogue - widest < negatives:
        return (
            f"the catalogue has {catalogue} items and a customer bought {widest} of them: fewer than "
            f"{negatives} never-bought items to sample as negatives"
        )
    return None


def _protocol(name, prefix, validation, test, catalog, config) -> Protocol:
    """Folds from (FitData, held-out pairs) pairs; the sampled protocol only where the catalogue allows it."""
    reasons = [
        sampled_negatives_possible(data.known, held_out, len(catalog), config.sampled_negatives)
        for data, held_out in (validation, test)
    ]
    reason = next((reason for reason in reasons if reason), None)
    negatives = 0 if reason else config.sampled_negatives
    folds = [
        Fold(data, EvaluationTask.build(data.known, held_out, data.catalog_ids, negatives, config.seed), held_out)
        for data, held_out in (validation, test)
    ]
    return Protocol(name, prefix, folds[0], folds[1], reason)


def time_window_protocol(split: TimeSplit, catalog, states, orders, recent_days: int, config) -> Protocol:
    """Validation: the window before the cutoff, on a fixed sample of its customers; test: the last window."""
    sample = sample_customers(split.validation, config.validation_customers, config.seed)
    validation = split.validation.loc[isin(split.validation["customer_unique_id"], sample)]
    return _protocol(
        TIME_WINDOW,
        "",
        (
            FitData(
                split.train, split.validation_start, catalog, states, orders, recent_days, split.validation, config.seed
            ),
            validation,
        ),
        (FitData(split.history, split.cutoff, catalog, states, orders, recent_days, None, config.seed), split.test),
        catalog,
        config,
    )


def next_purchase_protocol(split: NextPurchaseSplit, catalog, states, orders, recent_days: int, config) -> Protocol:
    """Each customer's last new-item order (test) and the one before it (validation), as of the data's end."""
    sample = sample_customers(split.validation, config.validation_customers, config.seed)
    validation = split.validation.loc[isin(split.validation["customer_unique_id"], sample)]
    return _protocol(
        NEXT_PURCHASE,
        "next_purchase_",
        (
            FitData(
                split.train,
                split.end,
                catalog,
                states,
                orders_before_each(orders, split.validation_moments),
                recent_days,
                split.validation,
                config.seed,
            ),
            validation,
        ),
        (
            FitData(
                split.history,
                split.end,
                catalog,
                states,
                orders_before_each(orders, split.test_moments),
                recent_days,
                None,
                config.seed,
            ),
            split.test,
        ),
        catalog,
        config,
    )


def full_hr(task: EvaluationTask, run: ModelRun) -> tuple[float, float]:
    """Full-catalogue HR@10 and NDCG@10 over all the task's customers (metrics_table's figures)."""
    hits, ndcg = customer_figures(task, run, EVALUATION_K)
    return float(hits.mean()), float(ndcg.mean())


def _fit_on_grid(
    candidate: Candidate, grid: list[dict[str, Any]], fold: Fold
) -> tuple[Any, dict[str, Any], ModelRun, tuple[np.ndarray, np.ndarray]]:
    """The candidate fitted with each setting of ``grid``, scored on the fold; the best kept,
    with its per-customer hit@10 and NDCG@10 (what ``choose`` weighs leads with)."""
    best = None
    for params in grid:
        fitted = candidate.fit(fold.data, params)
        run = run_scorer(fold.task, fitted.scorer(fold.task.customers), EVALUATION_K)
        hits, ndcg = customer_figures(fold.task, run, EVALUATION_K)
        figures = (float(hits.mean()), float(ndcg.mean()))
        # Ties within the grid go to the earlier (more regularised or smaller) setting.
        if best is None or figures > best[0]:
            best = (figures, fitted, params, run, (hits, ndcg))
    return best[1], best[2], best[3], best[4]


def describe(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items() if isinstance(v, int | float | str)) or "-"


def evaluate(protocols: list[Protocol], candidates: list[Candidate]) -> dict[str, Outcome]:
    """Every applicable candidate on each protocol's validation fold, then on its test fold.

    ``protocols[0]`` is the selection protocol: each candidate is fitted there with every
    setting of its grid and keeps the best; on the other protocols it is fitted with what it
    settled on (for the two-tower also its learning-rate schedule, prior and calibrator), so
    that the model promotion judges is the one published. A candidate without settings (it
    failed or stepped aside on the selection protocol) is left out of the others. A
    candidate that does not apply steps aside with its reason; one that raises, on either
    fold, is reported as failed with the error and the others go on (one model's trouble
    never hides the others' results).

    A candidate that asks to run ``beside_others`` (the two-tower) goes through every protocol
    on a thread of its own while the others take turns on the calling thread, which meanwhile
    keeps to one core (see ``cores.py``). Candidates are independent, and the one beside
    follows a fixed plan of threads, so the outcome is the same in any order and at any speed.
    """
    shapes = [DataShape.of(p.validation.data.known, len(p.validation.data.catalog)) for p in protocols]
    beside = [
        c
        for c in candidates
        if getattr(c, "beside_others", False) and any(c.applies_to(shape) is None for shape in shapes)
    ]
    others_done = threading.Event()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="candidate") if beside else nullcontext() as pool:
        pending = {c.name: pool.submit(_evaluate_candidate, protocols, c, shapes, others_done) for c in beside}
        try:
            with working_beside() if beside else nullcontext():
                done = {c.name: _evaluate_candidate(protocols, c, shapes) for c in candidates if c.name not in pending}
        finally:
            # Also when the calling thread fails: the pool waits for a thread that waits for this.
            others_done.set()
        done.update({name: future.result() for name, future in pending.items()})
    outcomes = {protocol.name: Outcome(protocol, [], {}, {}) for protocol in protocols}
    for candidate in candidates:
        for protocol, result in zip(protocols, done[candidate.name], strict=True):
            outcome = outcomes[protocol.name]
            outcome.rows.append(result.row)
            outcome.seconds.update(result.seconds)
            # A candidate that failed on the test fold keeps its validation figures; it cannot be chosen.
            if result.validation_run is not None:
                outcome.validation_runs[candidate.name] = result.validation_run
                outcome.validation_figures[candidate.name] = result.validation_figures
            if result.tested is not None:
                outcome.validated[candidate.name] = result.validated
                outcome.tested[candidate.name], outcome.test_runs[candidate.name] = result.tested
    return outcomes


def _evaluate_candidate(
    protocols: list[Protocol],
    candidate: Candidate,
    shapes: list[DataShape],
    others_done: threading.Event | None = None,
) -> list[_CandidateResult]:
    """One candidate on every protocol: its grid on the first, the setting it settled on there on the rest.

    With ``others_done`` it runs beside the other candidates: the first protocol on the cores
    they leave, the rest on every core once they are done. The plan never follows how far the
    others have got, so its figures do not depend on their speed (see ``cores.py``).
    """
    with beside_caller() if others_done else nullcontext():
        first = _evaluate_one(protocols[0], candidate, shapes[0], candidate.grid())
    if others_done:
        others_done.wait()
    settled = None if first.validated is None else [first.validated[1].params]
    return [first] + [
        _evaluate_one(protocol, candidate, shape, settled)
        for protocol, shape in zip(protocols[1:], shapes[1:], strict=True)
    ]


@dataclass
class _CandidateResult:
    row: dict[str, Any]
    seconds: dict[str, float] = field(default_factory=dict)
    validated: tuple[Candidate, Any, dict[str, Any]] | None = None
    validation_run: ModelRun | None = None
    validation_figures: tuple[np.ndarray, np.ndarray] | None = None
    tested: tuple[Any, ModelRun] | None = None


def _evaluate_one(
    protocol: Protocol, candidate: Candidate, shape: DataShape, grid: list[dict[str, Any]] | None
) -> _CandidateResult:
    """One candidate on one protocol: its validation fit (the best of ``grid``), then its test fit.
    ``grid`` None: the candidate settled on nothing on the selection protocol."""
    result = _CandidateResult(
        {"candidate": candidate.name, "family": candidate.family, "status": "evaluated", "reason": ""}
    )
    row = result.row
    reason = candidate.applies_to(shape)
    if reason:
        row.update(status="stepped_aside", reason=reason)
        return result
    if grid is None:
        row.update(status="stepped_aside", reason=NOT_SELECTED_HERE)
        return result
    started = time.perf_counter()
    try:
        fitted, params, run, per_customer = _fit_on_grid(candidate, grid, protocol.validation)
    except Exception as error:  # reported in the table, the report, MLflow and the metadata
        row.update(status="failed", reason=f"{type(error).__name__}: {error}")
        return result
    result.seconds[f"{protocol.name}.validation.{candidate.name}"] = time.perf_counter() - started
    hr, ndcg = (float(values.mean()) for values in per_customer)
    row.update(params=describe(fitted.params), validation_hr_at_10=hr, validation_ndcg_at_10=ndcg)
    result.validation_run, result.validation_figures = run, per_customer

    started = time.perf_counter()
    task = protocol.test.task
    try:
        if getattr(candidate, "retrain_for_test", True):
            model = candidate.fit(protocol.test.data, params)
        else:
            model = fitted.rebased(protocol.test.data)
        if isinstance(model, ItemBasedRecommender):
            model.with_calibrator(RankCalibrator().fit(run.recommendations, protocol.validation.held_out))
        test_run = run_scorer(task, model.scorer(task.customers), EVALUATION_K)
    except Exception as error:  # reported; its validation figures stay, it cannot be chosen
        row.update(status="failed", reason=f"on the test fold: {type(error).__name__}: {error}")
        return result
    result.seconds[f"{protocol.name}.test.{candidate.name}"] = time.perf_counter() - started
    hr, ndcg = full_hr(task, test_run)
    row.update(test_hr_at_10=hr, test_ndcg_at_10=ndcg)
    result.validated, result.tested = (candidate, fitted, params), (model, test_run)
    return result


def choose(
    table: pd.DataFrame,
    simplicity: dict[str, int],
    metric: str = "validation_hr_at_10",
    figures: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> tuple[str, str]:
    """The candidate with the best ``metric``; equal ones (to 1e-12) are told apart by the same
    fold's NDCG@10, and a tie on both goes to the simpler one.

    NDCG@10 breaks the tie because HR@10 ties often and says nothing on small catalogues: with
    10 products every list holds everything not yet bought, every HR@10 is 1, and only the
    order within the list differs.

    With ``figures`` (each candidate's per-customer hit@10 and NDCG@10 on that fold, the same
    customers in the same order), a lead within the noise goes to the simpler model: the
    simplest candidate whose paired deficit to the best is within one standard error on both
    HR@10 and NDCG@10 is chosen instead (the one-standard-error rule). On a short history the
    best of three candidates equal on validation HR@10 won on NDCG@10 by a hair and then lost
    to global popularity on test beyond its interval.
    """
    scored = table.loc[table[metric].notna()]
    if scored.empty:
        raise ValueError("no candidate could be evaluated on the validation window")
    second = metric.replace("hr_at_10", "ndcg_at_10")
    ranked = scored.assign(
        _value=scored[metric].round(12),
        _second=scored[second].round(12) if second in scored.columns and second != metric else 0.0,
        _simple=scored["candidate"].map(simplicity),
    ).sort_values(["_value", "_second", "_simple"], ascending=[False, False, True], kind="stable")
    best = ranked.iloc[0]
    level = ranked["_value"] == best["_value"]
    tied = ranked.loc[level & (ranked["_second"] == best["_second"]) & (ranked["candidate"] != best["candidate"])]
    behind_on_second = ranked.loc[level & (ranked["_second"] < best["_second"])]
    others = ranked.loc[ranked["_value"] < best["_value"]]
    reason = f"best {metric} ({best[metric]:.4f})"
    if len(behind_on_second):
        names = ", ".join(behind_on_second["candidate"])
        reason += (
            f", equal to {names} and ahead on {second} "
            f"({best[second]:.4f} against at most {behind_on_second[second].max():.4f})"
        )
    elif len(others):
        runner_up = others.iloc[0]
        reason += f", ahead of {runner_up['candidate']} ({runner_up[metric]:.4f})"
    if len(tied):
        reason += f"; tied with {', '.join(tied['candidate'])}, and simpler"
    if figures is not None and best["candidate"] in figures:
        simpler = _simplest_within_noise(ranked, best, figures)
        if simpler is not None:
            name, hr_gap, hr_error = simpler
            reason = (
                f"simplest within one standard error of the best, {best['candidate']} ({reason}): it trails by "
                f"{hr_gap:.4f} HR@10 (standard error {hr_error:.4f}) and by no more than the noise on NDCG@10"
            )
            return name, reason
    return str(best["candidate"]), reason


def _simplest_within_noise(
    ranked: pd.DataFrame, best: pd.Series, figures: dict[str, tuple[np.ndarray, np.ndarray]]
) -> tuple[str, float, float] | None:
    """The simplest candidate simpler than ``best`` whose paired deficit is within one standard
    error on HR@10 and on NDCG@10, with its HR@10 deficit and that deficit's standard error."""
    best_hits, best_ndcg = figures[best["candidate"]]
    within = []
    for row in ranked.to_dict("records"):
        if row["_simple"] >= best["_simple"] or row["candidate"] not in figures:
            continue
        hits, ndcg = figures[row["candidate"]]
        hr_gap, hr_error = _paired_deficit(best_hits, hits)
        ndcg_gap, ndcg_error = _paired_deficit(best_ndcg, ndcg)
        if hr_gap <= hr_error and ndcg_gap <= ndcg_error:
            within.append((row["_simple"], row["candidate"], hr_gap, hr_error))
    if not within:
        return None
    _, name, hr_gap, hr_error = min(within, key=lambda entry: entry[0])  # ranked order breaks ties
    return str(name), hr_gap, hr_error


def _paired_deficit(best: np.ndarray, other: np.ndarray) -> tuple[float, float]:
    """Mean of ``best - other`` over the customers, and its standard error (infinite below two customers)."""
    difference = np.asarray(best, dtype="float64") - np.asarray(other, dtype="float64")
    if len(difference) < 2:
        return float(difference.mean()) if len(difference) else 0.0, float("inf")
    return float(difference.mean()), float(difference.std(ddof=1) / np.sqrt(len(difference)))
