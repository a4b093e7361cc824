"""monitoring.drift: how the latest month of orders differs from the months before it.

Every run compares the last ``current_days`` of revenue orders with the ``reference_days``
before them (the data the models in service learnt from), feature by feature
(ml/monitoring/drift.py), with the tenant's thresholds (monitoring.yml). The figures are
appended to ``monitoring.drift``, one row per feature and run, for dashboards; the asset check
``data_drift`` fails with warning severity when the data set drifted (drift does not stop the
pipeline: it asks a person to look), and links the HTML report.
"""

from datetime import UTC, datetime

import dagster as dg
import pandas as pd

from ml.monitoring.drift import DriftThresholds, dataset_drift, order_windows
from orchestration.metadata import frame_preview
from orchestration.partitions import PARTITIONED
from orchestration.resources import WarehouseResource
from retail_intel.monitoring_config import thresholds_for

DRIFT_TABLE = ("monitoring", "drift")
REPORT_NAME = "drift.html"


class DataDriftConfig(dg.Config):
    current_days: int = 30
    reference_days: int = 180


@dg.asset(
    key=list(DRIFT_TABLE),
    group_name="monitoring",
    deps=[["marts", "orders"]],
    kinds={"python", "scipy"},
    check_specs=[dg.AssetCheckSpec("data_drift", asset=list(DRIFT_TABLE))],
    **PARTITIONED,
)
def data_drift(context: dg.AssetExecutionContext, config: DataDriftConfig, warehouse: WarehouseResource):
    """Per feature (order value, basket size, average item price, state, payment and category
    mix, and the customer's RFM at the order: prior orders, prior spend, days since the previous
    order) the drift test, its statistic and threshold, and PSI; the data set drifted when half
    the features did. Too few orders in either window: nothing is measured, and the check says so."""
    settings = warehouse.settings()
    thresholds = DriftThresholds(**thresholds_for(settings)["drift"])
    windows = order_windows(
        warehouse.read("marts", "orders"), current_days=config.current_days, reference_days=config.reference_days
    )
    bounds = {
        "reference_start": windows.reference_start.date().isoformat(),
        "current_start": windows.current_start.date().isoformat(),
        "as_of": windows.as_of.date().isoformat(),
    }
    if min(len(windows.reference), len(windows.current)) < 30:
        reason = (
            f"too few orders to compare: {len(windows.reference)} before, {len(windows.current)} in the last window"
        )
        yield dg.MaterializeResult(metadata={"skipped_reason": reason, **bounds})
        yield dg.AssetCheckResult(
            check_name="data_drift", passed=True, severity=dg.AssetCheckSeverity.WARN, metadata={"skipped": reason}
        )
        return
    report = dataset_drift(
        windows.reference,
        windows.current,
        numeric=windows.numeric,
        categorical=windows.categorical,
        sparse=windows.sparse,
        thresholds=thresholds,
    )
    measured = report.table().assign(
        tenant_id=settings.tenant_id,
        run_id=context.run.run_id,
        measured_at=datetime.now(UTC).replace(tzinfo=None),
        dataset_drifted=report.drifted,
        share_drifted=report.share_drifted,
        **bounds,
    )
    table = warehouse.with_history(*DRIFT_TABLE, measured)
    path = settings.tenant_dir / "reports" / REPORT_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_html(settings.tenant_id, measured, report.drifted, bounds), encoding="utf-8")
    drifted = [feature.feature for feature in report.features if feature.drifted]
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": warehouse.write(*DRIFT_TABLE, table),
            "dataset_drifted": report.drifted,
            "share_drifted": report.share_drifted,
            "drifted_features": dg.MetadataValue.json(drifted),
            "unmeasured_features": dg.MetadataValue.json(list(report.unmeasured)),
            "report_path": dg.MetadataValue.path(str(path)),
            "preview": frame_preview(measured),
            **bounds,
        }
    )
    yield dg.AssetCheckResult(
        check_name="data_drift",
        passed=not report.drifted,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "share_drifted": report.share_drifted,
            "threshold": thresholds.share_of_features,
            "drifted_features": dg.MetadataValue.json(drifted),
            "report_path": dg.MetadataValue.path(str(path)),
        },
    )


def _html(tenant_id: str, measured: pd.DataFrame, drifted: bool, bounds: dict[str, str]) -> str:
    columns = ["feature", "kind", "test", "statistic", "threshold", "drifted", "psi", "reference_rows", "current_rows"]
    verdict = "drifted" if drifted else "did not drift"
    return (
        f"<html><head><meta charset='utf-8'><title>Data drift: {tenant_id}</title></head><body>"
        f"<h1>Data drift of tenant {tenant_id}</h1>"
        f"<p>Orders from {bounds['current_start']} to {bounds['as_of']} against {bounds['reference_start']} to "
        f"{bounds['current_start']}: the data set {verdict}.</p>"
        f"{measured[columns].to_html(index=False, float_format=lambda value: f'{value:.4g}')}</body></html>"
    )
