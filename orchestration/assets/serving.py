"""serving.customer_recommendations: the list a salesperson, a page or a campaign reads."""

import dagster as dg

from orchestration.metadata import frame_preview
from orchestration.partitions import PARTITIONED
from orchestration.resources import WarehouseResource


@dg.asset(
    key=["serving", "customer_recommendations"],
    group_name="serving",
    deps=[["ml", "recommendations"], ["ml", "customer_segments"], ["marts", "products"]],
    kinds={"python"},
    **PARTITIONED,
)
def customer_recommendations(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Each customer's recommendations with what a person needs to act on them: the
    product's category and usual price, and the customer's segment."""
    recommendations = warehouse.read("ml", "recommendations")
    products = warehouse.read("marts", "products")[["product_id", "category", "average_price"]]
    segments = warehouse.read("ml", "customer_segments")[["customer_unique_id", "segment"]]
    table = recommendations.merge(products, on="product_id", how="left").merge(
        segments, on="customer_unique_id", how="left"
    )
    table = table.sort_values(["customer_unique_id", "rank"], ignore_index=True)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": warehouse.write("serving", "customer_recommendations", table),
            "preview": frame_preview(table),
        }
    )
