"""Named RFM segments from the marts' 1-5 R and F scores.

The usual marketing grid on (recency score, frequency score); every (R, F) pair maps to
exactly one name. M does not change the name: it orders customers inside a segment.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score

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


# ---- K-Means on log-scaled RFM ------------------------------------------------------------
RFM_COLUMNS = ("recency_days", "frequency", "monetary")


@dataclass
class RfmSegmenter:
    """K-Means over standardised log1p(recency, frequency, monetary).

    Clusters are renumbered by their centre's value (low recency, high frequency and
    monetary last), so that cluster numbers mean the same thing from one fit to the next.
    """

    mean: np.ndarray
    scale: np.ndarray
    kmeans: KMeans

    @property
    def k(self) -> int:
        return int(self.kmeans.n_clusters)

    def transform(self, rfm: pd.DataFrame) -> np.ndarray:
        return (_log_rfm(rfm) - self.mean) / self.scale

    def predict(self, rfm: pd.DataFrame) -> np.ndarray:
        return self.kmeans.predict(self.transform(rfm))


def _log_rfm(rfm: pd.DataFrame) -> np.ndarray:
    missing = [column for column in RFM_COLUMNS if column not in rfm.columns]
    if missing:
        raise ValueError(f"RFM frame lacks column(s) {', '.join(missing)}")
    values = rfm[list(RFM_COLUMNS)].astype(float).to_numpy()
    if (values < 0).any():
        raise ValueError("recency_days, frequency and monetary must be non-negative")
    return np.log1p(values)


def _fit_kmeans(features: np.ndarray, k: int, seed: int) -> KMeans:
    kmeans = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(features)
    # Order clusters by value: -recency + frequency + monetary of the (standardised) centre.
    value = -kmeans.cluster_centers_[:, 0] + kmeans.cluster_centers_[:, 1] + kmeans.cluster_centers_[:, 2]
    order = np.argsort(value)
    kmeans.cluster_centers_ = kmeans.cluster_centers_[order]
    kmeans.labels_ = np.argsort(order)[kmeans.labels_]
    return kmeans


def silhouette(segmenter: RfmSegmenter, rfm: pd.DataFrame, sample: int = 10_000, seed: int = 0) -> float:
    """Silhouette of the segmenter's clusters on ``rfm`` (sampled: the exact score is quadratic)."""
    features = segmenter.transform(rfm)
    labels = segmenter.kmeans.predict(features)
    if len(set(labels)) < 2:
        return -1.0
    return float(silhouette_score(features, labels, sample_size=min(sample, len(features)), random_state=seed))


def fit_segmenter(
    rfm: pd.DataFrame,
    k: int | None = None,
    k_range: tuple[int, int] = (3, 8),
    seed: int = 0,
    sample: int = 10_000,
    search_sample: int = 20_000,
) -> tuple[RfmSegmenter, dict[int, float]]:
    """Fit K-Means with ``k`` clusters, or the k in ``k_range`` (inclusive) with the best silhouette.

    k is searched on a seeded sample of ``search_sample`` customers (all of them when there
    are fewer): K-Means and the silhouette of six k on 95K customers take about 10 s, the
    sample gives the same k (on Olist-like 100K orders, k = 3 either way), and the chosen k
    is then fitted on every customer. Returns the segmenter and the silhouette of every k
    tried, on the search sample.
    """
    features = _log_rfm(rfm)
    distinct = len(np.unique(features, axis=0))
    candidates = [k] if k is not None else list(range(k_range[0], k_range[1] + 1))
    candidates = [c for c in candidates if 2 <= c <= distinct - 1] or [min(2, distinct)]
    if distinct < 2:
        raise ValueError("K-Means needs at least two distinct RFM profiles")
    mean, scale = features.mean(axis=0), features.std(axis=0)
    scale[scale == 0] = 1.0
    standardised = (features - mean) / scale
    rows = np.arange(len(rfm))
    if len(candidates) > 1 and len(rfm) > search_sample:
        rows = np.sort(np.random.default_rng(seed).choice(len(rfm), search_sample, replace=False))
    scores: dict[int, float] = {}
    fitted: dict[int, RfmSegmenter] = {}
    for candidate in candidates:
        segmenter = RfmSegmenter(mean, scale, _fit_kmeans(standardised[rows], candidate, seed))
        fitted[candidate] = segmenter
        scores[candidate] = silhouette(segmenter, rfm.iloc[rows], sample=sample, seed=seed)
    best = max(scores, key=lambda candidate: (scores[candidate], -candidate))
    if len(rows) < len(rfm):
        fitted[best] = RfmSegmenter(mean, scale, _fit_kmeans(standardised, best, seed))
    return fitted[best], scores


def segment_stability(previous: pd.DataFrame, current: pd.DataFrame) -> float | None:
    """Share of customers present in both runs whose named segment did not change (None: none in common)."""
    joined = previous[["customer_unique_id", "segment"]].merge(
        current[["customer_unique_id", "segment"]], on="customer_unique_id", suffixes=("_previous", "_current")
    )
    if joined.empty:
        return None
    return float((joined["segment_previous"] == joined["segment_current"]).mean())
