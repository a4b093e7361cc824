"""monitoring.recommender_health: how the lists published by the previous run did.

Every run keeps a copy of the lists it published (``monitoring.served_lists``, with their
as-of day). The next run, before replacing that copy, measures it on what happened since:

- **offline**, the metric the recommender was chosen on (HR@10 on first purchases) on the
  first purchases made after the lists' as-of day, with a Wilson interval (ml/monitoring/
  online.py), against what the lists' version promised in its own evaluation;
- **online**, from the serving events since that day (real traffic, or `retail-intel
  simulate-feedback`): impressions, click-through, purchases and revenue per impression, per
  model version that served them.

One row per run and model version is appended to ``monitoring.recommender_health``. The check
``recommender_health`` fails (warning) only when the lists did worse than the tenant's
``hit_rate_alert_ratio`` of their promise beyond doubt: the upper end of the interval is below
it, with at least ``min_customers`` customers measured; a quiet fortnight of a small shop is
noise, not an alert.
"""

from datetime import UTC, datetime

import dagster as dg
import duckdb
import pandas as pd

from ml.monitoring.online import ONLINE_COLUMNS, online_metrics, realised_hit_rate
from ml.registry import RegistryError
from orchestration.lineage import registry_for
from orchestration.metadata import frame_preview
from orchestration.partitions import PARTITIONED
from orchestration.resources import WarehouseResource
from retail_intel.events import EventStore
from retail_intel.monitoring_config import thresholds_for

HEALTH_TABLE = ("monitoring", "recommender_health")
SERVED_TABLE = ("monitoring", "served_lists")
K = 10
COLUMNS = [
    "tenant_id",
    "run_id",
    "measured_at",
    "lists_as_of",
    "window_end",
    "model_version",
    "customers",
    "hits",
    "hit_rate",
    "hit_rate_low",
    "hit_rate_high",
    "promised_hit_rate",
    *ONLINE_COLUMNS[1:],
]


@dg.asset(
    key=list(HEALTH_TABLE),
    group_name="monitoring",
    deps=[["ml", "recommendations"], ["marts", "user_item_interactions"], ["marts", "orders"]],
    kinds={"python"},
    check_specs=[dg.AssetCheckSpec("recommender_health", asset=list(HEALTH_TABLE))],
    **PARTITIONED,
)
def recommender_health(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    """The previous run's lists measured on the purchases and events since (offline HR@10 with
    its interval against the version's promise; online click-through, purchases and revenue per
    impression by version); then this run's lists kept for the next run to measure."""
    settings = warehouse.settings()
    limits = thresholds_for(settings)["recommender"]
    as_of = pd.Timestamp(warehouse.read("marts", "orders")["purchased_at"].max()).normalize()
    previous = warehouse.read(*SERVED_TABLE) if warehouse.exists(*SERVED_TABLE) else None
    current = (
        warehouse.read("ml", "recommendations")[["customer_unique_id", "product_id", "rank", "model_version"]]
        if warehouse.exists("ml", "recommendations")
        else None
    )
    measured, result = _measure(context, settings, warehouse, previous, as_of, limits)
    history = warehouse.read(*HEALTH_TABLE) if warehouse.exists(*HEALTH_TABLE) else measured.iloc[0:0]
    tables = {HEALTH_TABLE: pd.concat([history, measured], ignore_index=True) if len(history) else measured}
    if current is not None and len(current):
        tables[SERVED_TABLE] = current.assign(lists_as_of=as_of)
    rows = warehouse.write_many(tables)
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows[HEALTH_TABLE],
            "lists_kept_for_next_run": rows.get(SERVED_TABLE, 0),
            "preview": frame_preview(measured),
        }
    )
    yield result


