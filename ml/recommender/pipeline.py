"""One entry point: every candidate fitted and scored on validation, the best one chosen, all
of them scored on test, the chosen one refit on all data.

Selection. The validation window mirrors the test window one window earlier: candidates
learn from what was known before it and are scored on the pairs first bought in it, full
catalogue, on the same customers. Each candidate's hyper-parameters (its ``grid``) are
chosen there too, then the candidate with the best selection metric (HR@10, full
catalogue, all customers) becomes the challenger; a tie goes to the simpler candidate.
Nothing is chosen on the test window: its figures, for every candidate, with paired
intervals of the chosen one's lead over each other one, are reported only.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ml.recommender.candidates import Candidate, DataShape, FitData, ItemBasedRecommender, default_candidates
from ml.recommender.candidates.base import RankCalibrator
from ml.recommender.evaluation import (
    FULL,
    SAMPLED,
    EvaluationTask,
    ModelRun,
    compare_to_baselines,
    metrics_table,
    run_scorer,
)
from ml.recommender.features import check_orders, customer_states
from ml.recommender.frames import isin
from ml.recommender.metrics import expected_calibration_error
from ml.recommender.split import TimeSplit, check_interactions, known_before, sample_customers, split_by_time

# Metrics are @10 whatever top_k the recommendations use, so that runs stay comparable.
EVALUATION_K = 10


@dataclass(frozen=True)
class RecommenderConfig:
    """Hyperparameters; the defaults were chosen on validation windows only (see docs/recommender.md)."""

    test_days: int = 30
    validation_days: int = 30
    window_days: int = 30
    top_k: int = 10
    embedding_dim: int = 64
    hidden_dim: int = 128
    id_dim: int = 32
    history_length: int = 20
    user_hash_buckets: int = 2**18
    temperature: float = 0.1
    dropout: float = 0.1
    user_id_dropout: float = 0.5
    item_id_dropout: float = 0.5
    item_id_min_buyers: int = 10
    batch_size: int = 512
    random_negatives: int = 1024
    learning_rate: float = 2e-3
    learning_rate_decay: float = 0.5
    weight_decay: float = 0.0
    max_epochs: int = 30
    early_stopping: str = "log_likelihood"
    patience: int = 3
    validation_customers: int = 20_000
    recent_days_choices: tuple[int, ...] = (7, 14, 30, 60, 90)
    # Weights of the recent-popularity prior tried on validation, per segment; 0 is the network alone.
    prior_weights: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
    sampled_negatives: int = 99
    calibration_depth: int = 50
    seed: int = 0
    device: str = "auto"
    threads: int | None = None
    # EASE^R learns a dense item x item matrix: above this many bought items it models the most-bought ones.
    ease_max_items: int = 4_000
    # Candidate names to leave out (e.g. ("two_tower",) for a quick run); the rest compete.
    exclude_candidates: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("test_days", "validation_days", "window_days", "top_k", "batch_size", "max_epochs", "patience"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        if not 0 <= self.user_id_dropout <= 1 or not 0 <= self.dropout < 1:
            raise ValueError("dropout rates must lie in [0, 1)")
        if self.early_stopping not in ("log_likelihood", "recall_at_10"):
            raise ValueError(f"early_stopping must be log_likelihood or recall_at_10, got {self.early_stopping!r}")
        if not self.recent_days_choices:
            raise ValueError("recent_days_choices must not be empty")
        if not self.prior_weights or min(self.prior_weights) < 0:
            raise ValueError("prior_weights must be a non-empty tuple of weights >= 0")


class NotEnoughHistory(ValueError):
    """The data cannot support a validation and a test window: nothing can be evaluated."""


@dataclass
class RecommenderResult:
    """What a Dagster asset logs: every candidate's figures, the chosen one and why.

    ``candidates``: one row per candidate (status chosen / evaluated / stepped_aside /
    failed, the reason, its chosen hyper-parameters, validation and test HR@10 and NDCG@10).
    ``metrics`` and ``validation_metrics``: model x protocol x segment on the test and the
    validation window. ``model``: the chosen candidate refit on all interactions, scoring as
    of the end of the data; ``evaluated_model``: the same candidate as the test figures
    saw it (learned before the cutoff). ``comparisons``: the chosen one minus every other
    candidate on test, with paired bootstrap intervals (``validation_comparisons`` the same
    on validation). ``not_applicable``: protocol -> why it was not computed.
    """

    metrics: pd.DataFrame
    validation_metrics: pd.DataFrame
    candidates: pd.DataFrame
    chosen_name: str
    chosen_reason: str
    model: Any
    evaluated_model: Any
    calibration: dict[str, float]
    split: dict[str, object]
    seconds: dict[str, float]
    comparisons: pd.DataFrame = field(default_factory=pd.DataFrame)
    validation_comparisons: pd.DataFrame = field(default_factory=pd.DataFrame)
    not_applicable: dict[str, str] = field(default_factory=dict)
    chosen: dict[str, object] = field(default_factory=dict)
    config: RecommenderConfig = field(default_factory=RecommenderConfig)

    @property
    def family(self) -> str:
        return self.model.family

    def recommend(self, customers, top_k: int | None = None, exclude_bought: bool = True) -> pd.DataFrame:
        return self.model.recommend(customers, top_k or self.config.top_k, exclude_bought)

    def params(self) -> dict[str, object]:
        config = {key: value for key, value in asdict(self.config).items()}
        return {**config, "chosen_candidate": self.chosen_name, **{f"chosen_{k}": v for k, v in self.chosen.items()}}

    def flat_metrics(self) -> dict[str, float]:
        """``<model>.<protocol>.<segment>.<metric>`` (test) and ``<model>:validation.<...>`` for every
        figure, the leads with their intervals, calibration and timings."""
        flat = {}
        # Validation figures keep four dotted parts (method:validation.protocol.segment.metric),
        # so that reports lay them out beside the test figures.
        for suffix, table in (("", self.metrics), (":validation", self.validation_metrics)):
            for row in table.to_dict("records"):
                for metric, value in row.items():
                    if metric not in ("model", "protocol", "segment") and pd.notna(value):
                        flat[f"{row['model']}{suffix}.{row['protocol']}.{row['segment']}.{metric}"] = float(value)
        for prefix, table in (("", self.comparisons), ("validation_", self.validation_comparisons)):
            if table.empty:
                continue
            for row in table.loc[table["segment"] == "all"].to_dict("records"):
                for figure in ("difference", "ci_low", "ci_high"):
                    flat[f"{prefix}lead_over_{row['baseline']}.{row['metric']}.{figure}"] = row[figure]
        flat.update({f"calibration.{key}": float(value) for key, value in self.calibration.items()})
        flat.update({f"seconds.{key}": float(value) for key, value in self.seconds.items()})
        return flat

    def beats_baselines(self, metrics: tuple[str, ...] = ("hr_at_10", "ndcg_at_10"), significant: bool = False) -> bool:
        """True when the chosen candidate is strictly best on test on every given full-catalogue
        metric for all customers; with ``significant``, only when every paired 95% interval of
        its lead lies above zero. (It cannot lose on validation: it was chosen there.)"""
        if significant:
            leads = self.comparisons.loc[
                (self.comparisons["segment"] == "all") & self.comparisons["metric"].isin(metrics)
            ]
            return bool(len(leads)) and bool((leads["ci_low"] > 0).all())
        table = self.metrics.loc[(self.metrics["protocol"] == FULL) & (self.metrics["segment"] == "all")]
        table = table.set_index("model")
        others = table.drop(index=self.chosen_name)
        if others.empty:
            return False
        return all(table.loc[self.chosen_name, metric] > others[metric].max() for metric in metrics)


def _catalog(products: pd.DataFrame, interactions: pd.DataFrame) -> pd.DataFrame:
    for column in ("product_id", "category"):
        if column not in products.columns:
            raise ValueError(f"products lack the column {column}; expected the products mart")
    if products["product_id"].duplicated().any():
        raise ValueError("products must have one row per product_id")
    catalog = products.sort_values("product_id", kind="stable").reset_index(drop=True)
    missing = ~isin(interactions["product_id"], catalog["product_id"])
    if missing.any():
        raise ValueError(f"{int(missing.sum())} interactions name products missing from the products frame")
    return catalog


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


def _task(history, held_out, catalog_ids, config, negatives_reason) -> EvaluationTask:
    negatives = 0 if negatives_reason else config.sampled_negatives
    return EvaluationTask.build(history, held_out, catalog_ids, negatives, config.seed)


def _full_hr(task: EvaluationTask, run: ModelRun) -> tuple[float, float]:
    table = metrics_table(task, {"model": run}, EVALUATION_K)
    row = table.loc[(table["protocol"] == FULL) & (table["segment"] == "all")].iloc[0]
    return float(row[f"hr_at_{EVALUATION_K}"]), float(row[f"ndcg_at_{EVALUATION_K}"])


def _recent_days(split: TimeSplit, task: EvaluationTask, catalog: pd.DataFrame, config: RecommenderConfig) -> int:
    """Recent popularity's window, by HR@10 (then NDCG@10, then the shorter window) on validation.

    Chosen first because every item-based candidate orders the items its scores leave tied
    (all of them, for a first-time customer) by recent popularity.
    """
    from ml.recommender.candidates import RecentPopularity

    scored = []
    for days in config.recent_days_choices:
        data = FitData(split.train, split.validation_start, catalog, pd.Series(dtype="object"), None, days)
        fitted = RecentPopularity((days,)).fit(data, {"days": days})
        scored.append((*_full_hr(task, run_scorer(task, fitted.scorer(task.customers), EVALUATION_K)), -days, days))
    return max(scored)[-1]


def _fit_on_grid(
    candidate: Candidate, data: FitData, task: EvaluationTask
) -> tuple[Any, dict[str, Any], ModelRun, pd.DataFrame]:
    """The candidate fitted with each setting of its grid, scored on validation; the best kept."""
    best = None
    rows = []
    for params in candidate.grid():
        fitted = candidate.fit(data, params)
        run = run_scorer(task, fitted.scorer(task.customers), EVALUATION_K)
        hr, ndcg = _full_hr(task, run)
        rows.append({"candidate": candidate.name, "params": _describe(params), "hr_at_10": hr, "ndcg_at_10": ndcg})
        # Ties within the grid go to the earlier (more regularised or smaller) setting.
        if best is None or (hr, ndcg) > best[0]:
            best = ((hr, ndcg), fitted, params, run)
    return best[1], best[2], best[3], pd.DataFrame(rows)


def _describe(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items() if isinstance(v, int | float | str)) or "-"


def choose(table: pd.DataFrame, simplicity: dict[str, int], metric: str = "validation_hr_at_10") -> tuple[str, str]:
    """The candidate with the best ``metric``; a tie (equal to 1e-12) goes to the simpler one."""
    scored = table.loc[table[metric].notna()]
    if scored.empty:
        raise ValueError("no candidate could be evaluated on the validation window")
    ranked = scored.assign(_value=scored[metric].round(12), _simple=scored["candidate"].map(simplicity)).sort_values(
        ["_value", "_simple"], ascending=[False, True], kind="stable"
    )
    best = ranked.iloc[0]
    tied = ranked.loc[(ranked["_value"] == best["_value"]) & (ranked["candidate"] != best["candidate"])]
    others = ranked.loc[ranked["_value"] < best["_value"]]
    reason = f"best {metric.replace('validation_', '')} on validation ({best[metric]:.4f})"
    if len(others):
        runner_up = others.iloc[0]
        reason += f", ahead of {runner_up['candidate']} ({runner_up[metric]:.4f})"
    if len(tied):
        reason += f"; tied with {', '.join(tied['candidate'])}, and simpler"
    return str(best["candidate"]), reason


def train_and_evaluate(
    interactions: pd.DataFrame,
    customers: pd.DataFrame,
    products: pd.DataFrame,
    orders: pd.DataFrame | None = None,
    config: RecommenderConfig | None = None,
    candidates: list[Candidate] | None = None,
) -> RecommenderResult:
    """Select a recommender on validation, report every candidate on test, refit the chosen one.

    ``interactions``, ``customers``, ``products`` and ``orders`` are the marts
    user_item_interactions, customer_rfm, products and (optional) orders. Only the state is
    read from customers and only static attributes from products; everything else is
    rebuilt from the interactions and orders before each boundary. A candidate that does
    not apply to the data, or fails, steps aside with the reason; the others go on.
    """
    config = config or RecommenderConfig()
    check_interactions(interactions)
    catalog = _catalog(products, interactions)
    catalog_ids = pd.Index(catalog["product_id"])
    states = customer_states(customers)
    orders = None if orders is None else check_orders(orders)
    try:
        split = split_by_time(interactions, config.test_days, config.validation_days)
    except ValueError as error:
        raise NotEnoughHistory(str(error)) from error
    if split.validation.empty or split.test.empty:
        raise NotEnoughHistory(f"the validation or test window is empty: {split.summary()}")
    candidates = [c for c in (candidates or default_candidates(config)) if c.name not in config.exclude_candidates]
    seconds: dict[str, float] = {}
    not_applicable: dict[str, str] = {}

    clock = time.perf_counter()
    sample = sample_customers(split.validation, config.validation_customers, config.seed)
    validation_held_out = split.validation.loc[isin(split.validation["customer_unique_id"], sample)]
    reasons = [
        sampled_negatives_possible(split.train, validation_held_out, len(catalog), config.sampled_negatives),
        sampled_negatives_possible(split.history, split.test, len(catalog), config.sampled_negatives),
    ]
    negatives_reason = next((reason for reason in reasons if reason), None)
    if negatives_reason:
        not_applicable[SAMPLED] = negatives_reason
    validation_task = _task(split.train, validation_held_out, catalog_ids, config, negatives_reason)
    test_task = _task(split.history, split.test, catalog_ids, config, negatives_reason)
    recent_days = _recent_days(split, validation_task, catalog, config)
    train_data = FitData(
        split.train, split.validation_start, catalog, states, orders, recent_days, split.validation, config.seed
    )
    history_data = FitData(split.history, split.cutoff, catalog, states, orders, recent_days, None, config.seed)
    shape = DataShape.of(split.train, len(catalog))

    rows, validated, validation_runs, grids = [], {}, {}, []
    for candidate in candidates:
        row = {"candidate": candidate.name, "family": candidate.family, "status": "evaluated", "reason": ""}
        reason = candidate.applies_to(shape)
        if reason:
            rows.append({**row, "status": "stepped_aside", "reason": reason})
            continue
        started = time.perf_counter()
        try:
            fitted, params, run, grid = _fit_on_grid(candidate, train_data, validation_task)
        except Exception as error:  # one candidate's failure is reported, and the others go on
            rows.append({**row, "status": "failed", "reason": f"{type(error).__name__}: {error}"})
            continue
        seconds[f"validation.{candidate.name}"] = time.perf_counter() - started
        validated[candidate.name] = (candidate, fitted, params)
        validation_runs[candidate.name] = run
        grids.append(grid)
        hr, ndcg = _full_hr(validation_task, run)
        rows.append(
            {**row, "params": _describe(fitted.params), "validation_hr_at_10": hr, "validation_ndcg_at_10": ndcg}
        )
    table = pd.DataFrame(rows)
    for column in ("params", "validation_hr_at_10", "validation_ndcg_at_10"):
        if column not in table.columns:
            table[column] = np.nan
    if not validated:
        raise ValueError(
            f"no recommender candidate could be evaluated: {table[['candidate', 'reason']].to_dict('records')}"
        )
    chosen_name, chosen_reason = choose(table, {c.name: c.simplicity for c in candidates})
    validation_metrics = metrics_table(validation_task, validation_runs, EVALUATION_K)
    validation_comparisons = compare_to_baselines(
        validation_task, validation_runs, chosen_name, EVALUATION_K, seed=config.seed
    )
    seconds["validation"] = time.perf_counter() - clock

    clock = time.perf_counter()
    tested, test_runs = {}, {}
    for name, (candidate, fitted, params) in validated.items():
        started = time.perf_counter()
        model = (
            candidate.fit(history_data, params)
            if getattr(candidate, "retrain_for_test", True)
            else fitted.rebased(history_data)
        )
        if isinstance(model, ItemBasedRecommender):
            model.with_calibrator(RankCalibrator().fit(validation_runs[name].recommendations, split.validation))
        tested[name] = model
        test_runs[name] = run_scorer(test_task, model.scorer(test_task.customers), EVALUATION_K)
        seconds[f"test.{name}"] = time.perf_counter() - started
    metrics = metrics_table(test_task, test_runs, EVALUATION_K)
    comparisons = compare_to_baselines(test_task, test_runs, chosen_name, EVALUATION_K, seed=config.seed)
    test_figures = metrics.loc[(metrics["protocol"] == FULL) & (metrics["segment"] == "all")].set_index("model")
    table["test_hr_at_10"] = table["candidate"].map(test_figures["hr_at_10"])
    table["test_ndcg_at_10"] = table["candidate"].map(test_figures["ndcg_at_10"])
    table.loc[table["candidate"] == chosen_name, "status"] = "chosen"
    table.loc[table["candidate"] == chosen_name, "reason"] = chosen_reason
    evaluated = tested[chosen_name]
    test_ranked = evaluated.recommend(test_task.customers, config.top_k)
    calibration = expected_calibration_error(
        test_ranked["probability"].fillna(0.0).to_numpy(), _bought(test_ranked, split.test)
    )
    seconds["test"] = time.perf_counter() - clock

    clock = time.perf_counter()
    candidate, fitted, params = validated[chosen_name]
    all_data = FitData(
        known_before(interactions, split.end), split.end, catalog, states, orders, recent_days, None, config.seed
    )
    final = candidate.fit(all_data, fitted.params)
    if isinstance(final, ItemBasedRecommender):
        final.with_calibrator(evaluated.calibrator)
    seconds["refit"] = time.perf_counter() - clock
    return RecommenderResult(
        metrics=metrics,
        validation_metrics=validation_metrics,
        candidates=table,
        chosen_name=chosen_name,
        chosen_reason=chosen_reason,
        model=final,
        evaluated_model=evaluated,
        calibration=calibration,
        split=split.summary(),
        seconds=seconds,
        comparisons=comparisons,
        validation_comparisons=validation_comparisons,
        not_applicable=not_applicable,
        chosen={
            "recent_days": recent_days,
            **{k: v for k, v in fitted.params.items() if isinstance(v, int | float | str)},
        },
        config=config,
    )


def _bought(ranked: pd.DataFrame, held_out: pd.DataFrame) -> np.ndarray:
    bought = pd.MultiIndex.from_frame(held_out[["customer_unique_id", "product_id"]])
    return pd.MultiIndex.from_frame(ranked[["customer_unique_id", "product_id"]]).isin(bought).astype("float64")
