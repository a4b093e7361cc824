"""An experiment's readout from its logged events: one row per arm and a verdict.

The events are the serving events table (retail_intel/events.py): ``exposure`` rows (one per
item shown in the experiment, with the arm it counts for and the request), the clients'
``click`` rows (attributed to an arm through the request and product they were on) and
``purchase`` rows (attributed by customer and time).

- **A/B** (customer-level, fixed horizon): a customer's outcome is what happened in the
  ``horizon_days`` after their first exposure, so only customers whose horizon has passed by
  ``as_of`` count ("complete"). Metrics per customer: ``revenue_14d`` (purchase value in the
  horizon), ``conversion`` (any purchase), ``click_rate`` (any click on a shown item). Each
  treatment arm against the control (the first arm): the primary metric's difference with its
  confidence interval (Welch for revenue, two proportions otherwise), the sample-ratio
  check on every readout, and the fixed-horizon verdict (``analysis.verdict``); with more than
  two arms the level is Bonferroni-corrected.
- **Bandit**: traffic is not randomised at a fixed split, so no difference test; per arm its
  share of visits, reward rate (a click on or a purchase of a shown item, per visit) and the
  posterior probability of being best from the replayed, discounted state. A winner when that
  probability reaches 0.95.
- **Interleaving**: each request's winner by clicks (``interleaving.credit``) and the sign
  test on the decided requests (``interleaving.preference``).

Click-through (clicks per item shown) is reported for every kind.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ml.experiments.analysis import (
    difference_in_means,
    difference_in_proportions,
    sample_ratio_mismatch,
    verdict,
)
from ml.experiments.bandit import REWARD_EVENTS, DiscountedThompson
from ml.experiments.interleaving import TEAM_A, TEAM_B, credit, preference
from ml.experiments.serving import Plan

METRICS = ("revenue_14d", "conversion", "click_rate")
BANDIT_CONFIDENCE = 0.95
COLUMNS = (
    "experiment",
    "kind",
    "arm",
    "role",
    "customers",
    "complete_customers",
    "visits",
    "items_shown",
    "clicks",
    "click_through_rate",
    "primary_metric",
    "value",
    "difference",
    "low",
    "high",
    "p_value",
    "share_of_visits",
    "probability_best",
)


@dataclass(frozen=True)
class Readout:
    table: pd.DataFrame  # one row per arm (COLUMNS)
    decided: bool
    winner: str | None  # an arm's name
    reason: str
    srm_p_value: float | None
    as_of: pd.Timestamp | None


def read_out(
    plan: Plan,
    events: pd.DataFrame,
    *,
    primary_metric: str = "revenue_14d",
    horizon_days: int = 14,
    planned_per_arm: int = 0,
    alpha: float = 0.05,
    as_of: pd.Timestamp | None = None,
    seed: int = 0,
) -> Readout:
    if primary_metric not in METRICS:
        raise ValueError(f"primary metric must be one of {', '.join(METRICS)}, got {primary_metric!r}")
    exposures = events.loc[(events["event_type"] == "exposure") & (events["experiment"] == plan.name)]
    if exposures.empty:
        empty = pd.DataFrame([_row(plan, arm, "arm") for arm in plan.arms], columns=list(COLUMNS))
        return Readout(empty, False, None, "no exposure logged yet", None, None)
    # When the customer saw a list is the client's impression of that request where one came back
    # (a replay of past days reports the past), else when it was served.
    seen = events.loc[events["event_type"] == "impression"].groupby("request_id")["occurred_at"].min()
    if len(seen):
        shown_at = exposures["request_id"].map(seen.to_dict())
        exposures = exposures.assign(
            occurred_at=pd.to_datetime(shown_at.where(shown_at.notna(), exposures["occurred_at"]))
        )
    if as_of is None:
        # The events are complete up to the latest one a client sent (exposures are the service's own).
        reported = events.loc[events["event_type"] != "exposure", "occurred_at"]
        as_of = (reported if len(reported) else exposures["occurred_at"]).max()
    as_of = pd.Timestamp(as_of)
    clicks = _attributed_clicks(events, exposures)
    if plan.kind == "interleaving":
        return _interleaving(plan, exposures, clicks, alpha, planned_per_arm, as_of)
    if plan.kind == "bandit":
        return _bandit(plan, events, exposures, clicks, as_of, seed)
    return _ab(plan, events, exposures, clicks, primary_metric, horizon_days, planned_per_arm, alpha, as_of)


def _attributed_clicks(events: pd.DataFrame, exposures: pd.DataFrame) -> pd.DataFrame:
    """Clicks on a shown item, with the arm that item counts for (one per request and product)."""
    shown = exposures[["request_id", "product_id", "arm", "customer_unique_id"]].drop_duplicates(
        ["request_id", "product_id"]
    )
    clicked = events.loc[events["event_type"] == "click", ["request_id", "product_id", "occurred_at"]]
    clicked = clicked.drop_duplicates(["request_id", "product_id"])
    return clicked.merge(shown, on=["request_id", "product_id"], how="inner")


def _visits(exposures: pd.DataFrame) -> pd.DataFrame:
    """One row per request: customer, when, the arm of the request (interleaving: both)."""
    return exposures.groupby("request_id", as_index=False).agg(
        customer_unique_id=("customer_unique_id", "first"),
        occurred_at=("occurred_at", "min"),
        items=("product_id", "count"),  # an empty list's one row has no product
        arm=("arm", "first"),
    )


def _row(plan: Plan, arm: str, role: str, **figures) -> dict:
    return {column: None for column in COLUMNS} | {
        "experiment": plan.name,
        "kind": plan.kind,
        "arm": arm,
        "role": role,
        **figures,
    }


def _ab(plan, events, exposures, clicks, metric, horizon_days, planned, alpha, as_of) -> Readout:
    visits = _visits(exposures)
    first = visits.sort_values("occurred_at").drop_duplicates("customer_unique_id")
    first = first.set_index("customer_unique_id")[["arm", "occurred_at"]].rename(columns={"occurred_at": "first"})
    horizon = pd.Timedelta(days=horizon_days)
    complete = first.loc[first["first"] + horizon <= as_of]
    purchases = events.loc[events["event_type"] == "purchase", ["customer_unique_id", "occurred_at", "value"]]
    outcome = pd.DataFrame(index=complete.index)
    starts = complete.rename_axis("customer_unique_id").reset_index()
    in_window = purchases.merge(starts, on="customer_unique_id")
    in_window = in_window.loc[
        (in_window["occurred_at"] >= in_window["first"]) & (in_window["occurred_at"] < in_window["first"] + horizon)
    ]
    outcome["revenue_14d"] = in_window.groupby("customer_unique_id")["value"].sum().reindex(outcome.index).fillna(0.0)
    outcome["conversion"] = (
        in_window.groupby("customer_unique_id").size().reindex(outcome.index).fillna(0).gt(0).astype(float)
    )
    clicked = clicks.merge(starts, on="customer_unique_id", suffixes=("", "_first"))
    clicked = clicked.loc[clicked["occurred_at"] < clicked["first"] + horizon]
    outcome["click_rate"] = outcome.index.isin(clicked["customer_unique_id"]).astype(float)
    outcome["arm"] = complete["arm"]

    arms = list(plan.arms)
    counts = [int((first["arm"] == arm).sum()) for arm in arms]
    srm = sample_ratio_mismatch(counts, list(plan.arms.values()))
    level = 1 - alpha / max(1, len(arms) - 1)
    control = outcome.loc[outcome["arm"] == arms[0], metric]
    rows, verdicts = [], []
    for arm, count in zip(arms, counts, strict=True):
        mine = outcome.loc[outcome["arm"] == arm, metric]
        shown = visits.loc[visits["arm"] == arm]
        figures = {
            "customers": count,
            "complete_customers": len(mine),
            "visits": len(shown),
            "items_shown": int(shown["items"].sum()),
            "clicks": int((clicks["arm"] == arm).sum()),
            "primary_metric": metric,
            "value": float(mine.mean()) if len(mine) else None,
            "share_of_visits": len(shown) / len(visits),
        }
        figures["click_through_rate"] = figures["clicks"] / figures["items_shown"] if figures["items_shown"] else None
        if arm != arms[0] and len(control) >= 2 and len(mine) >= 2:
            difference = _difference(metric, control, mine, level)
            figures |= {
                "difference": difference.estimate,
                "low": difference.low,
                "high": difference.high,
                "p_value": difference.p_value,
            }
            verdicts.append((arm, verdict(difference, planned, srm, alpha / max(1, len(arms) - 1))))
        rows.append(_row(plan, arm, "control" if arm == arms[0] else "treatment", **figures))
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    if not verdicts:
        return Readout(table, False, None, "too few complete customers in some arm to compare", srm, as_of)
    winners = [(arm, read) for arm, read in verdicts if read.winner is not None]
    undecided = [read for _, read in verdicts if not read.decided]
    if undecided:
        return Readout(table, False, None, undecided[0].reason, srm, as_of)
    if not winners:
        return Readout(table, True, None, "; ".join(read.reason for _, read in verdicts), srm, as_of)
    # The best significant arm against the control; the control when every significant one is worse.
    better = [
        (arm, table.loc[table["arm"] == arm, "difference"].item())
        for arm, read in winners
        if read.winner == "treatment"
    ]
    if better:
        arm = max(better, key=lambda pair: pair[1])[0]
        return Readout(table, True, arm, f"{arm} beats {arms[0]} on {metric} ({dict(winners)[arm].reason})", srm, as_of)
    return Readout(table, True, arms[0], f"the control {arms[0]} beats every treatment on {metric}", srm, as_of)


def _difference(metric: str, control: pd.Series, treatment: pd.Series, level: float):
    if metric == "revenue_14d":
        return difference_in_means(control.to_numpy(), treatment.to_numpy(), level)
    return difference_in_proportions(int(control.sum()), len(control), int(treatment.sum()), len(treatment), level)


def _bandit(plan, events, exposures, clicks, as_of, seed) -> Readout:
    visits = _visits(exposures).sort_values(["occurred_at", "request_id"])
    keys = ["request_id", "product_id"]
    shown = exposures[keys].dropna().drop_duplicates()
    rewards = events.loc[events["event_type"].isin(REWARD_EVENTS), keys].merge(shown, on=keys)
    rewarded = set(rewards["request_id"])
    outcomes = [
        (arm, float(request in rewarded)) for arm, request in zip(visits["arm"], visits["request_id"], strict=True)
    ]
    state = DiscountedThompson.replayed(list(plan.arms), outcomes)
    best = state.best_probability(np.random.default_rng(seed))
    rows = []
    for arm in plan.arms:
        shown = visits.loc[visits["arm"] == arm]
        mine = clicks.loc[clicks["arm"] == arm]
        rows.append(
            _row(
                plan,
                arm,
                "arm",
                customers=int(shown["customer_unique_id"].nunique()),
                visits=len(shown),
                items_shown=int(shown["items"].sum()),
                clicks=len(mine),
                click_through_rate=len(mine) / shown["items"].sum() if shown["items"].sum() else None,
                primary_metric="reward_per_visit",
                value=float(shown["request_id"].isin(rewarded).mean()) if len(shown) else None,
                share_of_visits=len(shown) / len(visits),
                probability_best=best[arm],
            )
        )
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    leader = max(best, key=best.get)
    if best[leader] >= BANDIT_CONFIDENCE:
        reason = f"{leader} is the best arm with posterior probability {best[leader]:.3f}"
        return Readout(table, True, leader, reason, None, as_of)
    reason = f"no arm is best with probability {BANDIT_CONFIDENCE} yet ({leader}: {best[leader]:.3f})"
    return Readout(table, False, None, reason, None, as_of)


def _interleaving(plan, exposures, clicks, alpha, planned, as_of) -> Readout:
    first, second = list(plan.arms)
    team = {first: TEAM_A, second: TEAM_B}
    positions = exposures.assign(team=exposures["arm"].map(team))
    clicked = set(zip(clicks["request_id"], clicks["product_id"], strict=True))
    winners = []
    for request, shown in positions.groupby("request_id", sort=False):
        teams = shown["team"].tolist()
        hit = [i for i, product in enumerate(shown["product_id"]) if (request, product) in clicked]
        winners.append(credit(teams, hit))
    result = preference(winners)
    rows = []
    for arm, wins in ((first, result.wins_a), (second, result.wins_b)):
        mine = positions.loc[positions["arm"] == arm]
        arm_clicks = int((clicks["arm"] == arm).sum())
        rows.append(
            _row(
                plan,
                arm,
                "team A" if arm == first else "team B",
                customers=int(mine["customer_unique_id"].nunique()),
                visits=len(winners),
                items_shown=len(mine),
                clicks=arm_clicks,
                click_through_rate=arm_clicks / len(mine) if len(mine) else None,
                primary_metric="interleaving_wins",
                value=float(wins),
                difference=result.delta if arm == first else -result.delta,
                p_value=result.p_value,
            )
        )
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    decided = result.wins_a + result.wins_b
    summary = f"{result.wins_a} wins for {first}, {result.wins_b} for {second}, {result.ties} ties"
    if decided < max(planned, 1):
        return Readout(
            table, False, None, f"{decided} of {planned} decided impressions planned: not read yet", None, as_of
        )
    if result.p_value >= alpha:
        return Readout(
            table, True, None, f"no significant preference (p = {result.p_value:.3f}; {summary})", None, as_of
        )
    winner = first if result.wins_a > result.wins_b else second
    return Readout(table, True, winner, f"{winner} is preferred (p = {result.p_value:.3g}; {summary})", None, as_of)
