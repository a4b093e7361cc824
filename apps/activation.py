"""Coupon targeting: the batch scorer behind `retail-intel score`.

Each customer's precomputed list passes through the business rules (the same
``apply_rules`` the API uses); the customer's best remaining item and its calibrated
probability decide the band: at or above ``high_visibility`` the item gets prominent
placement, from ``coupon`` up a coupon, below nothing. The summary counts customers per
band and the purchases the probabilities imply, so marketing can see whether the
thresholds suit the data before a campaign goes out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from apps.rules import BusinessRules, apply_rules

ACTIONS = {"high_visibility": "prominent placement", "coupon": "send coupon", "standard": "no action"}
SHARES = (0.01, 0.05, 0.10)


@dataclass
class Targets:
    targets: pd.DataFrame  # one row per customer with an item left after the rules
    summary: pd.DataFrame  # per band: customers, share, expected purchases, mean probability
    suggestions: pd.DataFrame  # probability thresholds that would target the top 1%, 5%, 10%
    without_items: int  # customers the rules left with nothing


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
