"""Data drift between a reference window (what the champion was trained on) and a current one.

Per feature, the kind of test Evidently chooses by default, with its default thresholds, so
that the figures read as people who know Evidently expect (scipy only; Evidently is not a
dependency):

- numeric, either window of at most ``large_sample`` rows: two-sample Kolmogorov-Smirnov, drift
  when p < 0.05; both larger: Wasserstein distance in units of the reference's standard
  deviation, drift at >= 0.1 (a KS test on tens of thousands of rows calls every harmless shift
  drift). Evidently decides by the reference's size alone; here the smaller window decides,
  because a distance measured on a month of 200 orders carries sampling noise of the order of
  its threshold (a distance of 0.14 between two samples of one distribution was seen on such a
  month), while the test accounts for it;
- categorical, either window small: chi-square test of homogeneity of the two windows' category counts,
  drift when p < 0.05; larger: Jensen-Shannon distance (base 2) of the category shares,
  drift at >= 0.1;
- every feature also gets its population stability index (PSI: deciles of the reference for
  numbers, categories for the rest), reported beside the test, with the usual reading:
  < 0.1 stable, 0.1-0.2 moving, >= 0.2 shifted.

The data set has drifted when at least half of its features did. Plain functions on pandas
and scipy; nothing here knows about Dagster, MLflow or the warehouse.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial.distance import jensenshannon

NUMERIC, CATEGORICAL = "numeric", "categorical"
# Shares of an empty bin or an unseen category: PSI's logarithm needs a floor.
_SHARE_FLOOR = 1e-4


@dataclass(frozen=True)
class DriftThresholds:
    large_sample: int = 1000
    ks_p_value: float = 0.05
    chi_square_p_value: float = 0.05
    wasserstein_std: float = 0.1
    jensen_shannon: float = 0.1
    psi: float = 0.2
    share_of_features: float = 0.5


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    kind: str
    test: str
    statistic: float
    threshold: float
    drifted: bool
    psi: float
    reference_rows: int
    current_rows: int


@dataclass(frozen=True)
class DriftReport:
    features: list[FeatureDrift]
    share_drifted: float
    drifted: bool
    unmeasured: tuple[str, ...] = ()  # sparse features with too few values in a window

    def table(self) -> pd.DataFrame:
        columns = list(FeatureDrift.__dataclass_fields__)
        return pd.DataFrame([asdict(feature) for feature in self.features], columns=columns)


def numeric_drift(
    feature: str, reference: pd.Series, current: pd.Series, thresholds: DriftThresholds = DriftThresholds()
) -> FeatureDrift:
    ref, cur = _values(feature, reference, current)
    ref, cur = ref.astype(float).to_numpy(), cur.astype(float).to_numpy()
    if min(len(ref), len(cur)) <= thresholds.large_sample:
        statistic = float(stats.ks_2samp(ref, cur).pvalue)
        test, threshold = "ks_p_value", thresholds.ks_p_value
        drifted = statistic < threshold
    else:
        distance = float(stats.wasserstein_distance(ref, cur))
        spread = float(np.std(ref))
        # A constant reference has no unit: any move away from its value is drift.
        statistic = distance / spread if spread > 0 else (np.inf if distance > 0 else 0.0)
        test, threshold = "wasserstein_std", thresholds.wasserstein_std
        drifted = statistic >= threshold
    return FeatureDrift(
        feature, NUMERIC, test, statistic, threshold, bool(drifted), _numeric_psi(ref, cur), len(ref), len(cur)
    )


def categorical_drift(
    feature: str, reference: pd.Series, current: pd.Series, thresholds: DriftThresholds = DriftThresholds()
) -> FeatureDrift:
    ref, cur = _values(feature, reference, current)
    categories = sorted(set(ref.astype(str)) | set(cur.astype(str)))
    ref_counts = ref.astype(str).value_counts().reindex(categories, fill_value=0).to_numpy(dtype=float)
    cur_counts = cur.astype(str).value_counts().reindex(categories, fill_value=0).to_numpy(dtype=float)
    if min(len(ref), len(cur)) <= thresholds.large_sample:
        # Both windows are samples: a test of homogeneity on their 2 x k table, not a fit of the
        # current window to the reference's shares (which takes them as exact, and cried drift
        # on a fifth of equal samples of 600 rows).
        table = np.vstack([ref_counts, cur_counts])
        statistic = float(stats.chi2_contingency(table).pvalue) if len(categories) > 1 else 1.0
        test, threshold = "chi_square_p_value", thresholds.chi_square_p_value
        drifted = statistic < threshold
    else:
        statistic = float(jensenshannon(ref_counts / ref_counts.sum(), cur_counts / cur_counts.sum(), base=2))
        test, threshold = "jensen_shannon", thresholds.jensen_shannon
        drifted = statistic >= threshold
    psi = _psi(ref_counts / ref_counts.sum(), cur_counts / cur_counts.sum())
    return FeatureDrift(feature, CATEGORICAL, test, statistic, threshold, bool(drifted), psi, len(ref), len(cur))


def dataset_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    numeric: Sequence[str] = (),
    categorical: Sequence[str] = (),
    sparse: Sequence[str] = (),
    thresholds: DriftThresholds = DriftThresholds(),
    min_sparse_values: int = 30,
) -> DriftReport:
    """Every named feature's drift, and whether the data set drifted (at least
    ``share_of_features`` of them did). ``sparse`` numeric features (mostly missing, such as days
    since a previous order) are measured only where both windows hold ``min_sparse_values``."""
    missing = [f for f in (*numeric, *categorical, *sparse) if f not in reference.columns or f not in current.columns]
    if missing:
        raise ValueError(f"drift: columns {missing} are missing from the reference or the current window")
    enough = [f for f in sparse if min(reference[f].count(), current[f].count()) >= min_sparse_values]
    features = [numeric_drift(f, reference[f], current[f], thresholds) for f in (*numeric, *enough)]
    features += [categorical_drift(f, reference[f], current[f], thresholds) for f in categorical]
    if not features:
        raise ValueError("drift: name at least one numeric or categorical feature")
    share = sum(feature.drifted for feature in features) / len(features)
    unmeasured = tuple(f for f in sparse if f not in enough)
    return DriftReport(features, share, share >= thresholds.share_of_features, unmeasured)


def _values(feature: str, reference: pd.Series, current: pd.Series) -> tuple[pd.Series, pd.Series]:
    ref, cur = reference.dropna(), current.dropna()
    for window, values in (("reference", ref), ("current", cur)):
        if values.empty:
            raise ValueError(f"drift: feature {feature!r} has no values in the {window} window")
    return ref, cur


def _numeric_psi(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    """PSI over the reference's deciles (fewer bins where values repeat)."""
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)))
    if len(edges) < 2:  # a constant reference: one bin for its value, one for anything else
        ref_same, cur_same = np.mean(reference == edges[0]), np.mean(current == edges[0])
        return _psi(np.array([ref_same, 1 - ref_same]), np.array([cur_same, 1 - cur_same]))
    inner = edges[1:-1]
    ref_shares = np.bincount(np.searchsorted(inner, reference, side="right"), minlength=len(edges) - 1)
    cur_shares = np.bincount(np.searchsorted(inner, current, side="right"), minlength=len(edges) - 1)
    return _psi(ref_shares / ref_shares.sum(), cur_shares / cur_shares.sum())


