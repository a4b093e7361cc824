"""Named RFM segments from the marts' 1-5 R and F scores.

The usual marketing grid on (recency score, frequency score); every (R, F) pair maps to
exactly one name. M does not change the name: it orders customers inside a segment.
"""

from __future__ import annotations

import pandas as pd

SEGMENTS = (
    "Champions",
    "Loyal",
    "Potential Loyalist",
    "New Customers",
    "Promising",
    "Need Attention",
    "About to Sleep",
    "At Risk",
    "Can't Lose Them",
    "Hibernating",
    "Lost",
)


def segment_for(r_score: int, f_score: int) -> str:
    if not (1 <= r_score <= 5 and 1 <= f_score <= 5):
        raise ValueError(f"R and F scores must be 1-5, got R={r_score} F={f_score}")
    if r_score == 5 and f_score >= 4:
        return "Champions"
    if r_score >= 3 and f_score >= 4:
        return "Loyal"
    if r_score >= 4 and f_score in (2, 3):
        return "Potential Loyalist"
    if r_score == 5 and f_score == 1:
        return "New Customers"
    if r_score == 4 and f_score == 1:
        return "Promising"
    if r_score == 3 and f_score == 3:
        return "Need Attention"
    if r_score == 3:
        return "About to Sleep"
    if f_score == 5:
        return "Can't Lose Them"
    if f_score >= 3:
        return "At Risk"
    if r_score == 2:
        return "Hibernating"
    return "Lost"


def named_segments(rfm: pd.DataFrame) -> pd.Series:
    """One segment name per row of a frame with ``r_score`` and ``f_score``."""
    grid = {(r, f): segment_for(r, f) for r in range(1, 6) for f in range(1, 6)}
    return pd.Series(
        [grid[(int(r), int(f))] for r, f in zip(rfm["r_score"], rfm["f_score"], strict=True)],
        index=rfm.index,
        name="segment",
    )


def segment_summary(segments: pd.DataFrame) -> pd.DataFrame:
    """Customers, share, revenue, share of revenue and average order value per segment.

    ``segments`` has ``segment``, ``frequency`` (orders) and ``monetary`` (spend).
    """
    grouped = segments.groupby("segment").agg(
        customers=("segment", "size"), orders=("frequency", "sum"), revenue=("monetary", "sum")
    )
    grouped["customer_share"] = grouped["customers"] / grouped["customers"].sum()
    grouped["revenue_share"] = grouped["revenue"] / grouped["revenue"].sum()
    grouped["average_order_value"] = grouped["revenue"] / grouped["orders"]
    return grouped.reset_index().sort_values("revenue", ascending=False, ignore_index=True)
