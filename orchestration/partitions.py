"""The tenant as a Dagster partition: one code location and one instance serve every client.

Every asset is partitioned by the dynamic partitions definition ``tenant``, whose keys are
the registry's tenant ids (kept equal to it by the ``tenant_partitions`` sensor, and by every
``retail-intel run`` for its own tenant). A run materializes exactly one tenant: the
warehouse resource reads the run's partition and works in that tenant's warehouse, raw
folder and models (orchestration/resources.py). Thousands of tenants stay thousands of
partition keys of some forty assets, not forty thousand assets: a code location with that
many assets takes minutes to load.

Outside a run (sensors, schedules) the warehouse resource is the code location's own tenant,
the one its settings name; tests materialize a tenant's partition (tests/support.materialize).
"""

from __future__ import annotations

import warnings

import dagster as dg

from retail_intel.tenants import TenantRegistry

TENANT_PARTITIONS = "tenant"

tenants = dg.DynamicPartitionsDefinition(name=TENANT_PARTITIONS)

# A run holds one tenant's warehouse: a backfill over every tenant is one run per tenant,
# queued under the instance's run concurrency limits (runner.prepare_dagster_home).
one_tenant_per_run = dg.BackfillPolicy.multi_run(max_partitions_per_run=1)

PARTITIONED = {"partitions_def": tenants, "backfill_policy": one_tenant_per_run}

# Dagster marks the assets' backfill_policy parameter as beta and says so once per asset, on
# every command's terminal; the policy is what a backfill over thousands of tenants needs.
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=dg.BetaWarning)


class TenantRunError(ValueError):
    """A run that names more than one tenant, or none that is registered."""


def run_tenant(tags: dict[str, str]) -> str | None:
    """The tenant a run materializes, from its tags; None for a run without a partition."""
    start = tags.get("dagster/asset_partition_range_start")
    end = tags.get("dagster/asset_partition_range_end")
    if start is not None or end is not None:
        if start != end:
            raise TenantRunError(
                f"a run materializes one tenant, not the range {start!r} to {end!r}: "
                "backfill every tenant as one run per tenant (the assets' backfill policy does)"
            )
        return start
    return tags.get("dagster/partition")


def partition_changes(instance: dg.DagsterInstance, registry: TenantRegistry) -> tuple[list[str], list[str]]:
    """The tenant partitions to add and to delete so that they are the registry's tenants,
    archived ones included (their history stays browsable until they are purged)."""
    registered = {tenant.tenant_id for tenant in registry.list(include_archived=True)}
    existing = set(instance.get_dynamic_partitions(TENANT_PARTITIONS))
    return sorted(registered - existing), sorted(existing - registered)


def ensure_partition(instance: dg.DagsterInstance, tenant_id: str) -> None:
    if not instance.has_dynamic_partition(TENANT_PARTITIONS, tenant_id):
        instance.add_dynamic_partitions(TENANT_PARTITIONS, [tenant_id])


def sync_partitions(instance: dg.DagsterInstance, registry: TenantRegistry) -> None:
    added, deleted = partition_changes(instance, registry)
    if added:
        instance.add_dynamic_partitions(TENANT_PARTITIONS, added)
    for tenant_id in deleted:
        instance.delete_dynamic_partition(TENANT_PARTITIONS, tenant_id)
