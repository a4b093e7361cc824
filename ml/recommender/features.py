"""Point-in-time features for the two towers, built only from what was known before a boundary.

``customer_rfm`` and ``products`` are computed over all history, so apart from the
customer's state and the products' static attributes nothing is read from them: recency,
frequency, spend, price level, categories bought, payments and reviews are rebuilt here
from the interactions (and, when given, the orders) that precede the boundary.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ml.recommender.frames import isin
from ml.recommender.split import days_between

UNKNOWN = "<unknown>"
POPULARITY_DAYS = (7, 30, 90, 365)
# A review is written after delivery and the orders mart does not say when; a review counts
# as known once the order was delivered at least this long before the boundary.
REVIEW_DELAY_DAYS = 7

USER_NUMERIC = (
    "has_history",
    "log_orders",
    "log_items",
    "log_categories",
    "log_days_since_last",
    "log_days_since_first",
    "mean_log_price",
    "has_price",
    "log_spend",
    "credit_card_share",
    "boleto_share",
    "voucher_share",
    "log_installments",
    "review_score",
    "has_review",
)
ITEM_STATIC = ("log_weight", "log_volume", "photos", "log_name_length", "log_description_length")
ITEM_DYNAMIC = (
    *(f"log_buyers_{days}d" for days in POPULARITY_DAYS),
    "log_buyers_all",
    "log_days_since_first_sale",
    "log_days_since_last_sale",
    "never_sold",
    "log_price",
    "price_missing",
)
ITEM_NUMERIC = (*ITEM_STATIC, "static_missing", *ITEM_DYNAMIC)

ORDER_COLUMNS = (
    "customer_unique_id",
    "purchased_at",
    "main_payment_type",
    "max_installments",
    "has_credit_card_payment",
    "average_review_score",
    "delivered_to_customer_at",
)


@dataclass(frozen=True)
class Vocabulary:
    """Strings to embedding rows; row 0 is the shared row of everything unknown."""

    values: tuple[str, ...]

    @classmethod
    def fit(cls, values: pd.Series | np.ndarray) -> Vocabulary:
        cleaned = pd.Series(values, dtype="object").dropna().astype(str)
        return cls(tuple(sorted(set(cleaned) - {UNKNOWN})))

    def __len__(self) -> int:
        return len(self.values) + 1

    def encode(self, values: pd.Series | np.ndarray) -> np.ndarray:
        index = pd.Index(self.values)
        codes = index.get_indexer(pd.Series(values, dtype="object").astype(str))
        return (codes + 1).astype("int64")


def check_orders(orders: pd.DataFrame) -> pd.DataFrame:
    missing = [column for column in ORDER_COLUMNS if column not in orders.columns]
    if missing:
        raise ValueError(f"orders lack the column(s) {missing}; expected the orders mart")
    return orders[list(ORDER_COLUMNS)].copy()


def customer_states(customers: pd.DataFrame) -> pd.Series:
    """customer_unique_id -> state: the one customer_rfm column read, as a static profile attribute.

    It is the state of the customer's latest order; a customer who moved between states
    would leak a little of the future, which is accepted (the state is what a shop knows at
    sign-up). Every other customer_rfm column is all-history and is rebuilt point-in-time.
    """
    if "customer_unique_id" not in customers.columns:
        raise ValueError("customers lack the column customer_unique_id")
    if "customer_state" not in customers.columns:
        return pd.Series(dtype="object", name="customer_state")
    states = customers[["customer_unique_id", "customer_state"]].dropna().drop_duplicates("customer_unique_id")
    return states.set_index("customer_unique_id")["customer_state"].astype("object")


def user_numeric_features(
    customer_ids: pd.Index,
    events: pd.DataFrame,
    orders: pd.DataFrame | None,
    boundary: pd.Timestamp,
) -> pd.DataFrame:
    """One row per customer id: RFM-like, price, payment and review features before ``boundary``.

    ``events`` (from ``purchase_events``) and ``orders`` may hold anything; only rows before
    the boundary are read. A customer without history gets zeros and has_history 0.
    """
    # Rows are grouped by the customer's position in ``customer_ids`` rather than by the id
    # string: this runs once per training window, on every event, and string keys were most
    # of its cost.
    values = np.zeros((len(customer_ids), len(USER_NUMERIC)))
    column = {name: position for position, name in enumerate(USER_NUMERIC)}

    def put(stats: dict[str, pd.Series]) -> None:
        for name, series in stats.items():
            values[series.index.to_numpy(), column[name]] = series.fillna(0.0).to_numpy(dtype="float64")

    who = customer_ids.get_indexer(events["customer_unique_id"])
    mine = events.loc[(events["purchased_at"] < boundary).to_numpy() & (who >= 0)]
    if not mine.empty:
        rows = customer_ids.get_indexer(mine["customer_unique_id"])
        grouped = mine.groupby(rows)
        priced = (mine["unit_price"] > 0).to_numpy()
        prices = mine.loc[priced, "unit_price"]
        last, first = grouped["purchased_at"].max(), grouped["purchased_at"].min()
        put(
            {
                "has_history": pd.Series(1.0, index=last.index),
                "log_orders": np.log1p(grouped["purchased_at"].nunique()),
                "log_items": np.log1p(grouped["product_id"].nunique()),
                "log_categories": np.log1p(grouped["category"].nunique()),
                "log_days_since_last": pd.Series(np.log1p(days_between(boundary, last)), index=last.index),
                "log_days_since_first": pd.Series(np.log1p(days_between(boundary, first)), index=first.index),
                "mean_log_price": np.log(prices).groupby(rows[priced]).mean(),
                "has_price": pd.Series(1.0, index=np.unique(rows[priced])),
                "log_spend": np.log1p(prices.groupby(rows[priced]).sum()),
            }
        )
    if orders is not None:
        who = customer_ids.get_indexer(orders["customer_unique_id"])
        placed = orders.loc[(orders["purchased_at"] < boundary).to_numpy() & (who >= 0)]
        if not placed.empty:
            rows = customer_ids.get_indexer(placed["customer_unique_id"])
            payment = placed["main_payment_type"].astype("object")
            installments = pd.to_numeric(placed["max_installments"], errors="coerce").astype("float64")
            reviewed = (
                placed["average_review_score"].notna()
                & (placed["delivered_to_customer_at"] < boundary - pd.Timedelta(days=REVIEW_DELAY_DAYS))
            ).to_numpy()
            review = placed.loc[reviewed, "average_review_score"].astype("float64").groupby(rows[reviewed]).mean()
            put(
                {
                    "credit_card_share": placed["has_credit_card_payment"].astype("float64").groupby(rows).mean(),
                    "boleto_share": (payment == "boleto").astype("float64").groupby(rows).mean(),
                    "voucher_share": (payment == "voucher").astype("float64").groupby(rows).mean(),
                    "log_installments": np.log1p(installments).groupby(rows).mean(),
                    # Centred on the middle of the 1-5 scale, so "no review" (0) reads as neutral.
                    "review_score": (review - 3.0) / 2.0,
                    "has_review": pd.Series(1.0, index=review.index),
                }
            )
    frame = pd.DataFrame(values, index=customer_ids, columns=list(USER_NUMERIC))
    return frame


def history_items(customer_ids: pd.Index, events: pd.DataFrame, boundary: pd.Timestamp, length: int) -> pd.DataFrame:
    """Each customer's ``length`` most recent distinct products before ``boundary`` (long format).

    Columns customer_unique_id, position (0 = most recent), product_id, category.
    """
    mine = events.loc[(events["purchased_at"] < boundary) & isin(events["customer_unique_id"], customer_ids)]
    mine = mine.sort_values(
        ["customer_unique_id", "purchased_at", "product_id"], ascending=[True, False, True], kind="stable"
    ).drop_duplicates(["customer_unique_id", "product_id"])
    mine = mine.assign(position=mine.groupby("customer_unique_id").cumcount())
    return mine.loc[mine["position"] < length, ["customer_unique_id", "position", "product_id", "category"]]


def item_static_features(products: pd.DataFrame) -> pd.DataFrame:
    """Static product attributes (weight, volume, photos, name and description lengths), NaN where missing."""

    def numeric(column: str) -> pd.Series:
        if column not in products.columns:
            return pd.Series(np.nan, index=products.index)
        return pd.to_numeric(products[column], errors="coerce").astype("float64")

    volume = numeric("product_length_cm") * numeric("product_height_cm") * numeric("product_width_cm")
    frame = pd.DataFrame(
        {
            "log_weight": np.log1p(numeric("product_weight_g").clip(lower=0)),
            "log_volume": np.log1p(volume.clip(lower=0)),
            "photos": numeric("product_photos_count"),
            "log_name_length": np.log1p(numeric("product_name_length").clip(lower=0)),
            "log_description_length": np.log1p(numeric("product_description_length").clip(lower=0)),
        }
    )
    frame.index = pd.Index(products["product_id"].astype(str), name="product_id")
    return frame


def item_dynamic_features(
    product_ids: pd.Index, categories: pd.Series, events: pd.DataFrame, boundary: pd.Timestamp
) -> pd.DataFrame:
    """Popularity, life-cycle and price of each product as known before ``boundary``.

    Buyer counts over the last 7/30/90/365 days and all time, days since the first and last
    sale, and the median price paid. A product never priced before the boundary takes the
    median of its category (else of all products) and price_missing 1. ``categories`` is
    aligned with ``product_ids``.
    """
    before = events.loc[events["purchased_at"] < boundary]
    # Integer positions instead of product ids: counting and grouping by a string key,
    # rebuilt for every training window, was most of this function's time.
    codes = product_ids.get_indexer(before["product_id"])
    known = codes >= 0
    before, codes = before.loc[known], codes[known]
    size = len(product_ids)
    frame = pd.DataFrame(0.0, index=product_ids, columns=list(ITEM_DYNAMIC))
    for days in POPULARITY_DAYS:
        recent = (before["purchased_at"] >= boundary - pd.Timedelta(days=days)).to_numpy()
        frame[f"log_buyers_{days}d"] = np.log1p(np.bincount(codes[recent], minlength=size).astype("float64"))
    frame["log_buyers_all"] = np.log1p(np.bincount(codes, minlength=size).astype("float64"))
    times = before["purchased_at"].groupby(codes)
    first_sale, last_sale = times.min().reindex(range(size)), times.max().reindex(range(size))
    sold = first_sale.notna().to_numpy()
    frame["never_sold"] = (~sold).astype("float64")
    frame["log_days_since_first_sale"] = np.where(
        sold, np.log1p(np.nan_to_num(days_between(boundary, first_sale))), 0.0
    )
    frame["log_days_since_last_sale"] = np.where(sold, np.log1p(np.nan_to_num(days_between(boundary, last_sale))), 0.0)
    priced = (before["unit_price"] > 0).to_numpy()
    log_price = np.log(before.loc[priced, "unit_price"]).groupby(codes[priced]).median().reindex(range(size)).to_numpy()
    log_price = pd.Series(log_price, index=product_ids)
    category = pd.Series(np.asarray(categories, dtype="object"), index=product_ids)
    category_price = log_price.groupby(category).transform("median")
    overall = log_price.median()
    frame["price_missing"] = log_price.isna().astype("float64").to_numpy()
    frame["log_price"] = log_price.fillna(category_price).fillna(overall if pd.notna(overall) else 0.0).to_numpy()
    return frame
