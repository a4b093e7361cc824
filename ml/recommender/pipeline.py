"""One entry point: every candidate fitted and scored on validation under two protocols, the
best one chosen, all of them scored on test, the chosen one refit on all data.

Selection. Each protocol (``selection.py``) has a validation fold that mirrors its test fold
one step earlier: candidates learn from what was known before it and are scored on what
was bought in it, full catalogue, on the same customers. Each candidate's hyper-parameters
(its ``grid``) are chosen on the selection protocol's validation and reused on the other;
the candidate with the best HR@10 there (equal ones told apart by NDCG@10, then by
simplicity) becomes the challenger. Nothing is chosen on a test fold: its figures, for
every candidate, with paired intervals of the chosen one's lead over each other one, are
reported only.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ml.recommender.candidates import Candidate, FitData, ItemBasedRecommender, default_candidates
from ml.recommender.candidates.base import RankCalibrator
from ml.recommender.evaluation import FULL, SAMPLED, run_scorer
from ml.recommender.features import check_orders, customer_states
from ml.recommender.frames import in_key_order, isin, object_ids
from ml.recommender.metrics import expected_calibration_error
from ml.recommender.next_purchase import split_next_purchase
from ml.recommender.selection import (
    EVALUATION_K,
    NEXT_PURCHASE,
    NOT_SELECTED_HERE,
    PROTOCOLS,
    TIME_WINDOW,
    choose,
    evaluate,
    full_hr,
    next_purchase_protocol,
    time_window_protocol,
)
from ml.recommender.split import check_interactions, known_before, split_by_time

# The shortest evaluation window worth a figure: one week, so that every weekday is in it.
MIN_WINDOW_DAYS = 7


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
    patience: int = 2
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
    # Evaluation protocols run for every candidate, and the one the choice is made on. The
    # per-customer protocol scores the population the lists are served to (customers with a
    # history). It is reported when at least next_purchase_min_customers customers have three
    # orders (a validation and a test order each) and decides when at least
    # next_purchase_selection_min_customers do, and at least as many as the time window's
    # validation holds. Below 500 its validation is too small to tell candidates apart (a
    # standard error of about 0.01 in HR@10). With fewer customers than the time window it
    # speaks for a minority of heavy buyers, not for most of the customers the lists are for
    # (at 1M Olist-like orders 3,983 against 59,199). Long histories, subscriptions and
    # decaying cohorts have more customers with three orders than buyers in the last window.
    protocols: tuple[str, ...] = ("time_window", "next_purchase")
    selection_protocol: str = "next_purchase"
    next_purchase_min_customers: int = 20
    next_purchase_selection_min_customers: int = 500
    # Below this share of pairs held out by the next-purchase protocol, its network stands in
    # for a refit of a candidate that rebases rather than retrains (see _refit). At 100K
    # Olist-like orders the protocol holds out 3.3% (the repeat customers' last two orders).
    reuse_held_out_share: float = 0.05

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
        unknown = set(self.protocols) - set(PROTOCOLS) or ({self.selection_protocol} - set(PROTOCOLS))
        if unknown or TIME_WINDOW not in self.protocols:
            raise ValueError(f"protocols must include {TIME_WINDOW!r} and be among {PROTOCOLS}; got {self.protocols}")
        if not 0 <= self.reuse_held_out_share <= 1:
            raise ValueError(f"reuse_held_out_share must lie in [0, 1], got {self.reuse_held_out_share}")
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
    validation window. ``model``: the chosen candidate refit on all interactions (see ``_refit``),
    scoring as of the end of the data; ``evaluated_model``: the same candidate as the test figures
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
                protocol = "" if row["protocol"] == TIME_WINDOW else f"{row['protocol']}_"
                for figure in ("difference", "ci_low", "ci_high"):
                    flat[f"{prefix}{protocol}lead_over_{row['baseline']}.{row['metric']}.{figure}"] = row[figure]
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


def fitted_windows(interactions: pd.DataFrame, config: RecommenderConfig) -> RecommenderConfig:
    """``config`` with test and validation windows that leave at least as long a training period.

    A short history (a shop with 60 days of data) cannot hold 30 + 30 days of evaluation and
    still train on something; both windows shrink to a quarter of the history each, never
    below MIN_WINDOW_DAYS. Shorter than four such windows, nothing can be evaluated.
    """
    first, last = interactions["first_purchased_at"].min(), interactions["last_purchased_at"].max()
    days = int((last.normalize() - first.normalize()) / pd.Timedelta(days=1)) + 1
    if days >= 2 * (config.test_days + config.validation_days):
        return config
    window = days // 4
    if window < MIN_WINDOW_DAYS:
        raise NotEnoughHistory(
            f"{days} days of purchases: too short for a validation and a test window of at least "
            f"{MIN_WINDOW_DAYS} days each with as much history before them"
        )
    window = min(window, config.test_days, config.validation_days)
    return dataclasses.replace(
        config, test_days=window, validation_days=window, window_days=min(config.window_days, window)
    )


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
    rebuilt from the interactions and orders before each boundary. Both protocols are run
    (the per-customer one where enough customers have two orders); the selection uses
    ``config.selection_protocol``. A candidate that does not apply to the data, or fails,
    steps aside with the reason; the others go on.
    """
    config = config or RecommenderConfig()
    interactions, customers, products, orders = (object_ids(f) for f in (interactions, customers, products, orders))
    check_interactions(interactions)
    catalog = _catalog(products, interactions)
    states = customer_states(customers)
    orders = None if orders is None else check_orders(orders)
    # The same rows in whatever order the warehouse gave them give the same result (frames.py).
    interactions = in_key_order(interactions, ["customer_unique_id", "product_id"])
    orders = None if orders is None else in_key_order(orders, list(orders.columns))
    config = fitted_windows(interactions, config)
    try:
        split = split_by_time(interactions, config.test_days, config.validation_days)
    except ValueError as error:
        raise NotEnoughHistory(str(error)) from error
    if split.validation.empty or split.test.empty:
        raise NotEnoughHistory(f"the validation or test window is empty: {split.summary()}")
    candidates = [c for c in (candidates or default_candidates(config)) if c.name not in config.exclude_candidates]
    simplicity = {candidate.name: candidate.simplicity for candidate in candidates}
    not_applicable: dict[str, str] = {}
    clock = time.perf_counter()

    time_window = time_window_protocol(split, catalog, states, orders, 30, config)
    recent_days = _recent_days(time_window.validation)
    for fold in (time_window.validation, time_window.test):
        fold.data.recent_days = recent_days
    protocols = [time_window]
    evaluated_customers = 0
    window_customers = split.validation["customer_unique_id"].nunique()
    if NEXT_PURCHASE in config.protocols:
        next_split = split_next_purchase(interactions)
        evaluated_customers = next_split.validation["customer_unique_id"].nunique()
        if evaluated_customers < config.next_purchase_min_customers:
            not_applicable[NEXT_PURCHASE] = (
                f"{evaluated_customers} customers have three orders or more, fewer than "
                f"{config.next_purchase_min_customers}: too few for a validation and a test order each"
            )
        else:
            protocols.append(next_purchase_protocol(next_split, catalog, states, orders, recent_days, config))
    selection_protocol, why_not = config.selection_protocol, None
    if selection_protocol != NEXT_PURCHASE:
        pass
    elif NEXT_PURCHASE not in config.protocols:
        why_not = "not among the protocols run"
    elif NEXT_PURCHASE in not_applicable:
        why_not = not_applicable[NEXT_PURCHASE]
    elif evaluated_customers < config.next_purchase_selection_min_customers:
        why_not = (
            f"its validation has {evaluated_customers} customers, fewer than "
            f"{config.next_purchase_selection_min_customers}, too few to choose on"
        )
    elif evaluated_customers < window_customers:
        why_not = (
            f"its validation has {evaluated_customers:,} customers, fewer than the time window's "
            f"{window_customers:,}: the time window covers more of the customers the lists are for"
        )
    if why_not:
        selection_protocol = TIME_WINDOW
    # Settings are chosen on the selection protocol's validation; the other protocol scores each
    # candidate with the same settings, so that the model promotion judges (time window) is the
    # one that is published.
    outcomes = evaluate(sorted(protocols, key=lambda protocol: protocol.name != selection_protocol), candidates)
    for protocol in protocols:
        if protocol.negatives_reason:
            not_applicable[f"{protocol.prefix}{SAMPLED}"] = protocol.negatives_reason

    table = _candidates_table(outcomes, candidates)
    prefix = outcomes[selection_protocol].protocol.prefix
    # Only a candidate with a time-window test model can be registered: promotion scores that one.
    eligible = table.loc[table["candidate"].isin(list(outcomes[TIME_WINDOW].tested))]
    if eligible[f"{prefix}validation_hr_at_10"].notna().sum() == 0:
        raise ValueError(
            f"no recommender candidate could be evaluated: {table[['candidate', 'reason']].to_dict('records')}"
        )
    selected = outcomes[selection_protocol]
    chosen_name, chosen_reason = choose(
        eligible, simplicity, f"{prefix}validation_hr_at_10", selected.validation_figures
    )
    if why_not:
        chosen_reason += f" on the time window (next purchase: {why_not})"
    table.loc[table["candidate"] == chosen_name, ["status", "reason"]] = ["chosen", chosen_reason]

    window = outcomes[TIME_WINDOW]
    metrics = pd.concat([outcome.metrics("test") for outcome in outcomes.values()], ignore_index=True)
    validation_metrics = pd.concat([outcome.metrics("validation") for outcome in outcomes.values()], ignore_index=True)
    comparisons = pd.concat(
        [o.comparisons("test", chosen_name, config.seed) for o in outcomes.values()], ignore_index=True
    )
    validation_comparisons = pd.concat(
        [o.comparisons("validation", chosen_name, config.seed) for o in outcomes.values()], ignore_index=True
    )
    seconds = {key: value for outcome in outcomes.values() for key, value in outcome.seconds.items()}
    seconds["evaluation"] = time.perf_counter() - clock

    # The registry's evaluated model is the time-window one: promotion compares on today's test window.
    candidate, fitted, _ = window.validated[chosen_name]
    evaluated = window.tested[chosen_name]
    if isinstance(evaluated, ItemBasedRecommender):
        # Calibrated on the selection protocol's validation, as the two-tower's calibrator is, and
        # over every rank real time may show (it asks for more than 10).
        depth = max(config.calibration_depth, config.top_k)
        validation = selected.protocol.validation
        lists = selected.validated[chosen_name][1].recommend(validation.task.customers, depth)
        evaluated.with_calibrator(RankCalibrator().fit(lists, validation.held_out))
    test_ranked = evaluated.recommend(window.protocol.test.task.customers, config.top_k)
    calibration = expected_calibration_error(
        test_ranked["probability"].fillna(0.0).to_numpy(), _bought(test_ranked, split.test)
    )

    clock = time.perf_counter()
    all_data = FitData(
        known_before(interactions, split.end), split.end, catalog, states, orders, recent_days, None, config.seed
    )
    final, refit = _refit(candidate, fitted, chosen_name, outcomes, all_data, config.reuse_held_out_share)
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
        split={**split.summary(), "selection_protocol": selection_protocol},
        seconds=seconds,
        comparisons=comparisons,
        validation_comparisons=validation_comparisons,
        not_applicable=not_applicable,
        chosen={
            "recent_days": recent_days,
            "selection_protocol": selection_protocol,
            "refit": refit,
            **{k: v for k, v in fitted.params.items() if isinstance(v, int | float | str)},
        },
        config=config,
    )


