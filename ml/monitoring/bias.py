"""Whom the recommender serves worse: quality and exposure by group of customers.

For each group of a dimension (segment, state), from the customers whose lists were measured on
their purchases (ml/monitoring/online.customer_outcomes):

- **quality**: HR@10, and calibration: the hit rate the lists' own probabilities expected
  beside the one realised (a group whose lists promise more than they deliver is misled);
- **exposure**: the group's share of impressions against its share of customers with lists
  (an exposure ratio below 1: shown less than its size), and the share of its customers in the
  coupon and high-visibility bands.

A group is flagged when it is served much worse than the average beyond chance: its HR@10 is
below ``worse_ratio`` of the overall one, the one-sided binomial p-value of so few hits under
the overall rate is below ``significance``, and it has at least ``min_customers`` measured.
Small groups are reported, never flagged: a state with eight customers and no hit is noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

COLUMNS = [
    "dimension",
    "group",
    "customers",
    "hits",
    "hit_rate",
    "expected_hit_rate",
    "calibration_gap",
    "customer_share",
    "impression_share",
    "exposure_ratio",
    "promoted_share",
    "p_value_worse",
    "flagged",
]
PROMOTED_BANDS = ("coupon", "high_visibility")


@dataclass(frozen=True)
class BiasLimits:
    worse_ratio: float = 0.5
    significance: float = 0.05
    min_customers: int = 30


def bias_table(
    outcomes: pd.DataFrame,
    groups: pd.DataFrame,
    dimensions: tuple[str, ...],
    listed: pd.Series,
    impressions: pd.Series | None = None,
    bands: pd.Series | None = None,
    limits: BiasLimits = BiasLimits(),
) -> pd.DataFrame:
    """One row per dimension and group (COLUMNS).

    ``outcomes``: customer_unique_id, hit [, expected_hit]; ``groups``: customer_unique_id and a
    column per dimension; ``listed``: the customers who had a list (exposure's denominator);
    ``impressions``: impressions per customer; ``bands``: each customer's activation band."""
    missing = [column for column in ("customer_unique_id", *dimensions) if column not in groups.columns]
    if missing:
        raise ValueError(f"bias: the groups lack the column(s) {missing}")
    groups = groups.drop_duplicates("customer_unique_id").set_index("customer_unique_id")
    own = [column for column in ("customer_unique_id", "hit", "expected_hit") if column in outcomes.columns]
    measured = outcomes[own].set_index("customer_unique_id").join(groups[list(dimensions)], how="left")
    overall = measured["hit"].mean() if len(measured) else np.nan
    people = groups.loc[groups.index.intersection(pd.Index(listed.unique()))]
    rows = []
    for dimension in dimensions:
        labels = measured[dimension].fillna("unknown").astype(str)
        people_labels = people[dimension].fillna("unknown").astype(str)
        for group in sorted(set(labels) | set(people_labels)):
            rows.append(
                _row(
                    dimension, group, measured.loc[labels == group], people_labels, impressions, bands, overall, limits
                )
            )
    return pd.DataFrame(rows, columns=COLUMNS)


def _row(dimension, group, mine, people_labels, impressions, bands, overall, limits) -> dict[str, object]:
    customers, hits = len(mine), int(mine["hit"].sum()) if len(mine) else 0
    rate = hits / customers if customers else np.nan
    expected = float(mine["expected_hit"].mean()) if customers and "expected_hit" in mine else np.nan
    members = people_labels.index[people_labels == group]
    customer_share = len(members) / len(people_labels) if len(people_labels) else np.nan
    impression_share = np.nan
    if impressions is not None and impressions.sum() > 0:
        impression_share = float(impressions.reindex(members).fillna(0).sum() / impressions.sum())
    promoted = np.nan
    if bands is not None and len(members):
        promoted = float(bands.reindex(members).isin(PROMOTED_BANDS).mean())
    p_value = np.nan
    if customers and not np.isnan(overall) and overall > 0:
        p_value = float(stats.binomtest(hits, customers, overall, alternative="less").pvalue)
    flagged = bool(
        customers >= limits.min_customers and rate < limits.worse_ratio * overall and p_value < limits.significance
    )
    return {
        "dimension": dimension,
        "group": group,
        "customers": customers,
        "hits": hits,
        "hit_rate": rate,
        "expected_hit_rate": expected,
        "calibration_gap": expected - rate if customers else np.nan,
        "customer_share": customer_share,
        "impression_share": impression_share,
        "exposure_ratio": impression_share / customer_share if customer_share else np.nan,
        "promoted_share": promoted,
        "p_value_worse": p_value,
        "flagged": flagged,
    }
