"""Order items purchased after a moment, read straight from a raw folder.

What the feedback simulator replays: the days a run held back (``run --as-of-date``) are in the
raw files but not in the marts, which stop at the as-of day. Revenue orders only, as in the
marts (canceled and unavailable orders never left the shop).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

NOT_REVENUE = ("canceled", "unavailable")


def purchases_after(raw_dir: Path, after: pd.Timestamp) -> pd.DataFrame:
    """customer_unique_id, product_id, category, price, purchased_at of the revenue order items
    bought at or after ``after``, oldest first."""

    def read(name: str, columns: list[str]) -> pd.DataFrame:
        path = raw_dir / name
        try:
            return pd.read_csv(path, usecols=columns, dtype="string")
        except FileNotFoundError:
            raise FileNotFoundError(f"{path}: the raw folder lacks this file") from None
        except ValueError as error:  # a missing column
            raise ValueError(f"{path}: {error}") from None

    orders = read("olist_orders_dataset.csv", ["order_id", "customer_id", "order_status", "order_purchase_timestamp"])
    orders = orders.assign(purchased_at=pd.to_datetime(orders["order_purchase_timestamp"], errors="coerce"))
    orders = orders.loc[(orders["purchased_at"] >= after) & ~orders["order_status"].isin(NOT_REVENUE)]
    customers = read("olist_customers_dataset.csv", ["customer_id", "customer_unique_id"])
    items = read("olist_order_items_dataset.csv", ["order_id", "product_id", "price"])
    products = read("olist_products_dataset.csv", ["product_id", "product_category_name"])
    bought = (
        orders.merge(customers, on="customer_id")
        .merge(items, on="order_id")
        .merge(products, on="product_id", how="left")
        .rename(columns={"product_category_name": "category"})
    )
    bought = bought.assign(price=pd.to_numeric(bought["price"], errors="coerce").astype("float64"))
    columns = ["customer_unique_id", "product_id", "category", "price", "purchased_at"]
    return bought.sort_values("purchased_at", kind="stable")[columns].reset_index(drop=True)