def _refit(candidate: Candidate, fitted, name: str, outcomes, data: FitData, reuse_share: float) -> tuple[Any, str]:
    """The chosen candidate as of the end of the data, and how it got there.

    A candidate that rebases rather than retrains (the two-tower: at 100K orders a training
    takes about 25 s, an item-based refit about one) is not trained a third time when its
    next-purchase network already learned from all but ``reuse_share`` of the pairs: that
    protocol holds out only each repeat customer's last two orders, a sliver where few
    customers come back. That network, with the same settings, is rebased onto all the data:
    it scores from everyone's whole history, but its weights never learned from those
    orders. Where many customers come back (a subscription shop) the share is larger and the
    network is refit.
    """
    outcome = outcomes.get(NEXT_PURCHASE)
    if not getattr(candidate, "retrain_for_test", True) and outcome is not None and name in outcome.validated:
        learned = len(outcome.protocol.validation.data.known)
        held_out = 1 - learned / max(len(data.known), 1)
        if held_out < reuse_share:
            return (
                outcome.validated[name][1].rebased(data),
                f"next-purchase network rebased (it lacks {held_out:.2%} of the pairs)",
            )
    return candidate.fit(data, fitted.params), "refit on all interactions"


def _recent_days(fold) -> int:
    """Recent popularity's window, by HR@10 (then NDCG@10, then the shorter window) on validation.

    Chosen first because every item-based candidate orders the items its scores leave tied
    (all of them, for a first-time customer) by recent popularity.
    """
    from ml.recommender.candidates import RecentPopularity

    candidate = RecentPopularity()
    scored = []
    for params in candidate.grid():
        fitted = candidate.fit(fold.data, params)
        run = run_scorer(fold.task, fitted.scorer(fold.task.customers), EVALUATION_K)
        scored.append((*full_hr(fold.task, run), -params["days"], params["days"]))
    return max(scored)[-1]


