"""The ml.customer_segments asset alone, on a customer_rfm mart written by the test."""

from __future__ import annotations

import os

import duckdb
import pandas as pd
import pytest

from orchestration.lineage import registry_for
from retail_intel.settings import Settings
from tests.support import materialize_segments, publish_customer_rfm

MODEL = "default.customer_segmenter"


@pytest.fixture
def settings(tmp_path) -> Settings:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("RETAIL_INTEL_", "MLFLOW_"))}
    return Settings.from_env(env).with_(home=tmp_path / "home")


def published(settings: Settings) -> pd.DataFrame:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return con.execute("select * from ml.customer_segments order by customer_unique_id").df()


def test_the_table_is_written_by_the_champion_and_a_worse_challenger_does_not_replace_it(settings):
    publish_customer_rfm(settings)
    first = materialize_segments(settings)
    assert (first["champion_version"], first["challenger_version"], first["k"]) == ("1", "1", 3)
    assert first["promotion"] == "first version: no champion to beat"
    table = published(settings)
    assert table["model_version"].unique().tolist() == [f"{MODEL}/1"]
    assert sorted(table["cluster"].unique()) == [0, 1, 2]

    # Six clusters on three groups: a lower silhouette on the same customers.
    second = materialize_segments(settings, k=6)
    assert (second["champion_version"], second["challenger_version"], second["k"]) == ("1", "2", 3)
    assert "does not beat champion v1's" in second["promotion"]
    pd.testing.assert_frame_equal(published(settings), table)
    assert second["segment_stability"] == 1.0
    registry = registry_for(settings)
    assert registry.version_for(MODEL, "champion") == "1"
    assert registry.version_for(MODEL, "challenger") == "2"
    run = registry.client.get_run(registry.client.get_model_version(MODEL, "2").run_id)
    assert run.data.metrics["segment_stability"] == 1.0
    assert run.data.params["k"] == "6"
    assert run.data.tags["lineage.as_of_date"] == "2018-09-01"


def stability_check(settings: Settings):
    from orchestration.assets.ml.customer_segments import customer_segments
    from orchestration.resources import WarehouseResource
    from tests.support import materialize

    result = materialize(
        settings, [customer_segments], resources={"warehouse": WarehouseResource.from_settings(settings)}
    )
    (check,) = result.get_asset_check_evaluations()
    return check


def test_segments_that_churn_past_the_tenants_alert_level_warn(settings):
    from retail_intel.warehouse import warehouse_for

    publish_customer_rfm(settings)
    first = stability_check(settings)
    assert first.passed and "first run" in first.metadata["note"].value
    warehouse = warehouse_for(settings)
    arrived = warehouse.read("ml", "segment_movement")
    assert set(arrived["previous_segment"]) == {"(new)"} and arrived["customers"].sum() == 240
    assert stability_check(settings).metadata["value"].value == 1.0

    rfm = warehouse.read("marts", "customer_rfm")
    rotated = {5: 1, 3: 5, 1: 3}  # every group's recency score moves: most customers change segment
    warehouse.write("marts", "customer_rfm", rfm.assign(r_score=rfm["r_score"].map(rotated)))
    churned = stability_check(settings)
    assert not churned.passed and churned.metadata["value"].value < 0.7
    # The movement table says the same: who stayed among the customers of both runs.
    movement = warehouse.read("ml", "segment_movement")
    both = movement[(movement["previous_segment"] != "(new)") & (movement["segment"] != "(gone)")]
    stayed = both[both["previous_segment"] == both["segment"]]["customers"].sum()
    assert stayed / both["customers"].sum() == pytest.approx(churned.metadata["value"].value)
    assert churned.metadata["threshold"].value == 0.7

    # A tenant that expects churn sets its own alert level: the same churn again passes.
    settings.tenant_dir.joinpath("monitoring.yml").write_text("segments:\n  stability_alert: 0.0\n")
    warehouse.write("marts", "customer_rfm", rfm)
    again = stability_check(settings)
    assert again.passed and again.metadata["value"].value < 0.7 and again.metadata["threshold"].value == 0.0
