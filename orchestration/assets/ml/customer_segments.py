"""ml.customer_segments and ml.segment_summary: who the customers are, for marketing."""

import dagster as dg

from ml.segments import named_segments, segment_summary
from orchestration.metadata import frame_preview
from orchestration.resources import WarehouseResource

MODEL_VERSION = "rfm-rules"


@dg.multi_asset(
    specs=[
        dg.AssetSpec(["ml", "customer_segments"], group_name="ml", deps=[["marts", "customer_rfm"]], kinds={"python"}),
        dg.AssetSpec(["ml", "segment_summary"], group_name="ml", deps=[["ml", "customer_segments"]], kinds={"python"}),
    ],
)
def customer_segments(warehouse: WarehouseResource):
    """Each customer's named RFM segment (Champions, Loyal, ..., At Risk, Lost) from the
    marts' R and F scores, and a per-segment summary for dashboards.

    `cluster` stays empty until the K-Means segmenter arrives; `model_version` is
    `rfm-rules`, the rule grid, not a fitted model.
    """
    rfm = warehouse.read("marts", "customer_rfm")
    segments = rfm[
        ["customer_unique_id", "recency_days", "frequency", "monetary", "r_score", "f_score", "m_score"]
    ].copy()
    segments["monetary"] = segments["monetary"].astype(float)
    segments["segment"] = named_segments(segments)
    segments["cluster"] = None
    segments["model_version"] = MODEL_VERSION
    table = segments[
        ["customer_unique_id", "segment", "cluster", "recency_days", "frequency", "monetary", "model_version"]
    ]
    table = table.astype({"cluster": "Int64"})
    summary = segment_summary(table)
    yield dg.MaterializeResult(
        asset_key=["ml", "customer_segments"],
        metadata={
            "dagster/row_count": warehouse.write("ml", "customer_segments", table),
            "segments": dg.MetadataValue.json(table["segment"].value_counts().to_dict()),
            "preview": frame_preview(table),
        },
    )
    yield dg.MaterializeResult(
        asset_key=["ml", "segment_summary"],
        metadata={
            "dagster/row_count": warehouse.write("ml", "segment_summary", summary),
            "summary": frame_preview(summary),
        },
    )