def _psi(reference_shares: np.ndarray, current_shares: np.ndarray) -> float:
    ref = np.maximum(reference_shares, _SHARE_FLOOR)
    cur = np.maximum(current_shares, _SHARE_FLOOR)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


# Per-order features the drift check compares; order-level columns of the orders mart.
ORDER_NUMERIC = ("order_value", "basket_size", "average_item_price")
ORDER_CATEGORICAL = ("customer_state", "main_payment_type")
# The customer's RFM at each order (when the mart has customer_unique_id): their orders and spend
# in the RFM_LOOKBACK_DAYS before it (frequency, monetary), and days since their previous order
# (recency). A fixed lookback, not all history: counts since the first order grow with the
# shop's age and would drift in every shop with returning customers. Orders less than a
# lookback after the data begins have no figure, and recency exists for repeat orders only:
# sparse features, measured where both windows hold enough values.
RFM_LOOKBACK_DAYS = 90
SPARSE_NUMERIC = ("orders_prior_90d", "spend_prior_90d", "days_since_previous_order")
CATEGORY_MIX = "main_category"


@dataclass(frozen=True)
class Windows:
    reference: pd.DataFrame
    current: pd.DataFrame
    reference_start: pd.Timestamp
    current_start: pd.Timestamp
    as_of: pd.Timestamp
    numeric: tuple[str, ...] = ORDER_NUMERIC
    categorical: tuple[str, ...] = ORDER_CATEGORICAL
    sparse: tuple[str, ...] = ()


