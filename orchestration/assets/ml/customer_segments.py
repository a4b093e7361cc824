"""ml.customer_segments, ml.segment_summary and ml.segment_movement: who the customers are,
and how they moved since the previous run, for marketing."""

import dagster as dg

from ml.segments import (
    RFM_COLUMNS,
    fit_segmenter,
    moved_customers,
    named_segments,
    segment_movement,
    segment_stability,
    segment_summary,
    silhouette,
)
from orchestration.champion import ChampionFlow
from orchestration.metadata import frame_preview
from orchestration.partitions import PARTITIONED
from orchestration.resources import WarehouseResource
from retail_intel.monitoring_config import thresholds_for


class SegmentsConfig(dg.Config):
    # None: choose k in [k_min, k_max] by silhouette.
    k: int | None = None
    k_min: int = 3
    k_max: int = 8
    seed: int = 0


@dg.multi_asset(
    specs=[
        dg.AssetSpec(["ml", "customer_segments"], group_name="ml", deps=[["marts", "customer_rfm"]], kinds={"python"}),
        dg.AssetSpec(["ml", "segment_summary"], group_name="ml", deps=[["ml", "customer_segments"]], kinds={"python"}),
        dg.AssetSpec(["ml", "segment_movement"], group_name="ml", deps=[["ml", "customer_segments"]], kinds={"python"}),
    ],
    check_specs=[dg.AssetCheckSpec("segment_stability", asset=["ml", "customer_segments"])],
    **PARTITIONED,
)
def customer_segments(context: dg.AssetExecutionContext, config: SegmentsConfig, warehouse: WarehouseResource):
    """Each customer's named RFM segment (Champions, Loyal, ..., At Risk, Lost) and K-Means
    cluster, a per-segment summary (customers, revenue, shares, order value) for dashboards, and
    the customers per (previous segment, segment) since the previous run's table.

    The K-Means segmenter is trained, logged to MLflow and registered as challenger; it
    becomes champion only if its silhouette on today's customers beats the champion's on
    the same customers, and never while the model is frozen. The table is always written
    by the champion, whose version it carries. Stability: the share of customers whose
    segment is the same as in the previous run.
    """
    settings = warehouse.settings()
    rfm = warehouse.read("marts", "customer_rfm")
    as_of = str(rfm["as_of_date"].max())[:10]
    segmenter, silhouettes = fit_segmenter(rfm, k=config.k, k_range=(config.k_min, config.k_max), seed=config.seed)

    flow = ChampionFlow(settings, "customer_segmenter")
    crowned = flow.crown(
        segmenter,
        trained_on=rfm,
        as_of=as_of,
        input_example=rfm[list(RFM_COLUMNS)].head(5),
        params={"k": segmenter.k, "k_range": f"{config.k_min}-{config.k_max}", "seed": config.seed},
        # The k search ran on a sample; the headline is the chosen segmenter's on every customer.
        metrics={
            "silhouette": silhouette(segmenter, rfm, seed=config.seed),
            **{f"silhouette_k{k}": s for k, s in silhouettes.items()},
        },
        evaluate=lambda model: silhouette(model, rfm, seed=config.seed),
        metric="silhouette",
        higher_is_better=True,
        holdout=f"marts.customer_rfm as of {as_of}",
        log=context.log,
    )
    champion = crowned.champion

    table = rfm[["customer_unique_id", "recency_days", "frequency", "monetary"]].copy()
    table["monetary"] = table["monetary"].astype(float)
    table["segment"] = named_segments(rfm)
    table["cluster"] = champion.predict(rfm).astype("int64")
    table["model_version"] = crowned.version_label
    table = table[
        ["customer_unique_id", "segment", "cluster", "recency_days", "frequency", "monetary", "model_version"]
    ]
    previous = warehouse.read("ml", "customer_segments") if warehouse.exists("ml", "customer_segments") else None
    stability = segment_stability(previous, table) if previous is not None else None
    if stability is not None:
        flow.log_metric(crowned, "segment_stability", stability)
    summary = segment_summary(table)
    movement = segment_movement(previous, table)
    rows = warehouse.write_many(
        {("ml", "customer_segments"): table, ("ml", "segment_summary"): summary, ("ml", "segment_movement"): movement}
    )
    yield dg.MaterializeResult(
        asset_key=["ml", "customer_segments"],
        metadata={
            "dagster/row_count": rows[("ml", "customer_segments")],
            "champion_version": crowned.champion_version,
            "challenger_version": crowned.challenger_version,
            "promotion": crowned.decision.reason,
            "k": champion.k,
            "silhouette_by_k": dg.MetadataValue.json({str(k): round(s, 4) for k, s in silhouettes.items()}),
            "segment_stability": dg.MetadataValue.float(stability) if stability is not None else "first run",
            "segments": dg.MetadataValue.json(table["segment"].value_counts().to_dict()),
            "preview": frame_preview(table),
        },
    )
    yield dg.MaterializeResult(
        asset_key=["ml", "segment_summary"],
        metadata={
            "dagster/row_count": rows[("ml", "segment_summary")],
            "summary": frame_preview(summary),
        },
    )
    yield dg.MaterializeResult(
        asset_key=["ml", "segment_movement"],
        metadata={
            "dagster/row_count": rows[("ml", "segment_movement")],
            "customers_moved": moved_customers(movement) if previous is not None else "first run",
            "movement": frame_preview(movement),
        },
    )
    yield _stability_check(stability, thresholds_for(settings)["segments"])


def _stability_check(stability: float | None, limits: dict[str, float]) -> dg.AssetCheckResult:
    """Warns when fewer customers than the tenant's alert level kept their segment since the
    previous run (segments that churn that fast cannot carry a campaign); the first run passes."""
    metadata = {"threshold": limits["stability_alert"], "target": limits["stability_target"]}
    if stability is None:
        return dg.AssetCheckResult(
            check_name="segment_stability",
            passed=True,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={**metadata, "note": "first run: nothing to compare"},
        )
    return dg.AssetCheckResult(
        check_name="segment_stability",
        passed=stability >= limits["stability_alert"],
        severity=dg.AssetCheckSeverity.WARN,
        metadata={**metadata, "value": stability, "meets_target": stability >= limits["stability_target"]},
    )
