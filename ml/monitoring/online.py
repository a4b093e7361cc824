"""The recommender as customers met it: online figures from serving events, and the hit rate of
published lists on the purchases that followed them.

``online_metrics``: per model version (an experiment's strategy arms, such as the popularity
list, are versions here, so the baseline lists an experiment serves are measured beside the
models), impressions (one per product shown), clicks,
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
from scipy import stats

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
    # An impression without a product is an empty list seen (an experiment's recommend-nothing
    # arm): nothing was shown to click, so it is not an impression here.
    shown = events.loc[(events["event_type"] == "impression") & events["product_id"].notna()]
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


def customer_outcomes(
    lists: pd.DataFrame, bought_before: pd.DataFrame, purchases: pd.DataFrame, k: int
) -> pd.DataFrame:
    """One row per customer with a list who then bought a product they had never bought:
    ``hit`` (1 when one of those products was in their top ``k``) and, when the lists carry
    ``probability``, ``expected_hit``: the chance of a hit the list's own probabilities give
    (1 - prod(1 - p) over its top k), what calibration is judged against.

    ``lists``: customer_unique_id, product_id, rank (1 first) [, probability]; ``bought_before``:
    the (customer_unique_id, product_id) pairs bought before the lists were made; ``purchases``:
    customer_unique_id, product_id bought after."""
    pairs = ["customer_unique_id", "product_id"]
    top = lists.loc[lists["rank"] <= k].drop_duplicates(pairs)
    first = purchases[pairs].drop_duplicates().merge(bought_before[pairs].drop_duplicates(), how="left", indicator=True)
    first = first.loc[(first["_merge"] == "left_only") & first["customer_unique_id"].isin(top["customer_unique_id"])]
    buyers = pd.Index(first["customer_unique_id"].unique(), name="customer_unique_id")
    hit_customers = first[pairs].merge(top[pairs], on=pairs)["customer_unique_id"].unique()
    outcomes = pd.DataFrame({"hit": buyers.isin(hit_customers).astype("int64")}, index=buyers)
    if "probability" in top.columns:
        outcomes["expected_hit"] = expected_hits(top, k).reindex(buyers)
    return outcomes.reset_index()


def expected_hits(lists: pd.DataFrame, k: int) -> pd.Series:
    """Per customer, the chance of buying one of their top ``k`` that the list's probabilities
    give (1 - prod(1 - p), as if independent)."""
    top = lists.loc[lists["rank"] <= k]
    miss = np.log1p(-top["probability"].astype(float).clip(0, 1 - 1e-12))
    return (1 - np.exp(miss.groupby(top["customer_unique_id"]).sum())).astype("float64")


def realised_hit_rate(lists: pd.DataFrame, bought_before: pd.DataFrame, purchases: pd.DataFrame, k: int) -> HitRate:
    """The share of :func:`customer_outcomes` with a hit, with its Wilson interval."""
    outcomes = customer_outcomes(lists, bought_before, purchases, k)
    customers, hits = len(outcomes), int(outcomes["hit"].sum())
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


def popularity_lists(bought_before: pd.DataFrame, customers: pd.Series, k: int) -> pd.DataFrame:
    """The simple baseline the lists are held against on the same purchases: the ``k`` products
    bought by the most customers before, less those each customer already bought (as the lists
    leave them out). customer_unique_id, product_id, rank."""
    pairs = bought_before[["customer_unique_id", "product_id"]].drop_duplicates()
    ranked = pairs["product_id"].value_counts().sort_index().sort_values(ascending=False, kind="stable").index
    owned = pairs.groupby("customer_unique_id")["product_id"].agg(set).to_dict()
    head = list(ranked[: k + max((len(items) for items in owned.values()), default=0)])
    rows = []
    for customer in pd.unique(customers):
        mine = owned.get(customer, set())
        picked = [product for product in head if product not in mine][:k]
        rows.extend((customer, product, rank) for rank, product in enumerate(picked, start=1))
    return pd.DataFrame(rows, columns=["customer_unique_id", "product_id", "rank"])


def window_metric(days: int) -> str:
    """The name of the HR@10 a recommender version promised over ``days`` after its lists."""
    return f"hr_at_10_{days}d"


def below_promise_p_value(hits: int, customers: int, promised: float) -> float:
    """One-sided exact binomial p-value that the realised hit rate is below ``promised``: how
    likely so few hits (or fewer) were if the lists were as good as their version promised."""
    if customers <= 0:
        raise ValueError("customers must be positive")
    return float(stats.binomtest(hits, customers, min(max(promised, 0.0), 1.0), alternative="less").pvalue)
