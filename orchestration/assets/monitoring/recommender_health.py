"""monitoring.recommender_health: how published lists did on the purchases that followed them.

A run keeps a copy of the lists it published (``monitoring.served_lists``, with their as-of
day). Once ``window_days`` (monitoring.yml, ``recommender``) have passed, a later run measures
that copy on what happened in between, then keeps its own lists for the next window:

- **offline**: the metric the recommender is chosen on (HR@10 on first purchases) on the first
  purchases made since the lists' as-of day, with a Wilson interval (ml/monitoring/online.py),
  against what the lists' version promised over a window of the same length (its holdout of
  the last ``window_days`` before its own data ended, logged with it as ``hr_at_10_<days>d``),
  and beside the simple baseline on the same customers (the most bought products, less what
  each already bought);
- **online**: from the serving events of the window (real traffic, or `retail-intel
  simulate-feedback`): impressions, click-through, purchases and revenue per impression, per
  model version that served them.

One row per measured window and model version is appended to ``monitoring.recommender_health``;
the per-customer outcomes go to ``monitoring.recommender_outcomes`` for the bias report. The
check ``recommender_health`` fails (warning) when the lists delivered less than they promised
both by enough to matter and beyond chance: HR@10 below ``hit_rate_alert_ratio`` of the
promise, a one-sided binomial p-value of so few hits under the promised rate below
``significance``, and at least ``min_customers`` measured. A quiet window of a small shop is
noise, not an alert. The baseline is not the yardstick: on a wide catalogue popularity hits
almost nobody, so lists that learnt nothing would tie with it.
"""

from datetime import UTC, datetime

import dagster as dg
import pandas as pd

from ml.monitoring.online import (
    ONLINE_COLUMNS,
    below_promise_p_value,
    customer_outcomes,
    expected_hits,
    online_metrics,
    popularity_lists,
    realised_hit_rate,
    window_metric,
)
from ml.registry import RegistryError
from orchestration.lineage import registry_for
from orchestration.metadata import JUDGED, frame_preview
from orchestration.partitions import PARTITIONED
from orchestration.resources import WarehouseResource
from retail_intel.events import COLUMNS as EVENT_COLUMNS
from retail_intel.events import EventStore
from retail_intel.monitoring_config import thresholds_for
from retail_intel.warehouse import WarehouseBusyError

HEALTH_TABLE = ("monitoring", "recommender_health")
SERVED_TABLE = ("monitoring", "served_lists")
# Per customer of the lists measured last: whether they bought, hit, what their list expected,
# impressions. The bias report (monitoring/recommender_bias) groups it.
OUTCOMES_TABLE = ("monitoring", "recommender_outcomes")
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
    "baseline_hit_rate",
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
    """Lists kept ``window_days`` ago measured on the purchases and events of that window
    (offline HR@10 with its interval against what their version promised over such a window,
    the popularity baseline on the same customers beside it; online click-through, purchases
    and revenue per impression by version); then this run's lists kept for the next window."""
    settings = warehouse.settings()
    limits = thresholds_for(settings)["recommender"]
    as_of = pd.Timestamp(warehouse.read("marts", "orders")["purchased_at"].max()).normalize()
    previous = warehouse.read(*SERVED_TABLE) if warehouse.exists(*SERVED_TABLE) else None
    current = (
        warehouse.read("ml", "recommendations")[
            ["customer_unique_id", "product_id", "rank", "probability", "model_version"]
        ]
        if warehouse.exists("ml", "recommendations")
        else None
    )
    measured, result, outcomes = _measure(context, settings, warehouse, previous, as_of, limits)
    tables = {HEALTH_TABLE: warehouse.with_history(*HEALTH_TABLE, measured)}
    if outcomes is not None:
        tables[OUTCOMES_TABLE] = outcomes
    window_open = previous is not None and len(previous) and outcomes is None and _lists_day(previous) < as_of
    if current is not None and len(current) and not window_open:
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


def _lists_day(lists: pd.DataFrame) -> pd.Timestamp:
    return pd.Timestamp(lists["lists_as_of"].max()).normalize()


