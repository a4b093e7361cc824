"""One entry point: split, baselines, two-tower, calibration, evaluation, refit on all data."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import pandas as pd

from ml.recommender.baselines import ItemKnnScorer, PopularityScorer
from ml.recommender.calibration import IsotonicCalibrator, label_recommendations
from ml.recommender.evaluation import (
    FULL,
    EvaluationTask,
    ModelRun,
    compare_to_baselines,
    metrics_table,
    run_scorer,
)
from ml.recommender.features import check_orders, customer_states
from ml.recommender.frames import isin
from ml.recommender.metrics import expected_calibration_error
from ml.recommender.model import PopularityPrior, TwoTowerRecommender
from ml.recommender.split import (
    TimeSplit,
    check_interactions,
    known_before,
    purchase_events,
    sample_customers,
    split_by_time,
)
from ml.recommender.train import TrainingLog, fit_two_tower

TWO_TOWER = "two_tower"
GLOBAL_POPULARITY = "global_popularity"
RECENT_POPULARITY = "recent_popularity"
ITEM_KNN = "item_knn"
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


@dataclass
class RecommenderResult:
    """What a Dagster asset logs: metrics, the final model and how it was obtained.

    ``metrics``: test window, model x protocol x segment. ``validation_metrics``: the same on
    the validation window (models trained before it), where choices were made. ``model``:
    the two-tower refit on all interactions, calibrated, scoring as of the end of the data.
    ``evaluated_model``: the one the test figures belong to (trained before the validation
    window, scoring as of the cutoff).
    """

    metrics: pd.DataFrame
    validation_metrics: pd.DataFrame
    model: TwoTowerRecommender
    evaluated_model: TwoTowerRecommender
    calibration: dict[str, float]
    split: dict[str, object]
    training: TrainingLog
    refit: TrainingLog
    chosen: dict[str, object]
    seconds: dict[str, float]
    prior_search: pd.DataFrame = field(default_factory=pd.DataFrame)
    # Two-tower minus each baseline on the test window, with paired bootstrap intervals.
    comparisons: pd.DataFrame = field(default_factory=pd.DataFrame)
    config: RecommenderConfig = field(default_factory=RecommenderConfig)

    def recommend(
        self, customers, products=None, top_k: int | None = None, exclude_bought: bool = True
    ) -> pd.DataFrame:
        return self.model.recommend(customers, products, top_k or self.config.top_k, exclude_bought)

    def user_embeddings(self, customers) -> pd.DataFrame:
        return self.model.user_embeddings(customers)

    def item_embeddings(self, products=None) -> pd.DataFrame:
        return self.model.item_embeddings(products)

    def params(self) -> dict[str, object]:
        return {**asdict(self.config), **{f"chosen_{key}": value for key, value in self.chosen.items()}}

    def flat_metrics(self) -> dict[str, float]:
        """``<model>.<protocol>.<segment>.<metric>`` for every figure, plus calibration and timings."""
        flat = {}
        for row in self.metrics.to_dict("records"):
            for metric, value in row.items():
                if metric not in ("model", "protocol", "segment") and pd.notna(value):
                    flat[f"{row['model']}.{row['protocol']}.{row['segment']}.{metric}"] = float(value)
        if not self.comparisons.empty:
            for row in self.comparisons.loc[self.comparisons["segment"] == "all"].to_dict("records"):
                for figure in ("difference", "ci_low", "ci_high"):
                    flat[f"lead_over_{row['baseline']}.{row['metric']}.{figure}"] = row[figure]
        flat.update({f"calibration.{key}": float(value) for key, value in self.calibration.items()})
        flat.update({f"seconds.{key}": float(value) for key, value in self.seconds.items()})
        return flat

    def beats_baselines(self, metrics: tuple[str, ...] = ("hr_at_10", "ndcg_at_10"), significant: bool = False) -> bool:
        """True when the two-tower is strictly best on every given full-catalog metric for all
        customers; with ``significant``, only when every paired 95% interval lies above zero."""
        if significant:
            leads = self.comparisons.loc[
                (self.comparisons["segment"] == "all") & self.comparisons["metric"].isin(metrics)
            ]
            return bool(len(leads)) and bool((leads["ci_low"] > 0).all())
        table = self.metrics.loc[(self.metrics["protocol"] == FULL) & (self.metrics["segment"] == "all")]
        table = table.set_index("model")
        others = table.drop(index=TWO_TOWER)
        return all(table.loc[TWO_TOWER, metric] > others[metric].max() for metric in metrics)


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


def _baselines(known: pd.DataFrame, catalog: pd.Index, boundary: pd.Timestamp, recent_days: int) -> dict:
    recent = PopularityScorer(known, catalog, boundary, days=recent_days)
    return {
        GLOBAL_POPULARITY: PopularityScorer(known, catalog, boundary).item_scores,
        RECENT_POPULARITY: recent.item_scores,
        ITEM_KNN: ItemKnnScorer(known, catalog, fallback=recent).score,
    }


def _validation_choice(
    split: TimeSplit, catalog_ids: pd.Index, config: RecommenderConfig
) -> tuple[int, EvaluationTask]:
    """Recent popularity's window, chosen by HR@10 (then NDCG@10) on the validation window.

    The returned task holds the validation customers every later choice is made on: the
    sample early stopping watches (all of them below ``config.validation_customers``).
    """
    customers = sample_customers(split.validation, config.validation_customers, config.seed)
    held_out = split.validation.loc[isin(split.validation["customer_unique_id"], customers)]
    task = EvaluationTask.build(split.train, held_out, catalog_ids, config.sampled_negatives, config.seed)
    runs = {
        days: run_scorer(task, PopularityScorer(split.train, catalog_ids, split.validation_start, days).item_scores)
        for days in config.recent_days_choices
    }
    table = metrics_table(task, {str(days): run for days, run in runs.items()})
    table = table.loc[(table["protocol"] == FULL) & (table["segment"] == "all")]
    best = table.sort_values(["hr_at_10", "ndcg_at_10"], ascending=False, kind="stable").iloc[0]
    return int(best["model"]), task


def _choose_prior(
    model: TwoTowerRecommender, task: EvaluationTask, recent_days: int, config: RecommenderConfig
) -> tuple[PopularityPrior, pd.DataFrame]:
    """The prior weight per segment with the best validation HR@10 (then NDCG@10, then the smaller weight).

    The segments are disjoint and HR@10 over all customers is their weighted mean, so the
    best weight of each segment gives the best pair.
    """
    rows = []
    for weight in config.prior_weights:
        model.with_prior(PopularityPrior(recent_days, weight, weight))
        table = metrics_table(task, {str(weight): run_scorer(task, model.scorer(task.customers), EVALUATION_K)})
        rows.append(table.loc[table["protocol"] == FULL].assign(weight=weight))
    model.with_prior(None)
    tried = pd.concat(rows, ignore_index=True)
    chosen = {}
    for segment in ("first_time", "repeat"):
        candidates = tried.loc[tried["segment"] == segment]
        if candidates.empty:
            chosen[segment] = 0.0
            continue
        best = candidates.sort_values(
            ["hr_at_10", "ndcg_at_10", "weight"], ascending=[False, False, True], kind="stable"
        ).iloc[0]
        chosen[segment] = float(best["weight"])
    return PopularityPrior(recent_days, chosen["first_time"], chosen["repeat"]), tried


def train_and_evaluate(
    interactions: pd.DataFrame,
    customers: pd.DataFrame,
    products: pd.DataFrame,
    orders: pd.DataFrame | None = None,
    config: RecommenderConfig | None = None,
) -> RecommenderResult:
    """Evaluate the two-tower model against the baselines on a time split, then refit it on everything.

    ``interactions``, ``customers``, ``products`` and ``orders`` are the marts
    user_item_interactions, customer_rfm, products and (optional) orders. Only the state is
    read from customers and only static attributes from products; everything else is
    rebuilt from the interactions and orders before each boundary.
    """
    config = config or RecommenderConfig()
    check_interactions(interactions)
    catalog = _catalog(products, interactions)
    catalog_ids = pd.Index(catalog["product_id"])
    states = customer_states(customers)
    orders = None if orders is None else check_orders(orders)
    split = split_by_time(interactions, config.test_days, config.validation_days)
    if split.validation.empty or split.test.empty:
        raise ValueError(f"the validation or test window is empty: {split.summary()}")
    seconds: dict[str, float] = {}

    clock = time.perf_counter()
    recent_days, validation_task = _validation_choice(split, catalog_ids, config)
    trained, training_log = fit_two_tower(
        split.train, split.validation_start, states, catalog, orders, config, validation=split.validation
    )
    seconds["train"] = training_log.seconds

    # The prior, the calibration and the validation table, from the model as of the validation start.
    prior, prior_search = _choose_prior(trained, validation_task, recent_days, config)
    trained.with_prior(prior)
    validation_ranked = trained.ranked(validation_task.customers, top_k=config.calibration_depth)
    calibrator = IsotonicCalibrator().fit(
        validation_ranked["log_softmax"].to_numpy(), label_recommendations(validation_ranked, split.validation)
    )
    validation_runs = {
        TWO_TOWER: run_scorer(validation_task, trained.scorer(validation_task.customers), EVALUATION_K),
        **{
            name: run_scorer(validation_task, scorer, EVALUATION_K)
            for name, scorer in _baselines(split.train, catalog_ids, split.validation_start, recent_days).items()
        },
    }
    validation_metrics = metrics_table(validation_task, validation_runs, EVALUATION_K)
    seconds["validation"] = time.perf_counter() - clock - seconds["train"]

    # Test: the same network, with features and baselines as of the cutoff.
    clock = time.perf_counter()
    evaluated = trained.with_calibrator(calibrator).rebased(
        split.cutoff, purchase_events(split.history), orders, states, catalog
    )
    task = EvaluationTask.build(split.history, split.test, catalog_ids, config.sampled_negatives, config.seed)
    scoring_started = time.perf_counter()
    runs: dict[str, ModelRun] = {TWO_TOWER: run_scorer(task, evaluated.scorer(task.customers), EVALUATION_K)}
    seconds["test_scoring_two_tower"] = time.perf_counter() - scoring_started
    for name, scorer in _baselines(split.history, catalog_ids, split.cutoff, recent_days).items():
        runs[name] = run_scorer(task, scorer, EVALUATION_K)
    metrics = metrics_table(task, runs, EVALUATION_K)
    comparisons = compare_to_baselines(task, runs, TWO_TOWER, EVALUATION_K, seed=config.seed)
    test_ranked = evaluated.recommend(task.customers, top_k=config.top_k)
    calibration = expected_calibration_error(
        test_ranked["probability"].to_numpy(), label_recommendations(test_ranked, split.test)
    )
    seconds["test_evaluation"] = time.perf_counter() - clock

    final, refit_log = fit_two_tower(
        known_before(interactions, split.end),
        split.end,
        states,
        catalog,
        orders,
        config,
        schedule=training_log.schedule(),
    )
    final.with_calibrator(calibrator).with_prior(prior)
    seconds["refit"] = refit_log.seconds
    return RecommenderResult(
        metrics=metrics,
        validation_metrics=validation_metrics,
        model=final,
        evaluated_model=evaluated,
        calibration=calibration,
        split=split.summary(),
        training=training_log,
        refit=refit_log,
        chosen={
            "recent_days": recent_days,
            "best_epoch": training_log.best_epoch,
            "prior_weight_first_time": prior.first_time,
            "prior_weight_repeat": prior.repeat,
        },
        prior_search=prior_search,
        comparisons=comparisons,
        seconds=seconds,
        config=config,
    )
