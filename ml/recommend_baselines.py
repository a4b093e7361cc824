"""Popularity recommendations: the baseline every recommender must beat."""

from __future__ import annotations

import pandas as pd


def popularity_recommendations(
    interactions: pd.DataFrame, customers: pd.Series, top_k: int, exclude_bought: bool = True
) -> pd.DataFrame:
    """The ``top_k`` products bought by the most distinct customers, per customer.

    ``interactions`` has one row per (customer_unique_id, product_id). Score is the share
    of customers who bought the product. Ties go to the smaller product id, so the result
    is deterministic.
    """
    if top_k < 1:
        raise ValueError(f"top_k must be at least 1, got {top_k}")
    buyers = interactions.groupby("product_id")["customer_unique_id"].nunique()
    ranked = buyers.rename("buyers").reset_index().sort_values(["buyers", "product_id"], ascending=[False, True])
    ranked["score"] = ranked["buyers"] / max(interactions["customer_unique_id"].nunique(), 1)
    bought = interactions.groupby("customer_unique_id").size()
    # Enough candidates that every customer keeps top_k after removing what they bought.
    depth = top_k + (int(bought.max()) if exclude_bought and len(bought) else 0)
    candidates = ranked.head(depth)[["product_id", "score"]]

    grid = pd.DataFrame({"customer_unique_id": customers.unique()}).merge(candidates, how="cross")
    if exclude_bought:
        owned = interactions[["customer_unique_id", "product_id"]].drop_duplicates().assign(owned=True)
        grid = grid.merge(owned, on=["customer_unique_id", "product_id"], how="left")
        grid = grid[grid["owned"].isna()].drop(columns="owned")
    grid["rank"] = grid.groupby("customer_unique_id").cumcount() + 1
    return grid[grid["rank"] <= top_k].reset_index(drop=True)[["customer_unique_id", "product_id", "rank", "score"]]