SEVERITY = {"evaluated": 0, "stepped_aside": 1, "failed": 2}


def _candidates_table(outcomes, candidates: list[Candidate]) -> pd.DataFrame:
    """One row per candidate: its worst status over the protocols, each protocol's reason, every figure."""
    figures = ["validation_hr_at_10", "validation_ndcg_at_10", "test_hr_at_10", "test_ndcg_at_10"]
    table = pd.DataFrame({"candidate": [c.name for c in candidates], "family": [c.family for c in candidates]})
    table = table.assign(status="evaluated", reason="", params="-")
    for name, outcome in sorted(outcomes.items(), key=lambda item: item[0] != TIME_WINDOW):
        rows = pd.DataFrame(outcome.rows).set_index("candidate")
        for column in ["status", "reason", "params", *figures]:
            if column not in rows.columns:
                rows[column] = np.nan
        for candidate, row in rows.iterrows():
            at = table.index[table["candidate"] == candidate][0]
            if SEVERITY[row["status"]] > SEVERITY[table.at[at, "status"]]:
                table.at[at, "status"] = row["status"]
            if isinstance(row["reason"], str) and row["reason"] and row["reason"] != NOT_SELECTED_HERE:
                table.at[at, "reason"] = f"{table.at[at, 'reason']} [{name}] {row['reason']}".strip()
            if isinstance(row["params"], str) and table.at[at, "params"] == "-":
                table.at[at, "params"] = row["params"]
        table = table.join(rows[figures].add_prefix(outcome.protocol.prefix), on="candidate")
    return table


def _bought(ranked: pd.DataFrame, held_out: pd.DataFrame) -> np.ndarray:
    bought = pd.MultiIndex.from_frame(held_out[["customer_unique_id", "product_id"]])
    return pd.MultiIndex.from_frame(ranked[["customer_unique_id", "product_id"]]).isin(bought).astype("float64")
