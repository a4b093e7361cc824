"""Each asset that the single-asset test files do not cover, materialized on its own on tiny data
(the raw files, the dbt models with the marts' quality check, the serving table, the model
metrics); the whole graph runs in test_graph.py (slow tier)."""

from __future__ import annotations

import csv

import dagster as dg
import pandas as pd
import pytest

from orchestration.assets.dbt import build_dbt_assets
from orchestration.assets.ml.model_metrics import REPORT_NAME, model_metrics
from orchestration.assets.raw import raw_olist_files
from orchestration.assets.serving import customer_recommendations
from orchestration.checks.marts_quality import marts_quality
from orchestration.dbt_project import dbt_cli, dbt_project_for
from orchestration.resources import WarehouseResource
from retail_intel.generator import GeneratorConfig, generate
from retail_intel.raw.contract import RAW_FILES
from retail_intel.settings import Settings
from retail_intel.warehouse import MART_TABLES, warehouse_for
from tests.support import make_settings, materialize, materialize_segments, publish_customer_rfm


def resources(settings: Settings) -> dict[str, object]:
    return {"warehouse": WarehouseResource.from_settings(settings), "dbt": dbt_cli(settings)}


@pytest.fixture(scope="module")
def tiny_raw(tmp_path_factory):
    raw_dir = tmp_path_factory.mktemp("raw") / "olist"
    generate(GeneratorConfig(orders=300, seed=11), raw_dir)
    return raw_dir


@pytest.fixture(scope="module")
def raw_published(tmp_path_factory, tiny_raw):
    settings = make_settings(tmp_path_factory.mktemp("home"), raw_dir_override=tiny_raw)
    result = materialize(settings, [raw_olist_files], resources=resources(settings))
    return settings, result


def csv_rows(path) -> int:
    with path.open(newline="", encoding="utf-8") as handle:
        return sum(1 for _ in csv.reader(handle)) - 1


def test_the_raw_files_are_published_after_their_gate_with_their_row_counts(raw_published, tiny_raw):
    settings, result = raw_published
    assert result.success
    materialized = {
        event.asset_key.path[-1]: event.materialization.metadata for event in result.get_asset_materialization_events()
    }
    assert set(materialized) == {raw_file.table_name for raw_file in RAW_FILES}
    warehouse = warehouse_for(settings)
    for raw_file in RAW_FILES:
        expected = csv_rows(tiny_raw / raw_file.file_name)
        assert materialized[raw_file.table_name]["dagster/row_count"].value == expected
        assert len(warehouse.read("raw", raw_file.table_name)) == expected
    checks = result.get_asset_check_evaluations()
    assert checks and all(check.passed for check in checks if check.severity == dg.AssetCheckSeverity.ERROR)


def test_a_raw_file_that_fails_its_gate_publishes_nothing(tmp_path, tiny_raw):
    raw_dir = tmp_path / "raw"
    raw_dir.mkdir()
    for raw_file in RAW_FILES:
        (raw_dir / raw_file.file_name).write_bytes((tiny_raw / raw_file.file_name).read_bytes())
    items = pd.read_csv(raw_dir / "olist_order_items_dataset.csv", dtype=str)
    items.loc[0, "price"] = "-5.00"
    items.to_csv(raw_dir / "olist_order_items_dataset.csv", index=False)
    settings = make_settings(tmp_path / "home", raw_dir_override=raw_dir)

    result = materialize(settings, [raw_olist_files], resources=resources(settings), raise_on_error=False)

    assert not result.success
    failed = [check for check in result.get_asset_check_evaluations() if not check.passed]
    assert "order_items_price_non_negative" in {check.check_name for check in failed}
    assert not warehouse_for(settings).exists("raw", "olist_orders_dataset")


