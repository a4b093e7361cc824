"""Coupon targeting: the batch scorer behind `retail-intel score`.

Each customer's precomputed list passes through the business rules (the same
``apply_rules`` the API uses); the customer's best remaining item and its calibrated
probability decide the band: at or above ``high_visibility`` the item gets prominent
placement, from ``coupon`` up a coupon, below nothing. The summary counts customers per
band and the purchases the probabilities imply, so marketing can see whether the
thresholds suit the data before a campaign goes out.

``run_campaign`` is the whole batch on a warehouse: it reads the published tables, writes
ml.coupon_targets and the campaign CSV; the command only parses options and prints.

A running online experiment is respected: the bands need the champion's calibrated
probabilities, which a strategy arm or another version's list does not have, so a customer the
experiment serves something else (an A/B arm other than the champion's lists; anyone inside a
bandit's or interleaving test's rollout, whose list is drawn per visit) is held out of the
campaign rather than sent the champion's item, which would blur the experiment.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from apps.rules import Bands, BusinessRules, apply_rules

if TYPE_CHECKING:
    from retail_intel.warehouse import Warehouse

ACTIONS = {"high_visibility": "prominent placement", "coupon": "send coupon", "standard": "no action"}
SHARES = (0.01, 0.05, 0.10)


@dataclass
class Targets:
    targets: pd.DataFrame  # one row per customer with an item left after the rules
    summary: pd.DataFrame  # per band: customers, share, expected purchases, mean probability
    suggestions: pd.DataFrame  # probability thresholds that would target the top 1%, 5%, 10%
    without_items: int  # customers the rules left with nothing


@dataclass
class CampaignResult(Targets):
    campaign: pd.DataFrame  # the coupon and high-visibility bands: the rows of the campaign CSV
    path: Path  # where the campaign CSV was written
    held_out: int = 0  # customers a running experiment serves something else


def held_out(customers: pd.Series, plan, tenant: str, champion_version: str) -> pd.Series:
    """Whether each customer is one a running experiment serves other than the champion's lists."""
    from ml.experiments.assignment import Arm, assign

    arms = [Arm(name, weight) for name, weight in plan.arms.items()]
    placed = customers.map(lambda customer: assign(tenant, customer, plan.salt, arms, plan.rollout))
    if plan.kind == "ab":
        return placed.notna() & (placed != champion_version)
    return placed.notna()


class RecommendationsMissing(LookupError):
    """ml.recommendations is not published yet, so there is no list to target from."""


def with_bands(
    rules: BusinessRules, high_visibility: float | None = None, coupon: float | None = None
) -> BusinessRules:
    """``rules`` with the thresholds given in place of the rules file's; ValueError unless
    ``0 <= coupon <= high_visibility <= 1``."""
    bands = Bands(
        high_visibility=rules.bands.high_visibility if high_visibility is None else high_visibility,
        coupon=rules.bands.coupon if coupon is None else coupon,
    )
    return dataclasses.replace(rules, bands=bands)


def run_campaign(
    warehouse: Warehouse, rules: BusinessRules, path: Path, experiment=None, tenant: str = ""
) -> CampaignResult:
    """Targets every customer with a published list (but those ``experiment``, the tenant's
    running one as a ``ml.experiments.serving.Plan``, serves otherwise): writes
    ml.coupon_targets, and the customers outside the standard band to the campaign CSV at ``path``."""
    if not warehouse.exists("ml", "recommendations"):
        raise RecommendationsMissing("ml.recommendations is not published yet: run `retail-intel run` first")
    frames = warehouse.read_consistent(
        {"products": ("marts", "products"), "customers": ("marts", "customer_rfm"), "lists": ("ml", "recommendations")}
    )
    categories = frames["products"].set_index("product_id")["category"]
    states = frames["customers"].set_index("customer_unique_id")["customer_state"]
    lists, kept_out = frames["lists"], 0
    if experiment is not None and len(lists):
        customers = lists["customer_unique_id"].drop_duplicates()
        out = customers[held_out(customers, experiment, tenant, str(lists["model_version"].iloc[0])).to_numpy()]
        kept_out = len(out)
        lists = lists.loc[~lists["customer_unique_id"].isin(set(out))]
    result = coupon_targets(lists, categories, states, rules)
    warehouse.write("ml", "coupon_targets", result.targets)
    path.parent.mkdir(parents=True, exist_ok=True)
    campaign = result.targets.loc[result.targets["band"] != "standard"]
    campaign.to_csv(path, index=False)
    return CampaignResult(**vars(result), campaign=campaign, path=path, held_out=kept_out)


def coupon_targets(
    recommendations: pd.DataFrame, categories: pd.Series, states: pd.Series, rules: BusinessRules
) -> Targets:
    """``recommendations``: ml.recommendations; ``categories``: product -> category; ``states``: customer -> state."""
    candidates = recommendations.sort_values(["customer_unique_id", "rank"], kind="stable")
    candidates = candidates.assign(category=candidates["product_id"].map(categories))
    outcome = apply_rules(candidates, rules, k=1, states=states)
    best = outcome.items.merge(
        recommendations[["customer_unique_id", "model_version"]].drop_duplicates("customer_unique_id"),
        on="customer_unique_id",
        how="left",
    )
    best["action"] = best["band"].map(ACTIONS)
    best["rules_version"] = rules.version
    targets = best[
        ["customer_unique_id", "product_id", "probability", "band", "action", "model_version", "rules_version"]
    ].sort_values("probability", ascending=False, kind="stable", ignore_index=True)
    probability = targets["probability"].fillna(0.0)
    summary = (
        targets.assign(probability=probability)
        .groupby("band")
        .agg(
            customers=("customer_unique_id", "size"),
            expected_purchases=("probability", "sum"),
            mean_probability=("probability", "mean"),
        )  # fmt: skip
        .reindex(list(ACTIONS), fill_value=0)
        .rename_axis("band")
        .reset_index()
    )
    summary["share"] = summary["customers"] / max(len(targets), 1)
    summary["threshold"] = summary["band"].map(
        {"high_visibility": rules.bands.high_visibility, "coupon": rules.bands.coupon, "standard": 0.0}
    )
    summary = summary[["band", "threshold", "customers", "share", "expected_purchases", "mean_probability"]]
    ordered = np.sort(probability.to_numpy())[::-1]
    suggestions = pd.DataFrame(
        {
            "top_share": list(SHARES),
            "customers": [max(int(round(share * len(ordered))), 1) if len(ordered) else 0 for share in SHARES],
        }
    )
    suggestions["min_probability"] = [
        float(ordered[count - 1]) if count else float("nan") for count in suggestions["customers"]
    ]
    suggestions["expected_purchases"] = [float(ordered[:count].sum()) for count in suggestions["customers"]]
    return Targets(targets, summary, suggestions, len(outcome.empty_reasons))
