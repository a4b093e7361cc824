"""When the graph runs: nightly and when new raw files land, for every registered tenant, each
in a run of its own partition; and which partitions exist: the registry's tenants."""

import json

import dagster as dg

from orchestration.partitions import TENANT_PARTITIONS, partition_changes, tenants
from orchestration.resources import WarehouseResource
from retail_intel.raw.fingerprint import raw_folder_fingerprint
from retail_intel.settings import Settings
from retail_intel.tenants import Tenant, TenantRegistry

everything = dg.define_asset_job("refresh_everything", selection=dg.AssetSelection.all())

# Raw files through the marts, with their gates and no model: what a data engineer reruns after
# changing a dbt model, and what the warehouse tests and the pipeline benchmark run.
warehouse = dg.define_asset_job(
    "build_warehouse",
    # Only what a run builds: the exposures downstream of the marts are shown, never run.
    selection=(
        dg.AssetSelection.groups("raw").downstream() - dg.AssetSelection.groups("ml", "serving", "monitoring", "bi")
    ).materializable(),
)

_UNREGISTERED = (
    "tenant {!r} has no raw folder registered (`retail-intel tenants add` or `retail-intel run --raw-dir`): "
    "automation reads no other folder"
)


def _refusal(settings: Settings, tenant: Tenant) -> str | None:
    """Why automation must not run this tenant (None when it may): it reads only the tenant's
    own registered raw folder, and only for an active tenant. ``settings`` are the code
    location's: a raw folder given to it (RETAIL_INTEL_RAW_DIR) is its own tenant's."""
    if tenant.raw_dir is None:
        return _UNREGISTERED.format(tenant.tenant_id)
    if not tenant.active:
        return f"tenant {tenant.tenant_id!r} is {tenant.status}"
    if tenant.tenant_id == settings.tenant_id and settings.raw_dir != tenant.raw_dir:
        return (
            f"this code location is set to read {settings.raw_dir} (RETAIL_INTEL_RAW_DIR), not the tenant's "
            f"registered raw folder {tenant.raw_dir}: automation reads only the registered folder"
        )
    return None


def _automated(settings: Settings) -> tuple[list[Tenant], list[str]]:
    """The registered tenants automation may run, and why it leaves out the others."""
    registry = TenantRegistry.of(settings)
    allowed, refusals = [], []
    if registry.get(settings.tenant_id) is None:
        refusals.append(_UNREGISTERED.format(settings.tenant_id))
    for tenant in registry.list(include_archived=True):
        refused = _refusal(settings, tenant)
        if refused is None:
            allowed.append(tenant)
        else:
            refusals.append(refused)
    return allowed, refusals


def _cursor(cursor: str | None) -> dict[str, str]:
    # Before tenants were partitions the cursor was one fingerprint: asking again is harmless.
    try:
        asked = json.loads(cursor) if cursor else {}
    except ValueError:
        return {}
    return asked if isinstance(asked, dict) else {}


def _skip(refusals: list[str], default: str) -> dg.SkipReason:
    return dg.SkipReason("; ".join(refusals) or default)


@dg.sensor(minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING)
def tenant_partitions(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    """Keeps the `tenant` partitions equal to the registry: `tenants add` adds one, `tenants
    remove --purge` deletes it (an archived tenant keeps its partition and its history)."""
    added, deleted = partition_changes(context.instance, TenantRegistry.of(warehouse.settings()))
    if not added and not deleted:
        return dg.SkipReason("the tenant partitions are the registry's tenants")
    requests = []
    if added:
        requests.append(tenants.build_add_request(added))
    if deleted:
        requests.append(tenants.build_delete_request(deleted))
    return dg.SensorResult(dynamic_partitions_requests=requests)


# The platform runs overnight and sleeps during the day: the BI dashboards are read in
# business hours against tables that do not change under them.
@dg.schedule(
    job=everything,
    cron_schedule="0 2 * * *",
    execution_timezone="America/Sao_Paulo",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def nightly_refresh(context: dg.ScheduleEvaluationContext, warehouse: WarehouseResource):
    """Every night, the whole graph for every active tenant, each from its registered raw folder
    in a run of its own (queued: the instance runs a few at once, one per tenant)."""
    allowed, refusals = _automated(warehouse.settings())
    if not allowed:
        return _skip(refusals, "no active tenant")
    # A tenant added since the partition sensor last ran gets its run tomorrow.
    partitions = set(context.instance.get_dynamic_partitions(TENANT_PARTITIONS))
    requests = [
        dg.RunRequest(partition_key=tenant.tenant_id, tags={"retail_intel/tenant": tenant.tenant_id})
        for tenant in allowed
        if tenant.tenant_id in partitions
    ]
    return requests or _skip(refusals, "no active tenant has a partition yet")


@dg.sensor(job=everything, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING)
def new_raw_files(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    """Starts a full refresh of each tenant whose registered raw folder holds a complete set of
    files that differs from the last one published (and from the last one this sensor asked for).
    The cursor keeps, per tenant, the fingerprint last asked for."""
    allowed, refusals = _automated(warehouse.settings())
    asked = _cursor(context.cursor)
    requests = []
    for tenant in allowed:
        fingerprint = raw_folder_fingerprint(tenant.raw_dir)
        if fingerprint is None:
            refusals.append(f"{tenant.raw_dir} does not hold all nine Olist files yet")
        elif fingerprint in (asked.get(tenant.tenant_id), tenant.published_fingerprint):
            refusals.append(f"no file in {tenant.raw_dir} changed since it was last published")
        else:
            asked[tenant.tenant_id] = fingerprint
            requests.append(
                dg.RunRequest(
                    run_key=f"{tenant.tenant_id}:{fingerprint}",
                    partition_key=tenant.tenant_id,
                    tags={"retail_intel/tenant": tenant.tenant_id},
                )
            )
    if not requests:
        return _skip(refusals, "no active tenant")
    partitions = set(context.instance.get_dynamic_partitions(TENANT_PARTITIONS))
    new_partitions = [request.partition_key for request in requests if request.partition_key not in partitions]
    return dg.SensorResult(
        run_requests=requests,
        cursor=json.dumps(asked, sort_keys=True),
        dynamic_partitions_requests=[tenants.build_add_request(new_partitions)] if new_partitions else [],
    )