def test_the_dbt_models_build_publish_and_pass_the_marts_quality_check(raw_published, capfd):
    settings, _ = raw_published
    dbt_models = build_dbt_assets(dbt_project_for(settings))
    capfd.readouterr()  # the parse that prepared the manifest
    result = materialize(
        settings,
        [dbt_models, marts_quality],
        resources=resources(settings),
        selection=dg.AssetSelection.groups("staging", "intermediate", "marts"),
    )
    assert result.success
    # The build reuses the prepared parse (a full parse costs about 4 s at any scale).
    dbt_output = capfd.readouterr().out
    assert "Found 21 models" in dbt_output or "Concurrency:" in dbt_output
    assert "Unable to do partial parsing" not in dbt_output
    warehouse = warehouse_for(settings)
    for table in MART_TABLES:
        assert warehouse.exists("marts", table)
    counts = {
        event.asset_key.path[-1]: event.materialization.metadata["dagster/row_count"].value
        for event in result.get_asset_materialization_events()
        if event.asset_key.path[0] == "marts"
    }
    assert counts["orders"] == len(warehouse.read("marts", "orders")) > 0
    evaluations = result.get_asset_check_evaluations()
    gx = [check for check in evaluations if check.asset_check_key.name.startswith(("orders_", "daily_revenue_"))]
    assert gx and all(check.passed for check in gx if check.severity == dg.AssetCheckSeverity.ERROR)


def test_the_serving_table_joins_each_list_with_its_product_and_segment(tmp_path):
    settings = make_settings(tmp_path / "home")
    warehouse_for(settings).write_many(
        {
            ("ml", "recommendations"): pd.DataFrame(
                {
                    "customer_unique_id": ["a", "a", "b"],
                    "product_id": ["p2", "p1", "p1"],
                    "rank": [2, 1, 1],
                    "score": [0.2, 0.9, 0.5],
                    "probability": [0.01, 0.05, 0.02],
                    "model_version": "default.recommender/1",
                    "model_family": "popularity",
                }
            ),
            ("marts", "products"): pd.DataFrame(
                {"product_id": ["p1", "p2"], "category": ["toys", "garden"], "average_price": [10.0, 25.0]}
            ),
            ("ml", "customer_segments"): pd.DataFrame({"customer_unique_id": ["a"], "segment": ["champions"]}),
        }
    )
    result = materialize(settings, [customer_recommendations], resources=resources(settings))
    assert result.success
    table = warehouse_for(settings).read("serving", "customer_recommendations")
    assert table[["customer_unique_id", "product_id", "rank", "category", "average_price"]].values.tolist() == [
        ["a", "p1", 1, "toys", 10.0],
        ["a", "p2", 2, "garden", 25.0],
        ["b", "p1", 1, "toys", 10.0],
    ]
    assert table["segment"].tolist()[:2] == ["champions", "champions"] and pd.isna(table["segment"].iloc[2])


def test_model_metrics_lists_the_champion_and_this_runs_version_with_a_report(settings):
    publish_customer_rfm(settings)
    materialize_segments(settings, k=3)
    materialize_segments(settings, k=6)  # worse: v2 is logged, v1 stays champion

    result = materialize(settings, [model_metrics], resources=resources(settings))

    assert result.success
    table = warehouse_for(settings).read("ml", "model_metrics")
    silhouettes = table.loc[table["metric"] == "silhouette"].set_index("role")["version"].to_dict()
    assert silhouettes == {"champion": 1, "latest": 2}
    report = (settings.tenant_dir / "reports" / REPORT_NAME).read_text()
    assert "default.customer_segmenter" in report and "champion: version 1, latest: version 2" in report


def test_delivery_freshness_warns_when_the_newest_raw_file_is_older_than_the_alert_level(tmp_path, tiny_raw):
    import os
    import shutil
    import time

    raw = tmp_path / "raw"
    shutil.copytree(tiny_raw, raw)
    settings = make_settings(tmp_path / "home", raw_dir_override=raw)

    def freshness():
        result = materialize(settings, [raw_olist_files], resources=resources(settings))
        (check,) = [check for check in result.get_asset_check_evaluations() if check.check_name == "delivery_freshness"]
        return check

    fresh = freshness()
    assert fresh.passed and fresh.metadata["value"].value < 1
    three_days_ago = time.time() - 72 * 3600
    for path in raw.iterdir():
        os.utime(path, (three_days_ago, three_days_ago))
    stale = freshness()
    assert not stale.passed and stale.severity == dg.AssetCheckSeverity.WARN
    assert stale.metadata["value"].value == pytest.approx(72, abs=0.5) and stale.metadata["threshold"].value == 48
