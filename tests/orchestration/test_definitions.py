"""The code location: every layer is there as assets, with checks, a schedule and a sensor."""

import importlib.metadata
import os
import shutil

import dagster as dg
import pytest

from orchestration.automation import new_raw_files, nightly_refresh, tenant_partitions
from orchestration.definitions_builder import build_definitions
from orchestration.partitions import TENANT_PARTITIONS, sync_partitions, tenants
from orchestration.resources import WarehouseResource
from retail_intel.raw.contract import RAW_FILES
from retail_intel.raw.fingerprint import raw_folder_fingerprint
from retail_intel.tenants import TenantRegistry


@pytest.fixture(scope="module")
def definitions(tmp_path_factory):
    from retail_intel.settings import Settings

    settings = Settings.from_env({k: v for k, v in os.environ.items() if not k.startswith("RETAIL_INTEL_")}).with_(
        home=tmp_path_factory.mktemp("defs-home")
    )
    return build_definitions(settings)


def test_groups_mirror_the_layers(definitions):
    graph = definitions.get_repository_def().asset_graph
    groups: dict[str, set[str]] = {}
    for key in graph.get_all_asset_keys():
        groups.setdefault(graph.get(key).group_name, set()).add("/".join(key.path))
    assert set(groups) == {"raw", "staging", "intermediate", "marts", "ml", "serving", "monitoring", "bi"}
    assert groups["bi"] == {"bi/retail_intel_dashboard", "bi/tableau_data_sources"}
    assert groups["raw"] == {f"raw/{f.table_name}" for f in RAW_FILES}
    assert {"marts/daily_revenue", "marts/customer_rfm", "marts/user_item_interactions"} <= groups["marts"]
    assert {"ml/revenue_forecast", "ml/customer_segments", "ml/recommendations"} <= groups["ml"]


def test_the_code_location_loads_as_the_webserver_loads_it(definitions):
    # Resolves every job's selection, as `dagster dev` does: a selection naming an asset that no
    # run builds (an exposure) fails here rather than as an empty UI.
    dg.Definitions.validate_loadable(definitions)


def test_lineage_runs_from_files_to_score_tables(definitions):
    graph = definitions.get_repository_def().asset_graph
    upstream = graph.get(dg.AssetKey(["staging", "stg_olist__orders"])).parent_keys
    assert dg.AssetKey(["raw", "olist_orders_dataset"]) in upstream
    assert dg.AssetKey(["marts", "daily_revenue"]) in graph.get(dg.AssetKey(["ml", "revenue_forecast"])).parent_keys


def test_dbt_tests_and_quality_suites_are_asset_checks(definitions):
    checks = definitions.get_repository_def().asset_graph.asset_check_keys
    names = {(tuple(key.asset_key.path), key.name) for key in checks}
    assert any(path == ("marts", "orders") and name.startswith("unique_orders_order_id") for path, name in names)
    assert (("raw", "olist_orders_dataset"), "orders_order_id_unique") in names
    assert any(path == ("marts", "daily_revenue") for path, name in names if "calendar" in name or "gap" in name)


def test_schedule_and_sensors(definitions):
    assert [s.cron_schedule for s in definitions.schedules] == ["0 2 * * *"]
    assert [s.name for s in definitions.schedules] == ["nightly_refresh"]
    assert sorted(s.name for s in definitions.sensors) == [
        "alerts_after_failure",
        "alerts_after_success",
        "new_raw_files",
        "tenant_partitions",
    ]


def test_every_asset_is_partitioned_by_tenant_one_tenant_per_run(definitions):
    graph = definitions.get_repository_def().asset_graph
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if not node.is_executable:
            continue  # the exposures and ml/coupon_targets: shown in the lineage, not built by a run
        assert node.partitions_def == tenants, key
        assert node.backfill_policy.max_partitions_per_run == 1, key


