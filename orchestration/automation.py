"""When the graph runs: nightly, and when new raw files land."""

import dagster as dg

from orchestration.resources import WarehouseResource
from retail_intel.raw.fingerprint import raw_folder_fingerprint
from retail_intel.settings import Settings
from retail_intel.tenants import Tenant, TenantRegistry

everything = dg.define_asset_job("refresh_everything", selection=dg.AssetSelection.all())

# Raw files through the marts, with their gates and no model: what a data engineer reruns after
# changing a dbt model, and what the warehouse tests and the pipeline benchmark run.
warehouse = dg.define_asset_job(
    "build_warehouse",
    selection=dg.AssetSelection.groups("raw").downstream() - dg.AssetSelection.groups("ml", "serving"),
)


def _watched_folder(settings: Settings) -> tuple[Tenant | None, str | None]:
    """The tenant, and why automation must not run for it (None when it may): it reads only
    the tenant's own registered raw folder, and only for an active tenant."""
    tenant = TenantRegistry.of(settings).get(settings.tenant_id)
    if tenant is None or tenant.raw_dir is None:
        return tenant, (
            f"tenant {settings.tenant_id!r} has no raw folder registered (`retail-intel tenants add` or "
            "`retail-intel run --raw-dir`): automation reads no other folder"
        )
    if not tenant.active:
        return tenant, f"tenant {settings.tenant_id!r} is {tenant.status}"
    if settings.raw_dir != tenant.raw_dir:
        return tenant, (
            f"this code location is set to read {settings.raw_dir} (RETAIL_INTEL_RAW_DIR), not the tenant's "
            f"registered raw folder {tenant.raw_dir}: automation reads only the registered folder"
        )
    return tenant, None


# The platform runs overnight and sleeps during the day: the BI dashboards are read in
# business hours against tables that do not change under them.
@dg.schedule(
    job=everything,
    cron_schedule="0 2 * * *",
    execution_timezone="America/Sao_Paulo",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def nightly_refresh(context: dg.ScheduleEvaluationContext, warehouse: WarehouseResource):
    """Every night, the whole graph from the tenant's registered raw folder."""
    _, refused = _watched_folder(warehouse.settings())
    return dg.SkipReason(refused) if refused else dg.RunRequest()


@dg.sensor(job=everything, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING)
def new_raw_files(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    """Starts a full refresh when the tenant's registered raw folder holds a complete set of
    files that differs from the last one published (and from the last one this sensor asked for)."""
    tenant, refused = _watched_folder(warehouse.settings())
    if refused:
        return dg.SkipReason(refused)
    fingerprint = raw_folder_fingerprint(tenant.raw_dir)
    if fingerprint is None:
        return dg.SkipReason(f"{tenant.raw_dir} does not hold all nine Olist files yet")
    if fingerprint in (context.cursor, tenant.published_fingerprint):
        return dg.SkipReason(f"no file in {tenant.raw_dir} changed since it was last published")
    context.update_cursor(fingerprint)
    return dg.RunRequest(run_key=fingerprint)
