"""monitoring.recommender_bias: whom the measured lists served worse, by segment and by state.

Reads the per-customer outcomes that monitoring/recommender_health wrote for the lists it
measured (hit, expected hit, impressions), the customers' segments and states, and the coupon
bands when a campaign was scored (``retail-intel score`` writes ml.coupon_targets). Per group:
HR@10 and calibration (expected beside realised hit rate), share of impressions against share
of customers, share in the coupon bands (ml/monitoring/bias.py). Appended to the table, written
as an HTML report linked from the check, and attached to the lists' model version in MLflow.
The check ``recommender_bias`` warns when a group is flagged: served much worse than the
average, beyond chance, with the tenant's thresholds (monitoring.yml, ``bias``).
"""

from datetime import UTC, datetime

import dagster as dg
import pandas as pd

from ml.monitoring.bias import BiasLimits, bias_table
from ml.registry import RegistryError
from orchestration.assets.monitoring.recommender_health import HEALTH_TABLE, OUTCOMES_TABLE
from orchestration.lineage import registry_for
from orchestration.metadata import JUDGED, frame_preview
from orchestration.partitions import PARTITIONED
from orchestration.resources import WarehouseResource
from retail_intel.monitoring_config import thresholds_for

BIAS_TABLE = ("monitoring", "recommender_bias")
REPORT_NAME = "recommender_bias.html"
DIMENSIONS = ("segment", "customer_state")


@dg.asset(
    key=list(BIAS_TABLE),
    group_name="monitoring",
    deps=[list(HEALTH_TABLE), ["ml", "customer_segments"], ["marts", "customer_rfm"]],
    kinds={"python"},
    check_specs=[dg.AssetCheckSpec("recommender_bias", asset=list(BIAS_TABLE))],
    **PARTITIONED,
)
def recommender_bias(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    """Quality (HR@10, calibration) and exposure (impressions, coupon bands) of the measured
    lists by segment and by state, with the groups served much worse than average flagged."""
    settings = warehouse.settings()
    note = None
    if not warehouse.exists(*OUTCOMES_TABLE):
        note = "no lists measured on purchases yet (monitoring/recommender_health measures the previous run's)"
    else:
        outcomes = warehouse.read(*OUTCOMES_TABLE)
        version, lists_as_of = str(outcomes["model_version"].iloc[0]), outcomes["lists_as_of"].iloc[0]
        if _reported(warehouse, version, lists_as_of):
            note = f"the lists of {version} as of {pd.Timestamp(lists_as_of).date()} were reported by an earlier run"
    if note is not None:
        yield dg.MaterializeResult(metadata={"skipped_reason": note})
        yield dg.AssetCheckResult(
            check_name="recommender_bias",
            passed=True,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"note": note, JUDGED: False},
        )
        return
    configured = thresholds_for(settings)["bias"]
    limits = BiasLimits(configured["worse_ratio"], configured["significance"], int(configured["min_customers"]))
    groups = warehouse.read("marts", "customer_rfm")[["customer_unique_id", "customer_state"]]
    if warehouse.exists("ml", "customer_segments"):
        segments = warehouse.read("ml", "customer_segments")[["customer_unique_id", "segment"]]
        groups = groups.merge(segments, on="customer_unique_id", how="left")
    else:
        groups = groups.assign(segment=None)
    bands = None
    if warehouse.exists("ml", "coupon_targets"):
        bands = warehouse.read("ml", "coupon_targets").set_index("customer_unique_id")["band"]
    bought = outcomes.loc[outcomes["bought"].astype(bool), ["customer_unique_id", "hit", "expected_hit"]]
    table = bias_table(
        bought,
        groups,
        DIMENSIONS,
        listed=outcomes["customer_unique_id"],
        impressions=outcomes.set_index("customer_unique_id")["impressions"],
        bands=bands,
        limits=limits,
    )
    measured = table.assign(
        tenant_id=settings.tenant_id,
        run_id=context.run.run_id,
        measured_at=datetime.now(UTC).replace(tzinfo=None),
        model_version=version,
        lists_as_of=lists_as_of,
    )
    rows = warehouse.write(*BIAS_TABLE, warehouse.with_history(*BIAS_TABLE, measured))
    path = settings.tenant_dir / "reports" / REPORT_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    report = _html(settings.tenant_id, version, lists_as_of, table, limits)
    path.write_text(report, encoding="utf-8")
    attached = _attach(settings, version, report)
    flagged = [f"{row.dimension}: {row.group}" for row in table.loc[table["flagged"]].itertuples()]
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "flagged_groups": dg.MetadataValue.json(flagged),
            "report_path": dg.MetadataValue.path(str(path)),
            "mlflow": attached,
            "preview": frame_preview(table),
        }
    )
    yield dg.AssetCheckResult(
        check_name="recommender_bias",
        passed=not flagged,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "value": len(flagged),
            "threshold": 0,
            "flagged_groups": dg.MetadataValue.json(flagged),
            "worse_ratio": limits.worse_ratio,
            "significance": limits.significance,
            "min_customers": limits.min_customers,
            "report_path": dg.MetadataValue.path(str(path)),
        },
    )


def _reported(warehouse: WarehouseResource, version: str, lists_as_of) -> bool:
    """The outcomes stay until the next measured window; each window is reported once."""
    if not warehouse.exists(*BIAS_TABLE):
        return False
    done = warehouse.read(*BIAS_TABLE)
    same = (done["model_version"] == version) & (pd.to_datetime(done["lists_as_of"]) == pd.Timestamp(lists_as_of))
    return bool(same.any())


def _attach(settings, version_label: str, report: str) -> str:
    model, _, version = version_label.rpartition("/")
    try:
        registry_for(settings).attach(model, version, REPORT_NAME, report)
    except RegistryError as error:  # another tenant's name, or a version since deleted
        return f"not attached: {error}"
    return f"attached to {version_label} as {REPORT_NAME}"


def _html(tenant_id: str, version: str, lists_as_of, table: pd.DataFrame, limits: BiasLimits) -> str:
    flagged = table.loc[table["flagged"]]
    verdict = (
        "no group is served much worse than the average"
        if flagged.empty
        else "served much worse than the average: "
        + ", ".join(f"{row.dimension} {row.group}" for row in flagged.itertuples())
    )
    return (
        f"<html><head><meta charset='utf-8'><title>Recommender bias: {tenant_id}</title></head><body>"
        f"<h1>Recommender bias of tenant {tenant_id}</h1>"
        f"<p>Lists of {version} as of {pd.Timestamp(lists_as_of).date()}, measured on the first purchases since: "
        f"{verdict}. A group is flagged when its HR@10 is below {limits.worse_ratio:g} of the overall one with a "
        f"one-sided binomial p-value below {limits.significance:g} and at least {limits.min_customers} customers "
        f"measured. Calibration gap: expected minus realised hit rate. Exposure ratio: share of impressions over "
        f"share of customers with lists (no impressions recorded: empty).</p>"
        f"{table.to_html(index=False, float_format=lambda value: f'{value:.4g}', na_rep='')}</body></html>"
    )
