"""One code location, every tenant: a run of partition B, from a code location started for
tenant A, reads B's registered raw folder and writes B's warehouse only; B's bad input fails
B's run alone; a run over a range of tenants, or of a tenant nobody registered, is refused."""

import shutil

import dagster as dg
import pytest

from orchestration.definitions_builder import build_definitions
from orchestration.partitions import TENANT_PARTITIONS, TenantRunError, run_tenant
from retail_intel.tenants import TenantRegistry, resolve
from retail_intel.warehouse import warehouse_for
from tests.support import make_settings


@pytest.fixture(scope="module")
def platform(tmp_path_factory, generated_raw_dir):
    """A home with two registered tenants (bravo's orders repeat an order id) and the code
    location started for acme."""
    root = tmp_path_factory.mktemp("partitions")
    home = root / "home"
    registry = TenantRegistry(home / "platform" / "tenants.sqlite")
    for tenant in ("acme", "bravo"):
        shutil.copytree(generated_raw_dir, root / tenant)
        registry.add(tenant, raw_dir=root / tenant, by="test")
    orders = root / "bravo" / "olist_orders_dataset.csv"
    lines = orders.read_text().splitlines(keepends=True)
    orders.write_text("".join(lines + lines[1:2]))
    acme = make_settings(home, tenant_id="acme")
    job = build_definitions(acme).resolve_job_def("build_warehouse")
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(TENANT_PARTITIONS, ["acme", "bravo", "ghost"])
        yield home, job, instance


def run(job, instance, **options) -> dg.ExecuteInProcessResult:
    return job.execute_in_process(instance=instance, raise_on_error=False, **options)


def test_each_partition_builds_its_own_tenant_and_bad_input_fails_only_its_own(platform):
    home, job, instance = platform
    acme, bravo = (resolve(make_settings(home, tenant_id=tenant)) for tenant in ("acme", "bravo"))

    failed = run(job, instance, partition_key="bravo")
    assert not failed.success
    (failure,) = [event for event in failed.all_events if event.is_step_failure]
    assert failure.step_key == "raw_olist_files"
    assert not warehouse_for(bravo).exists("raw", "olist_orders_dataset"), "nothing of bravo was published"
    assert not acme.warehouse_path.exists(), "bravo's run touched acme's warehouse"

    built = run(job, instance, partition_key="acme")
    assert built.success
    assert warehouse_for(acme).exists("marts", "daily_revenue")
    assert not warehouse_for(bravo).exists("marts", "daily_revenue")
    keys = {event.partition for event in built.get_asset_materialization_events()}
    assert keys == {"acme"}
    # Dagster's own record of the failure names bravo's partition, so the UI shows it there.
    assert instance.get_run_by_id(failed.run_id).tags["dagster/partition"] == "bravo"


def test_a_run_names_exactly_one_registered_tenant(platform):
    home, job, instance = platform
    unregistered = run(job, instance, partition_key="ghost")
    assert not unregistered.success
    (init_failure,) = [event for event in unregistered.all_events if event.event_type_value == "RESOURCE_INIT_FAILURE"]
    assert "tenant 'ghost' is not registered" in str(init_failure.event_specific_data.error)
    assert not (home / "tenants" / "ghost" / "warehouse.duckdb").exists()

    with pytest.raises(TenantRunError, match="one tenant"):
        run_tenant({"dagster/asset_partition_range_start": "acme", "dagster/asset_partition_range_end": "bravo"})
    assert run_tenant({"dagster/partition": "acme"}) == "acme"
    assert run_tenant({}) is None
