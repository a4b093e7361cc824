"""ml.recommendations: what to show each customer."""

import dagster as dg

from ml.recommend_baselines import popularity_recommendations
from orchestration.metadata import frame_preview
from orchestration.resources import WarehouseResource

MODEL_NAME = "popularity"


class RecommendationsConfig(dg.Config):
    top_k: int = 10
    exclude_bought: bool = True


@dg.asset(
    key=["ml", "recommendations"],
    group_name="ml",
    deps=[dg.AssetKey(["marts", "user_item_interactions"]), dg.AssetKey(["marts", "customer_rfm"])],
    kinds={"python"},
)
def recommendations(config: RecommendationsConfig, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Top-K products per customer with an order, already-bought products excluded.

    Until the two-tower recommender arrives this is the global-popularity baseline:
    `score` is the share of customers who bought the product and `probability` is empty,
    because a baseline has no calibrated purchase probability.
    """
    interactions = warehouse.read("marts", "user_item_interactions")
    customers = warehouse.read("marts", "customer_rfm")["customer_unique_id"]
    table = popularity_recommendations(interactions, customers, config.top_k, config.exclude_bought)
    table["probability"] = None
    table = table.astype({"probability": "Float64"}).assign(model_version=MODEL_NAME)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": warehouse.write("ml", "recommendations", table),
            "model_name": MODEL_NAME,
            "customers": int(table["customer_unique_id"].nunique()),
            "catalog_coverage": float(table["product_id"].nunique() / max(interactions["product_id"].nunique(), 1)),
            "preview": frame_preview(table),
        }
    )