def _measure(context, settings, warehouse, previous, as_of, limits) -> tuple[pd.DataFrame, dg.AssetCheckResult]:
    empty = pd.DataFrame({column: pd.Series(dtype="float64") for column in COLUMNS})
    if previous is None or previous.empty:
        return empty, _unmeasured("no lists were kept by an earlier run yet", limits)
    lists_as_of = pd.Timestamp(previous["lists_as_of"].max()).normalize()
    if lists_as_of >= as_of:
        return empty, _unmeasured(f"no day has passed since the lists' as-of day {lists_as_of.date()}", limits)
    interactions = warehouse.read("marts", "user_item_interactions")
    first = pd.to_datetime(interactions["first_purchased_at"])
    before, after = (
        interactions.loc[first < lists_as_of + pd.Timedelta(days=1)],
        interactions.loc[(first >= lists_as_of + pd.Timedelta(days=1)) & (first < as_of + pd.Timedelta(days=1))],
    )
    offline = realised_hit_rate(previous, before, after, K)
    version = str(previous["model_version"].iloc[0])
    promised = _promised(settings, version)
    online, events_note = _online(settings, lists_as_of + pd.Timedelta(days=1))
    row = {
        "model_version": version,
        "customers": offline.customers,
        "hits": offline.hits,
        "hit_rate": offline.rate,
        "hit_rate_low": offline.low,
        "hit_rate_high": offline.high,
        "promised_hit_rate": promised,
    }
    measured = (
        pd.DataFrame([row]).merge(online, on="model_version", how="outer") if len(online) else pd.DataFrame([row])
    )
    measured = measured.assign(
        tenant_id=settings.tenant_id,
        run_id=context.run.run_id,
        measured_at=datetime.now(UTC).replace(tzinfo=None),
        lists_as_of=lists_as_of,
        window_end=as_of,
    ).reindex(columns=COLUMNS)
    measured = measured.astype({column: "float64" for column in COLUMNS[6:]})
    threshold = None if promised is None else limits["hit_rate_alert_ratio"] * promised
    judged = threshold is not None and offline.customers >= limits["min_customers"]
    own = measured.loc[measured["model_version"] == version].iloc[0]
    metadata = {
        "value": offline.rate if offline.rate is not None else "no customer with a list made a first purchase",
        "threshold": threshold if threshold is not None else "the lists' version promised no HR@10",
        "expected": promised if promised is not None else "unknown",
        "interval_95": f"{offline.low:.4f} to {offline.high:.4f}" if offline.rate is not None else "none",
        "customers": offline.customers,
        "min_customers": limits["min_customers"],
        "window": f"{(lists_as_of + pd.Timedelta(days=1)).date()} to {as_of.date()}",
        "lists_version": version,
        "events": events_note,
    }
    for column in ("impressions", "click_through_rate", "purchase_rate", "revenue_per_impression"):
        if pd.notna(own[column]):
            metadata[column] = float(own[column])
    passed = not (judged and offline.high is not None and offline.high < threshold)
    return measured, dg.AssetCheckResult(
        check_name="recommender_health", passed=passed, severity=dg.AssetCheckSeverity.WARN, metadata=metadata
    )


def _unmeasured(reason: str, limits) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name="recommender_health",
        passed=True,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"note": reason, "hit_rate_alert_ratio": limits["hit_rate_alert_ratio"]},
    )


def _promised(settings, version_label: str) -> float | None:
    """The full-catalogue HR@10 the version was registered with (its test window)."""
    model, _, version = version_label.rpartition("/")
    try:
        value = registry_for(settings).metrics_of(model, version).get("hr_at_10")
    except RegistryError:  # another tenant's name: it promised this tenant nothing
        return None
    return None if value is None else float(value)


def _online(settings, since: pd.Timestamp) -> tuple[pd.DataFrame, str]:
    """Per version figures from the events since ``since``, and a note of what was read. On
    DuckDB the running service holds the events file: then no online figure this run."""
    try:
        store = EventStore(settings)
    except duckdb.IOException as error:
        return online_metrics(pd.DataFrame(columns=["event_type"])), f"not read: {error}"[:300]
    try:
        events = store.since(since.to_pydatetime())
    finally:
        store.close()
    return online_metrics(events), f"{len(events)} events since {since.date()}"
