"""Time-based split of the interactions mart, and what was knowable before a moment.

The mart has one row per (customer, product) with all-history aggregates: a row whose
first purchase precedes a boundary may still carry later purchases in ``purchase_count``,
``quantity``, ``spend``, ``last_purchased_at`` and ``last_review_score``. Every frame that a
model or a feature reads is therefore passed through :func:`known_before`, which keeps
only what could have been seen before the boundary.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

REQUIRED_COLUMNS = (
    "customer_unique_id",
    "product_id",
    "category",
    "purchase_count",
    "quantity",
    "spend",
    "first_purchased_at",
    "last_purchased_at",
)


def check_interactions(interactions: pd.DataFrame) -> None:
    missing = [column for column in REQUIRED_COLUMNS if column not in interactions.columns]
    if missing:
        raise ValueError(f"interactions lack the column(s) {missing}; expected the user_item_interactions mart")
    if interactions.empty:
        raise ValueError("interactions are empty: there is nothing to recommend from")
    if interactions.duplicated(["customer_unique_id", "product_id"]).any():
        raise ValueError("interactions must have one row per (customer_unique_id, product_id)")


def known_before(interactions: pd.DataFrame, boundary: pd.Timestamp) -> pd.DataFrame:
    """The rows first purchased before ``boundary``, stripped of anything that happened later.

    A row whose last purchase is on or after the boundary keeps only its first purchase:
    purchase_count 1, last_purchased_at = first_purchased_at, and quantity and spend unknown
    (they mix in later purchases). ``last_review_score`` is dropped on every row, because a
    review is written after delivery and the mart does not say when. Applying this twice,
    with a later then an earlier boundary, gives the same frame as the earlier boundary alone.
    """
    rows = interactions.loc[interactions["first_purchased_at"] < boundary].copy()
    return strip_later(rows, (rows["last_purchased_at"] >= boundary).to_numpy())


def strip_later(rows: pd.DataFrame, later: np.ndarray) -> pd.DataFrame:
    """``rows`` (a copy the caller owns) with the ``later`` ones cut back to their first purchase
    and every review dropped: the part of :func:`known_before` that does not depend on how the
    boundary is drawn (one moment, or one per customer)."""
    rows["quantity"] = rows["quantity"].astype("Float64")
    rows["spend"] = rows["spend"].astype("Float64")
    rows.loc[later, "last_purchased_at"] = rows.loc[later, "first_purchased_at"]
    rows.loc[later, "purchase_count"] = 1
    rows.loc[later, "quantity"] = pd.NA
    rows.loc[later, "spend"] = pd.NA
    if "last_review_score" in rows.columns:
        rows["last_review_score"] = pd.Series(pd.NA, index=rows.index, dtype="Int32")
    return rows.reset_index(drop=True)


def purchase_events(known: pd.DataFrame) -> pd.DataFrame:
    """One row per purchase moment visible in ``known`` (rows from :func:`known_before`).

    The mart keeps a row's first and last purchase times only, so a product bought three
    times yields two events; the middle purchase is not visible. ``unit_price`` is the row's
    mean item price, or NaN where later purchases were stripped.
    """
    unit_price = (known["spend"] / known["quantity"]).astype("float64")
    columns = ["customer_unique_id", "product_id", "category"]
    first = known[columns].assign(purchased_at=known["first_purchased_at"], unit_price=unit_price)
    repeated = (known["purchase_count"] > 1) & (known["last_purchased_at"] > known["first_purchased_at"])
    last = known.loc[repeated, columns].assign(
        purchased_at=known.loc[repeated, "last_purchased_at"], unit_price=unit_price[repeated]
    )
    events = pd.concat([first, last], ignore_index=True)
    return events.sort_values(["purchased_at", "customer_unique_id", "product_id"], kind="stable", ignore_index=True)


@dataclass(frozen=True)
class TimeSplit:
    """Train before ``validation_start``; validation in [validation_start, cutoff); test in [cutoff, end).

    ``validation`` and ``test`` hold the (customer, product) pairs first bought inside their
    window: items a customer already had are not targets, since recommendations exclude them.
    ``train`` and ``history`` are what was knowable before ``validation_start`` and ``cutoff``.
    """

    train: pd.DataFrame
    validation: pd.DataFrame
    history: pd.DataFrame
    test: pd.DataFrame
    validation_start: pd.Timestamp
    cutoff: pd.Timestamp
    end: pd.Timestamp

    def summary(self) -> dict[str, object]:
        return {
            "validation_start": str(self.validation_start),
            "cutoff": str(self.cutoff),
            "end": str(self.end),
            "train_rows": len(self.train),
            "validation_rows": len(self.validation),
            "test_rows": len(self.test),
            "test_customers": int(self.test["customer_unique_id"].nunique()),
        }


def data_end(interactions: pd.DataFrame) -> pd.Timestamp:
    """Midnight after the last purchase day: the snapshot the marts were built at."""
    return pd.Timestamp(interactions["last_purchased_at"].max()).normalize() + pd.Timedelta(days=1)


def split_by_time(
    interactions: pd.DataFrame, test_days: int = 30, validation_days: int = 30, end: pd.Timestamp | None = None
) -> TimeSplit:
    """Split the interactions mart at ``end - test_days`` (the cutoff) and ``cutoff - validation_days``.

    ``end`` defaults to midnight after the last purchase day. Boundaries are at midnight.
    """
    check_interactions(interactions)
    if test_days < 1 or validation_days < 1:
        raise ValueError(f"test_days and validation_days must be >= 1, got {test_days} and {validation_days}")
    end = data_end(interactions) if end is None else pd.Timestamp(end)
    cutoff = end - pd.Timedelta(days=test_days)
    validation_start = cutoff - pd.Timedelta(days=validation_days)
    first = interactions["first_purchased_at"]
    if not (first < validation_start).any():
        raise ValueError(
            f"no interaction precedes the validation start {validation_start}: the data spans "
            f"{first.min()} to {first.max()}, shorter than validation_days + test_days"
        )
    validation = interactions.loc[(first >= validation_start) & (first < cutoff)].reset_index(drop=True)
    test = interactions.loc[(first >= cutoff) & (first < end)].reset_index(drop=True)
    return TimeSplit(
        train=known_before(interactions, validation_start),
        validation=validation,
        history=known_before(interactions, cutoff),
        test=test,
        validation_start=validation_start,
        cutoff=cutoff,
        end=end,
    )


def sample_customers(window: pd.DataFrame, limit: int, seed: int) -> pd.Index:
    """The window's customers, sorted; at most ``limit`` of them, drawn with ``seed``.

    Every choice made on the validation window (early stopping, the popularity window, the
    prior's weights, the calibrator) looks at the same sample, which bounds its cost on a
    large data set; below the limit it is every validation customer.
    """
    customers = np.sort(window["customer_unique_id"].unique())
    if len(customers) > limit:
        customers = np.random.default_rng(seed).choice(customers, limit, replace=False)
    return pd.Index(np.sort(customers), name="customer_unique_id")


def training_windows(known: pd.DataFrame, boundary: pd.Timestamp, window_days: int) -> list[pd.Timestamp]:
    """Window starts ``boundary - k * window_days`` (k = 1, 2, ...) back to the first purchase, oldest first."""
    if window_days < 1:
        raise ValueError(f"window_days must be >= 1, got {window_days}")
    first_purchase = known["first_purchased_at"].min()
    starts = []
    start = boundary - pd.Timedelta(days=window_days)
    while start + pd.Timedelta(days=window_days) > first_purchase:
        starts.append(start)
        start -= pd.Timedelta(days=window_days)
    return starts[::-1]


def days_between(later: pd.Timestamp, earlier: pd.Series) -> np.ndarray:
    return ((later - earlier) / pd.Timedelta(days=1)).to_numpy(dtype="float64")
