"""The code location: every layer is there as assets, with checks, a schedule and a sensor."""

import importlib.metadata
import os
import shutil

import dagster as dg
import pytest

from orchestration.automation import new_raw_files
from orchestration.definitions_builder import build_definitions
from orchestration.resources import WarehouseResource
from retail_intel.raw.contract import RAW_FILES


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
    assert set(groups) == {"raw", "staging", "intermediate", "marts", "ml", "serving"}
    assert groups["raw"] == {f"raw/{f.table_name}" for f in RAW_FILES}
    assert {"marts/daily_revenue", "marts/customer_rfm", "marts/user_item_interactions"} <= groups["marts"]
    assert {"ml/revenue_forecast", "ml/customer_segments", "ml/recommendations"} <= groups["ml"]


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


def test_schedule_and_sensor(definitions):
    assert [s.cron_schedule for s in definitions.schedules] == ["0 2 * * *"]
    assert [s.name for s in definitions.sensors] == ["new_raw_files"]


def test_sensor_requests_a_run_only_when_files_change(tmp_path, generated_raw_dir):
    raw = tmp_path / "raw"
    shutil.copytree(generated_raw_dir, raw)
    warehouse = WarehouseResource(home=str(tmp_path / "home"), tenant_id="default", target="duckdb", raw_dir=str(raw))

    first = new_raw_files(dg.build_sensor_context(resources={"warehouse": warehouse}))
    assert isinstance(first, dg.RunRequest)
    again = new_raw_files(dg.build_sensor_context(cursor=first.run_key, resources={"warehouse": warehouse}))
    assert isinstance(again, dg.SkipReason)

    orders = raw / "olist_orders_dataset.csv"
    orders.write_text(orders.read_text() + "\n")
    changed = new_raw_files(dg.build_sensor_context(cursor=first.run_key, resources={"warehouse": warehouse}))
    assert isinstance(changed, dg.RunRequest) and changed.run_key != first.run_key

    orders.unlink()
    incomplete = new_raw_files(dg.build_sensor_context(cursor=first.run_key, resources={"warehouse": warehouse}))
    assert isinstance(incomplete, dg.SkipReason) and "nine" in str(incomplete.skip_message)


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