def evaluate(sensor_or_schedule, warehouse: WarehouseResource, instance: dg.DagsterInstance, cursor: str | None = None):
    # The contexts are closed after use: a schedule's context opens an instance of its own, and
    # Dagster keeps a process-wide reference to its storage until that instance is closed.
    if sensor_or_schedule is nightly_refresh:
        with dg.build_schedule_context(resources={"warehouse": warehouse}, instance=instance) as context:
            return nightly_refresh(context)
    with dg.build_sensor_context(cursor=cursor, resources={"warehouse": warehouse}, instance=instance) as context:
        return sensor_or_schedule(context)


def requested(evaluation) -> dict[str, dg.RunRequest]:
    """The runs an evaluation asks for, by tenant (empty for a SkipReason)."""
    if isinstance(evaluation, dg.SkipReason):
        return {}
    requests = evaluation.run_requests if isinstance(evaluation, dg.SensorResult) else evaluation
    return {request.partition_key: request for request in requests}


@pytest.fixture
def instance():
    # Persistent (in a temporary folder): a schedule's context refuses an ephemeral instance.
    with dg.instance_for_test() as instance:
        yield instance


def test_the_partitions_follow_the_registry(tmp_path, generated_raw_dir, instance):
    home = tmp_path / "home"
    registry = TenantRegistry(home / "platform" / "tenants.sqlite")
    warehouse = WarehouseResource(home=str(home), tenant_id="default", target="duckdb")
    assert isinstance(evaluate(tenant_partitions, warehouse, instance), dg.SkipReason)
    for tenant in ("acme", "bravo", "carla"):
        registry.add(tenant, raw_dir=generated_raw_dir, by="test")
    registry.set_status("carla", "archived", by="test")
    instance.add_dynamic_partitions(TENANT_PARTITIONS, ["gone"])  # purged from the registry since

    result = evaluate(tenant_partitions, warehouse, instance)
    changes = {
        (request.partitions_def_name, type(request).__name__): request.partition_keys
        for request in result.dynamic_partitions_requests
    }
    assert changes == {
        ("tenant", "AddDynamicPartitionsRequest"): ["acme", "bravo", "carla"],
        ("tenant", "DeleteDynamicPartitionsRequest"): ["gone"],
    }
    sync_partitions(instance, registry)  # what `retail-intel dev` does before the UI starts
    assert sorted(instance.get_dynamic_partitions(TENANT_PARTITIONS)) == ["acme", "bravo", "carla"]
    assert isinstance(evaluate(tenant_partitions, warehouse, instance), dg.SkipReason)


def test_automation_runs_each_active_tenant_in_its_own_partition(tmp_path, generated_raw_dir, instance):
    home = tmp_path / "home"
    registry = TenantRegistry(home / "platform" / "tenants.sqlite")
    raws = {}
    for tenant in ("acme", "bravo", "carla"):
        raws[tenant] = tmp_path / tenant
        shutil.copytree(generated_raw_dir, raws[tenant])
        registry.add(tenant, raw_dir=raws[tenant], by="test")
    registry.set_status("carla", "archived", by="test")
    warehouse = WarehouseResource(home=str(home), tenant_id="acme", target="duckdb")
    first = evaluate(new_raw_files, warehouse, instance)
    assert set(requested(first)) == {"acme", "bravo"}
    assert first.dynamic_partitions_requests[0].partition_keys == ["acme", "bravo"]
    instance.add_dynamic_partitions(TENANT_PARTITIONS, ["acme", "bravo", "carla"])

    nightly = requested(evaluate(nightly_refresh, warehouse, instance))
    assert set(nightly) == {"acme", "bravo"}, "an archived tenant is never run"

    # Only bravo's folder changes: only bravo is asked for again.
    orders = raws["bravo"] / "olist_orders_dataset.csv"
    orders.write_text(orders.read_text() + "\n")
    again = evaluate(new_raw_files, warehouse, instance, cursor=first.cursor)
    assert set(requested(again)) == {"bravo"}
    assert requested(again)["bravo"].run_key != requested(first)["bravo"].run_key


