"""monitoring.model_health: one row per health check and run, for dashboards.

The health checks (segment stability, data drift; later forecast accuracy and the
recommender's online figures) run as asset checks of their assets. This asset reads what
they said in this run, from the run's own event log (a check's latest evaluation may be
another tenant's: checks are not partitioned), and appends it to the tenant's table: the
check, whether it passed, its figure and threshold.
"""

from datetime import UTC, datetime

import dagster as dg
import pandas as pd

from orchestration.metadata import frame_preview
from orchestration.partitions import PARTITIONED
from orchestration.resources import WarehouseResource

HEALTH_TABLE = ("monitoring", "model_health")
HEALTH_CHECKS = {
    ("raw", "olist_orders_dataset"): "delivery_freshness",
    ("ml", "revenue_forecast"): "forecast_accuracy",
    ("ml", "customer_segments"): "segment_stability",
    ("monitoring", "drift"): "data_drift",
}
# Where each check reports its figure.
FIGURE_KEYS = ("value", "share_drifted")
COLUMNS = ["tenant_id", "run_id", "checked_at", "asset", "check_name", "passed", "severity", "figure", "threshold"]


@dg.asset(
    key=list(HEALTH_TABLE),
    group_name="monitoring",
    deps=[list(asset) for asset in HEALTH_CHECKS],
    kinds={"python"},
    **PARTITIONED,
)
def model_health(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """This run's health checks, appended to monitoring.model_health (one row per check and run)."""
    settings = warehouse.settings()
    checked_at = datetime.now(UTC).replace(tzinfo=None)
    records = context.instance.get_records_for_run(
        context.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ).records
    rows = []
    for record in records:
        evaluation = record.event_log_entry.dagster_event.event_specific_data
        asset = tuple(evaluation.asset_key.path)
        if HEALTH_CHECKS.get(asset) != evaluation.check_name:
            continue
        figures = {key: value.value for key, value in evaluation.metadata.items()}
        figure = next((figures[key] for key in FIGURE_KEYS if isinstance(figures.get(key), int | float)), None)
        threshold = figures.get("threshold")
        rows.append(
            {
                "tenant_id": settings.tenant_id,
                "run_id": context.run_id,
                "checked_at": checked_at,
                "asset": "/".join(asset),
                "check_name": evaluation.check_name,
                "passed": bool(evaluation.passed),
                "severity": evaluation.severity.value,
                "figure": None if figure is None else float(figure),
                "threshold": float(threshold) if isinstance(threshold, int | float) else None,
            }
        )
    measured = pd.DataFrame(rows, columns=COLUMNS).astype({"figure": "float64", "threshold": "float64"})
    history = warehouse.read(*HEALTH_TABLE) if warehouse.exists(*HEALTH_TABLE) else measured.iloc[0:0]
    table = pd.concat([history, measured], ignore_index=True) if len(history) else measured
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": warehouse.write(*HEALTH_TABLE, table),
            "checks_this_run": len(measured),
            "failing": dg.MetadataValue.json(measured.loc[~measured["passed"], "check_name"].tolist()),
            "preview": frame_preview(measured),
        }
    )
