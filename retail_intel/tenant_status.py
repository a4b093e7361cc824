"""The operator's view of every tenant, as a table BI tools read: ``ops.tenant_status`` in the
platform's own warehouse (the reserved tenant ``platform``: its own DuckDB file, or schemas
prefixed ``platform__`` on PostgreSQL), refreshed after every recorded run.

One row per registered tenant, archived ones included: status, engine state, the last run
(when, outcome, failed checks, first failure), the champion version each model served, and the
forecast's and the recommender's headline figures on that run's evaluation beside the best
simple baseline's (backtest WAPE against seasonal naive or the trailing mean; HR@10 on the full
catalogue against global or recent popularity).
"""

from __future__ import annotations

import fcntl
from datetime import UTC, datetime

import pandas as pd

from retail_intel.settings import PLATFORM_TENANT, Settings
from retail_intel.switch import EngineSwitch
from retail_intel.tenants import TenantRegistry
from retail_intel.warehouse import warehouse_for

STATUS_TABLE = ("ops", "tenant_status")
# Model assets and the column that carries the champion version each served.
CHAMPION_COLUMNS = {
    "ml/revenue_forecast": "forecast_champion",
    "ml/customer_segments": "segments_champion",
    "ml/recommendations": "recommender_champion",
}
# Each model's headline figure on its last run's evaluation, and the best simple baseline's.
HEADLINE_COLUMNS = {
    "ml/revenue_forecast": ("forecast_wape", "forecast_best_baseline", "forecast_best_baseline_wape"),
    "ml/recommendations": ("recommender_hr_at_10", "recommender_best_baseline", "recommender_best_baseline_hr_at_10"),
}
COLUMNS = [
    "tenant_id",
    "display_name",
    "status",
    "engine",
    "last_run_at",
    "last_run_status",
    "failed_checks",
    "first_failure",
    *CHAMPION_COLUMNS.values(),
    *(column for columns in HEADLINE_COLUMNS.values() for column in columns),
    "raw_dir",
    "published_at",
    "refreshed_at",
]


def platform_settings(settings: Settings) -> Settings:
    return settings.with_(tenant_id=PLATFORM_TENANT, raw_dir_override=None, warehouse_override=None)


def tenant_status(settings: Settings) -> pd.DataFrame:
    registry = TenantRegistry.of(settings)
    runs = registry.last_runs()
    refreshed = datetime.now(UTC).replace(tzinfo=None)
    rows = []
    for tenant in registry.list(include_archived=True):
        run = runs.get(tenant.tenant_id, {})
        champions = run.get("champions", {})
        rows.append(
            {
                "tenant_id": tenant.tenant_id,
                "display_name": tenant.display_name,
                "status": tenant.status,
                "engine": EngineSwitch(settings.with_(tenant_id=tenant.tenant_id).engine_switch_path).state,
                "last_run_at": pd.Timestamp(run["finished_at"]).tz_localize(None) if run else pd.NaT,
                "last_run_status": run.get("status", "never run"),
                "failed_checks": int(run.get("failed_checks", 0)),
                "first_failure": run.get("first_failure"),
                **{column: champions.get(asset) for asset, column in CHAMPION_COLUMNS.items()},
                **_headlines(run.get("headlines", {})),
                "raw_dir": str(tenant.raw_dir) if tenant.raw_dir else None,
                "published_at": pd.Timestamp(tenant.published_at).tz_localize(None) if tenant.published_at else pd.NaT,
                "refreshed_at": refreshed,
            }
        )
    frame = pd.DataFrame(rows, columns=COLUMNS)
    figures = {columns[index]: "float64" for columns in HEADLINE_COLUMNS.values() for index in (0, 2)}
    return frame.astype(
        {"failed_checks": "int64", "last_run_at": "datetime64[us]", "published_at": "datetime64[us]", **figures}
    )


def _headlines(headlines: dict[str, dict[str, object]]) -> dict[str, object]:
    row: dict[str, object] = {}
    for asset, (value, baseline, baseline_value) in HEADLINE_COLUMNS.items():
        figure = headlines.get(asset, {})
        row[value] = figure.get("value")
        row[baseline] = figure.get("baseline")
        row[baseline_value] = figure.get("baseline_value")
    return row


def publish_tenant_status(settings: Settings) -> int:
    """Rewrite the operator's table from the registry; runs finishing at once take turns."""
    platform = platform_settings(settings)
    platform.tenant_dir.mkdir(parents=True, exist_ok=True)
    with open(platform.tenant_dir / ".status.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return warehouse_for(platform).write(*STATUS_TABLE, tenant_status(settings))
