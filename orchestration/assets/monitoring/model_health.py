"""monitoring.model_health: one row per health check and run, for dashboards.

The health checks (raw delivery freshness, forecast accuracy, segment stability, data drift,
the recommender's realised hit rate) run as asset checks of their assets. This asset reads what
they said in this run, from the run's own event log (a check's latest evaluation may be
another tenant's: checks are not partitioned), and appends it to the tenant's table: the
check, whether it passed, its figure and threshold, and what the model promised. Its own
check, ``concept_drift``, looks at the forecast's history in that table for a lasting rise of
its realised error over what its versions promised (ml/monitoring/change.py).
"""

from datetime import UTC, datetime

import dagster as dg
import pandas as pd

from ml.monitoring.change import page_hinkley
from orchestration.metadata import frame_preview
from orchestration.partitions import PARTITIONED
from orchestration.resources import WarehouseResource
from retail_intel.monitoring_config import thresholds_for

HEALTH_TABLE = ("monitoring", "model_health")
HEALTH_CHECKS = {
    ("raw", "olist_orders_dataset"): "delivery_freshness",
    ("ml", "revenue_forecast"): "forecast_accuracy",
    ("ml", "customer_segments"): "segment_stability",
    ("monitoring", "drift"): "data_drift",
    ("monitoring", "recommender_health"): "recommender_health",
    ("monitoring", "recommender_bias"): "recommender_bias",
}
# Where each check reports its figure.
FIGURE_KEYS = ("value", "share_drifted")
COLUMNS = [
    "tenant_id",
    "run_id",
    "checked_at",
    "asset",
    "check_name",
    "passed",
    "severity",
    "figure",
    "threshold",
    "expected",  # what the model promised (its own evaluation), where the check knows it
]


@dg.asset(
    key=list(HEALTH_TABLE),
    group_name="monitoring",
    deps=[list(asset) for asset in HEALTH_CHECKS],
    kinds={"python"},
    check_specs=[dg.AssetCheckSpec("concept_drift", asset=list(HEALTH_TABLE))],
    **PARTITIONED,
)
def model_health(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """This run's health checks, appended to monitoring.model_health (one row per check and run)."""
    settings = warehouse.settings()
    checked_at = datetime.now(UTC).replace(tzinfo=None)
    records = context.instance.get_records_for_run(
        context.run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
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
        expected = figures.get("expected")
        rows.append(
            {
                "tenant_id": settings.tenant_id,
                "run_id": context.run.run_id,
                "checked_at": checked_at,
                "asset": "/".join(asset),
                "check_name": evaluation.check_name,
                "passed": bool(evaluation.passed),
                "severity": evaluation.severity.value,
                "figure": None if figure is None else float(figure),
                "threshold": float(threshold) if isinstance(threshold, int | float) else None,
                "expected": float(expected) if isinstance(expected, int | float) else None,
            }
        )
    floats = {"figure": "float64", "threshold": "float64", "expected": "float64"}
    measured = pd.DataFrame(rows, columns=COLUMNS).astype(floats)
    table = warehouse.with_history(*HEALTH_TABLE, measured)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": warehouse.write(*HEALTH_TABLE, table),
            "checks_this_run": len(measured),
            "failing": dg.MetadataValue.json(measured.loc[~measured["passed"], "check_name"].tolist()),
            "preview": frame_preview(measured),
        },
        check_results=[_concept_drift(table, thresholds_for(settings)["concept_drift"])],
    )


def _concept_drift(table: pd.DataFrame, limits: dict[str, float]) -> dg.AssetCheckResult:
    """Warns when the forecast's realised error has stayed above what its versions promised, run
    after run (Page-Hinkley on realised minus promised WAPE), rather than on one bad week."""
    scored = table.loc[(table["check_name"] == "forecast_accuracy") & table["figure"].notna()]
    scored = scored.loc[scored["expected"].notna()].sort_values("checked_at")
    excess = (scored["figure"] - scored["expected"]).tolist()
    change = page_hinkley(excess, tolerance=limits["tolerance"], threshold=limits["threshold"])
    return dg.AssetCheckResult(
        check_name="concept_drift",
        passed=not change.fired,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "value": change.statistic,
            "threshold": limits["threshold"],
            "tolerance": limits["tolerance"],
            "runs_scored": change.values,
            "first_fired_at_run": change.at if change.at is not None else "never",
        },
    )