def test_the_sensor_requests_a_run_when_the_registered_folder_changes(tmp_path, generated_raw_dir, instance):
    raw = tmp_path / "raw"
    shutil.copytree(generated_raw_dir, raw)
    home = tmp_path / "home"
    warehouse = WarehouseResource(home=str(home), tenant_id="default", target="duckdb")
    unregistered = evaluate(new_raw_files, warehouse, instance)
    assert isinstance(unregistered, dg.SkipReason) and "no raw folder registered" in unregistered.skip_message

    registry = TenantRegistry(home / "platform" / "tenants.sqlite")
    registry.add("default", raw_dir=raw, by="test")
    first = evaluate(new_raw_files, warehouse, instance)
    assert set(requested(first)) == {"default"}
    assert isinstance(evaluate(new_raw_files, warehouse, instance, cursor=first.cursor), dg.SkipReason)

    orders = raw / "olist_orders_dataset.csv"
    orders.write_text(orders.read_text() + "\n")
    changed = evaluate(new_raw_files, warehouse, instance, cursor=first.cursor)
    assert requested(changed)["default"].run_key != requested(first)["default"].run_key

    # Published (a run recorded it): a new Dagster instance (no cursor) must not rebuild it.
    registry.record_publish("default", raw, raw_folder_fingerprint(raw))
    published = evaluate(new_raw_files, warehouse, instance)
    assert isinstance(published, dg.SkipReason) and "changed since it was last published" in published.skip_message

    orders.unlink()
    incomplete = evaluate(new_raw_files, warehouse, instance, cursor=changed.cursor)
    assert isinstance(incomplete, dg.SkipReason) and "nine" in str(incomplete.skip_message)


def test_automation_reads_only_the_registered_folder_of_an_active_tenant(tmp_path, generated_raw_dir, instance):
    """A code location started with another raw folder (RETAIL_INTEL_RAW_DIR, or none: the
    shipped sample) never builds the tenant from it; an archived tenant is left alone."""
    home = tmp_path / "home"
    registry = TenantRegistry(home / "platform" / "tenants.sqlite")
    registry.add("default", raw_dir=generated_raw_dir, by="test")
    elsewhere = WarehouseResource(home=str(home), tenant_id="default", target="duckdb", raw_dir=str(tmp_path))
    registered = WarehouseResource(home=str(home), tenant_id="default", target="duckdb")
    instance.add_dynamic_partitions(TENANT_PARTITIONS, ["default"])
    for automation in (new_raw_files, nightly_refresh):
        refused = evaluate(automation, elsewhere, instance)
        assert isinstance(refused, dg.SkipReason), automation
        assert (
            str(generated_raw_dir) in refused.skip_message
            and "reads only the registered folder" in refused.skip_message
        )
        assert set(requested(evaluate(automation, registered, instance))) == {"default"}, automation

    registry.set_status("default", "archived", by="test")
    for automation in (new_raw_files, nightly_refresh):
        archived = evaluate(automation, registered, instance)
        assert isinstance(archived, dg.SkipReason) and "archived" in archived.skip_message


def test_the_dbt_resource_skips_what_dagster_dbt_does_before_each_command(settings):
    """dagster-dbt runs `dbt --version` and loads dbt's adapter before every command (3.5 s a
    build); DbtCli overrides the private names it does it with, so they must still be there."""
    from dagster_dbt import DbtCliResource

    from orchestration.dbt_project import DbtCli, dbt_cli

    assert {"_cli_version", "_initialize_dbt_core_adapter"} <= set(vars(DbtCliResource))
    resource = dbt_cli(settings)
    assert isinstance(resource, DbtCli)
    assert str(resource._cli_version) == importlib.metadata.version("dbt-core")
    assert resource._initialize_dbt_core_adapter(["build"]) is None
