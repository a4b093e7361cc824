"""The recommender as customers met it: online figures from serving events, and the hit rate of
published lists on the purchases that followed them.

``online_metrics``: per model version, impressions (one per product shown), clicks,
add-to-carts, purchases of shown products (a purchase event whose request and product match an
impression: the list led to it) and their revenue, and the rates per impression.

``realised_hit_rate``: the offline metric the recommender was chosen on (HR@10 on first
purchases, ml/recommender/split.py) measured again on what happened after the lists were
published: among the customers who had a list and then bought a product they had never bought
before, the share whose list held one of those products in its top k; with its Wilson interval,
since a fortnight of a small shop is a few dozen customers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

ONLINE_COLUMNS = [
    "model_version",
    "impressions",
    "clicks",
    "add_to_carts",
    "purchases",
    "revenue",
    "click_through_rate",
    "purchase_rate",
    "revenue_per_impression",
]


def online_metrics(events: pd.DataFrame) -> pd.DataFrame:
    """One row per model version that served impressions (ONLINE_COLUMNS)."""
    shown = events.loc[events["event_type"] == "impression"]
    if shown.empty:
        return pd.DataFrame({column: pd.Series(dtype="float64") for column in ONLINE_COLUMNS}).astype(
            {"model_version": "str"}
        )
    keys = ["request_id", "product_id"]
    shown_keys = shown[keys].drop_duplicates()
    led = events.loc[events["event_type"] == "purchase"].merge(shown_keys, on=keys)
    version = shown.drop_duplicates("request_id").set_index("request_id")["model_version"]
    led = led.assign(model_version=led["request_id"].map(version))
    grouped = {
        "impressions": shown.groupby("model_version", dropna=False).size(),
        "clicks": _count(events, "click", version),
        "add_to_carts": _count(events, "add_to_cart", version),
        "purchases": led.groupby("model_version", dropna=False).size(),
        "revenue": led.groupby("model_version", dropna=False)["value"].sum(min_count=1),
    }
    table = pd.DataFrame(grouped).fillna(0.0).rename_axis("model_version").reset_index()
    table = table.loc[table["impressions"] > 0]
    impressions = table["impressions"].astype("float64")
    return table.assign(
        click_through_rate=table["clicks"] / impressions,
        purchase_rate=table["purchases"] / impressions,
        revenue_per_impression=table["revenue"] / impressions,
    )[ONLINE_COLUMNS].astype({column: "float64" for column in ONLINE_COLUMNS[1:]})


def _count(events: pd.DataFrame, kind: str, version: pd.Series) -> pd.Series:
    """Events of ``kind`` on a list that was shown, by the version that showed it."""
    rows = events.loc[(events["event_type"] == kind) & events["request_id"].isin(version.index)]
    return rows.groupby(rows["request_id"].map(version), dropna=False).size()


@dataclass(frozen=True)
class HitRate:
    customers: int  # customers with a list who made a first purchase in the window
    hits: int
    rate: float | None
    low: float | None  # Wilson 95% interval
    high: float | None


def realised_hit_rate(lists: pd.DataFrame, bought_before: pd.DataFrame, purchases: pd.DataFrame, k: int) -> HitRate:
    """``lists``: customer_unique_id, product_id, rank (1 first); ``bought_before``: the
    (customer_unique_id, product_id) pairs bought before the lists were made; ``purchases``:
    customer_unique_id, product_id bought after."""
    top = lists.loc[lists["rank"] <= k, ["customer_unique_id", "product_id"]].drop_duplicates()
    pairs = ["customer_unique_id", "product_id"]
    first = purchases[pairs].drop_duplicates().merge(bought_before[pairs].drop_duplicates(), how="left", indicator=True)
    first = first.loc[(first["_merge"] == "left_only") & first["customer_unique_id"].isin(top["customer_unique_id"])]
    customers = int(first["customer_unique_id"].nunique())
    hit = first[pairs].merge(top, on=pairs)
    hits = int(hit["customer_unique_id"].nunique())
    if customers == 0:
        return HitRate(0, 0, None, None, None)
    low, high = wilson(hits, customers)
    return HitRate(customers, hits, hits / customers, low, high)


def wilson(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a proportion (95% by default)."""
    if trials <= 0:
        raise ValueError("trials must be positive")
    share = successes / trials
    centre = (share + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * np.sqrt(share * (1 - share) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))
