"""The per-customer next-purchase protocol: each customer's last order held out, their earlier ones for training.

The time-window protocol asks "who buys what in the last 30 days", which weighs the
customers who happen to buy then (on long-history data, the heaviest ones). This one asks
the question the score tables answer for everyone: given a customer's history, what do they
buy next? Every customer with at least two purchase moments is evaluated once.

A *moment* is a purchase time of the interactions mart (the mart keeps each pair's first
and last purchase). A customer's held-out moment is the latest one at which they bought an
item for the first time, provided they bought something before it; the targets are the
items first bought then (items bought before are excluded from ranking, as in the lists
the platform publishes). Training keeps, for that customer, only what was known before the
moment (``known_before_each``); other customers keep theirs, which is the protocol's known
optimism (leave-one-out sees other customers' later purchases) and why the time-window
protocol stays beside it. Validation repeats the cut on the training data: each
customer's held-out moment of what remains.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ml.recommender.features import REVIEW_DELAY_DAYS
from ml.recommender.split import check_interactions, data_end, purchase_events, strip_later


def _per_row(moments: pd.Series, customers: pd.Series) -> pd.Series:
    """Each row's customer's moment (NaT for none), as datetimes even when ``moments`` is empty."""
    values = moments.astype("datetime64[ns]").reindex(pd.Index(customers)).to_numpy()
    return pd.Series(values, index=customers.index)


def known_before_each(interactions: pd.DataFrame, boundaries: pd.Series) -> pd.DataFrame:
    """``known_before`` with a boundary per customer (``boundaries`` indexed by customer_unique_id).

    Customers without a boundary keep every row (their aggregates included).
    """
    boundary = _per_row(boundaries, interactions["customer_unique_id"])
    cut = boundary.notna().to_numpy()
    keep = ~cut | (interactions["first_purchased_at"] < boundary).to_numpy()
    rows = interactions.loc[keep].copy()
    boundary, cut = boundary[keep], cut[keep]
    later = cut & (rows["last_purchased_at"] >= boundary).to_numpy()
    return strip_later(rows, later)


def held_out_moments(known: pd.DataFrame) -> pd.Series:
    """Per customer with an earlier purchase: the latest moment at which they first bought some item."""
    latest_new = known.groupby("customer_unique_id")["first_purchased_at"].max()
    earliest = purchase_events(known).groupby("customer_unique_id")["purchased_at"].min()
    earlier = earliest.reindex(latest_new.index) < latest_new
    return latest_new[earlier]


def orders_before_each(orders: pd.DataFrame | None, boundaries: pd.Series) -> pd.DataFrame | None:
    """Orders placed before their customer's boundary (all orders of customers without one), with the
    reviews that could not have been seen by then removed."""
    if orders is None:
        return None
    boundary = _per_row(boundaries, orders["customer_unique_id"])
    kept = orders.loc[boundary.isna() | (orders["purchased_at"] < boundary)].copy()
    if {"average_review_score", "delivered_to_customer_at"} <= set(kept.columns):
        # The features count a review once its order was delivered REVIEW_DELAY_DAYS before the
        # boundary; here the boundary is the customer's own moment, not the data's end.
        boundary = boundary[kept.index]
        visible = kept["delivered_to_customer_at"] < boundary - pd.Timedelta(days=REVIEW_DELAY_DAYS)
        kept.loc[boundary.notna() & ~visible.fillna(False), "average_review_score"] = np.nan
    return kept.reset_index(drop=True)


@dataclass(frozen=True)
class NextPurchaseSplit:
    """``train``/``validation``: every customer's second-to-last new-item moment held out;
    ``history``/``test``: the last. ``validation_moments``/``test_moments`` say when."""

    train: pd.DataFrame
    validation: pd.DataFrame
    history: pd.DataFrame
    test: pd.DataFrame
    validation_moments: pd.Series
    test_moments: pd.Series
    end: pd.Timestamp

    def summary(self) -> dict[str, object]:
        return {
            "validation_customers": int(self.validation["customer_unique_id"].nunique()),
            "test_customers": int(self.test["customer_unique_id"].nunique()),
            "end": str(self.end),
        }


def _held_out(known: pd.DataFrame, moments: pd.Series) -> pd.DataFrame:
    at = _per_row(moments, known["customer_unique_id"])
    return known.loc[(known["first_purchased_at"] == at).to_numpy()].reset_index(drop=True)


def split_next_purchase(interactions: pd.DataFrame) -> NextPurchaseSplit:
    check_interactions(interactions)
    test_moments = held_out_moments(interactions)
    test = _held_out(interactions, test_moments)
    history = known_before_each(interactions, test_moments)
    validation_moments = held_out_moments(history)
    validation = _held_out(history, validation_moments)
    train = known_before_each(history, validation_moments)
    return NextPurchaseSplit(
        train=train,
        validation=validation,
        history=history,
        test=test,
        validation_moments=validation_moments,
        test_moments=test_moments,
        end=data_end(interactions),
    )