def _measure(context, settings, warehouse, previous, as_of, limits):
    """This run's rows of the health table, the check, and the per-customer outcomes (None when
    nothing was measured: no lists kept yet, or their window still open)."""
    empty = pd.DataFrame({column: pd.Series(dtype="float64") for column in COLUMNS})
    if previous is None or previous.empty:
        return empty, _unmeasured("no lists were kept by an earlier run yet", limits), None
    lists_as_of = _lists_day(previous)
    days = (as_of - lists_as_of).days
    if days < max(int(limits["window_days"]), 1):
        reason = (
            f"{max(days, 0)} of {int(limits['window_days'])} days since the kept lists' as-of day {lists_as_of.date()}"
        )
        return empty, _unmeasured(reason, limits), None
    interactions = warehouse.read("marts", "user_item_interactions")
    first = pd.to_datetime(interactions["first_purchased_at"])
    # Exactly window_days, whatever the gap between runs: the promise is for that many days.
    window_days = int(limits["window_days"])
    start = lists_as_of + pd.Timedelta(days=1)
    end = start + pd.Timedelta(days=window_days)
    before, after = interactions.loc[first < start], interactions.loc[(first >= start) & (first < end)]
    offline = realised_hit_rate(previous, before, after, K)
    outcomes = customer_outcomes(previous, before, after, K)
    baseline = customer_outcomes(popularity_lists(before, previous["customer_unique_id"], K), before, after, K)
    baseline_hits = outcomes[["customer_unique_id"]].merge(baseline[["customer_unique_id", "hit"]], how="left")
    baseline_rate = float(baseline_hits["hit"].fillna(0).mean()) if len(outcomes) else None
    version = str(previous["model_version"].iloc[0])
    promised = _promised(settings, version, window_metric(window_days))
    events, events_note = _events(settings, start, end)
    online = online_metrics(events)
    row = {
        "model_version": version,
        "customers": offline.customers,
        "hits": offline.hits,
        "hit_rate": offline.rate,
        "hit_rate_low": offline.low,
        "hit_rate_high": offline.high,
        "baseline_hit_rate": baseline_rate,
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
        window_end=end - pd.Timedelta(days=1),
    ).reindex(columns=COLUMNS)
    measured = measured.astype({column: "float64" for column in COLUMNS[6:]})
    threshold = None if promised is None else limits["hit_rate_alert_ratio"] * promised
    judged = threshold is not None and offline.customers >= max(limits["min_customers"], 1)
    p_value = below_promise_p_value(offline.hits, offline.customers, promised) if judged else None
    own = measured.loc[measured["model_version"] == version].iloc[0]
    metadata = {
        "value": offline.rate if offline.rate is not None else "no customer with a list made a first purchase",
        "threshold": threshold if threshold is not None else f"the lists' version promised no {window_days}-day HR@10",
        "expected": promised if promised is not None else "unknown",
        "baseline_hit_rate": baseline_rate if baseline_rate is not None else "none",
        "interval_95": f"{offline.low:.4f} to {offline.high:.4f}" if offline.rate is not None else "none",
        "p_value_below_promise": p_value if p_value is not None else "not judged",
        "significance": limits["significance"],
        "customers": offline.customers,
        "min_customers": limits["min_customers"],
        "window": f"{start.date()} to {(end - pd.Timedelta(days=1)).date()}",
        "lists_version": version,
        "events": events_note,
    }
    for column in ("impressions", "click_through_rate", "purchase_rate", "revenue_per_impression"):
        if pd.notna(own[column]):
            metadata[column] = float(own[column])
    metadata[JUDGED] = judged
    passed = not (judged and offline.rate < threshold and p_value < limits["significance"])
    check = dg.AssetCheckResult(
        check_name="recommender_health", passed=passed, severity=dg.AssetCheckSeverity.WARN, metadata=metadata
    )
    return measured, check, _outcomes(previous, outcomes, events, lists_as_of, version)


def _outcomes(previous, bought, events, lists_as_of, version) -> pd.DataFrame:
    """Every customer of the measured lists: bought (a first purchase since), hit, the hit their
    list expected, and the impressions they were shown."""
    listed = pd.DataFrame({"customer_unique_id": previous["customer_unique_id"].unique()})
    table = listed.merge(bought[["customer_unique_id", "hit"]], how="left")
    shown = events.loc[events["event_type"] == "impression"].groupby("customer_unique_id").size()
    expected = expected_hits(previous, K) if "probability" in previous.columns else pd.Series(dtype="float64")
    return table.assign(
        bought=table["hit"].notna(),
        expected_hit=table["customer_unique_id"].map(expected),
        impressions=table["customer_unique_id"].map(shown).fillna(0).astype("int64"),
        lists_as_of=lists_as_of,
        model_version=version,
    ).astype({"hit": "float64", "expected_hit": "float64"})


def _unmeasured(reason: str, limits) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name="recommender_health",
        passed=True,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"note": reason, "hit_rate_alert_ratio": limits["hit_rate_alert_ratio"], JUDGED: False},
    )


def _promised(settings, version_label: str, metric: str) -> float | None:
    """The full-catalogue HR@10 over the window that the version was registered with."""
    model, _, version = version_label.rpartition("/")
    try:
        value = registry_for(settings).metrics_of(model, version).get(metric)
    except RegistryError:  # another tenant's name: it promised this tenant nothing
        return None
    return None if value is None else float(value)


def _events(settings, since: pd.Timestamp, before: pd.Timestamp) -> tuple[pd.DataFrame, str]:
    """The serving events of the window, and a note of what was read. On DuckDB the running
    service holds the events file: then no online figure this run, and the note says why."""
    try:
        store = EventStore(settings)
    except WarehouseBusyError as error:
        nothing = pd.DataFrame({column: pd.Series(dtype="object") for column in EVENT_COLUMNS})
        return nothing, f"not read: {error}"[:300]
    try:
        events = store.since(since.to_pydatetime(), before.to_pydatetime())
    finally:
        store.close()
    return events, f"{len(events)} events from {since.date()} to {(before - pd.Timedelta(days=1)).date()}"