def order_windows(orders: pd.DataFrame, *, current_days: int = 30, reference_days: int = 180) -> Windows:
    """The last ``current_days`` of revenue orders against the ``reference_days`` before them
    (what the models in service were trained on), each order with its features: value, basket
    size (items), average item price, the customer's state and the main payment type; with the
    mart's customer_unique_id the customer's RFM at the order, with its main_category the
    category mix. ``Windows.numeric``/``categorical``/``sparse`` name the features there are."""
    needed = {"purchased_at", "is_revenue", "order_value", "items_count", "items_value", *ORDER_CATEGORICAL}
    missing = sorted(needed - set(orders.columns))
    if missing:
        raise ValueError(f"drift: the orders lack the columns {missing}")
    sold = orders.loc[orders["is_revenue"].astype(bool) & orders["items_count"].gt(0)]
    if sold.empty:
        raise ValueError("drift: no revenue orders to compare")
    sold = sold.assign(purchased_at=pd.to_datetime(sold["purchased_at"])).sort_values("purchased_at", kind="stable")
    features = pd.DataFrame(
        {
            "purchased_at": sold["purchased_at"],
            "order_value": sold["order_value"].astype(float),
            "basket_size": sold["items_count"].astype(float),
            "average_item_price": sold["items_value"].astype(float) / sold["items_count"].astype(float),
            "customer_state": sold["customer_state"],
            "main_payment_type": sold["main_payment_type"],
        }
    )
    categorical, sparse = ORDER_CATEGORICAL, ()
    if "customer_unique_id" in sold.columns:
        features = features.join(_customer_rfm(sold))
        sparse = SPARSE_NUMERIC
    if CATEGORY_MIX in sold.columns:
        features[CATEGORY_MIX] = sold[CATEGORY_MIX]
        categorical = (*categorical, CATEGORY_MIX)
    as_of = features["purchased_at"].max().normalize() + pd.Timedelta(days=1)
    current_start = as_of - pd.Timedelta(days=current_days)
    reference_start = current_start - pd.Timedelta(days=reference_days)
    when = features["purchased_at"]
    return Windows(
        reference=features.loc[(when >= reference_start) & (when < current_start)],
        current=features.loc[when >= current_start],
        reference_start=reference_start,
        current_start=current_start,
        as_of=as_of,
        numeric=ORDER_NUMERIC,
        categorical=categorical,
        sparse=sparse,
    )


def _customer_rfm(sold: pd.DataFrame) -> pd.DataFrame:
    """Per order (sorted by time): the customer's orders and spend in the lookback before it, and
    days since their previous order; NaN where the lookback reaches before the data."""
    lookback = pd.Timedelta(days=RFM_LOOKBACK_DAYS)
    frame = sold[["customer_unique_id", "purchased_at", "order_value"]].astype({"order_value": float})
    frame = frame.assign(one=1.0)
    # rolling(on=...) keeps each row's own index (under the customer level), so the sums go
    # back to their orders by label, not by position.
    rolled = (
        frame.groupby("customer_unique_id", sort=False)[["purchased_at", "one", "order_value"]]
        .rolling(lookback, on="purchased_at", closed="left")
        .sum()
        .droplevel(0)
    )
    covered = frame["purchased_at"] >= frame["purchased_at"].min() + lookback
    previous = frame.groupby("customer_unique_id", sort=False)["purchased_at"].diff()
    return pd.DataFrame(
        {
            "orders_prior_90d": rolled["one"].reindex(frame.index).fillna(0.0).where(covered),
            "spend_prior_90d": rolled["order_value"].reindex(frame.index).fillna(0.0).where(covered),
            "days_since_previous_order": previous.dt.total_seconds() / 86_400,
        },
        index=frame.index,
    )
