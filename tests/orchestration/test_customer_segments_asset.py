"""The ml.customer_segments asset alone, on a customer_rfm mart written by the test."""

from __future__ import annotations

import os

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pytest

from orchestration.assets.ml.customer_segments import customer_segments
from orchestration.lineage import registry_for
from orchestration.resources import WarehouseResource
from retail_intel.settings import Settings
from retail_intel.warehouse import warehouse_for

MODEL = "default.customer_segmenter"


@pytest.fixture
def settings(tmp_path) -> Settings:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("RETAIL_INTEL_", "MLFLOW_"))}
    return Settings.from_env(env).with_(home=tmp_path / "home")


def publish_customer_rfm(settings: Settings, customers: int = 240) -> None:
    """Three well-separated groups of customers: k = 3 is the best segmentation by far."""
    rng = np.random.default_rng(0)
    group = np.arange(customers) % 3
    recency = np.array([20.0, 200.0, 500.0])[group] * rng.uniform(0.9, 1.1, customers)
    frequency = np.array([6, 2, 1])[group]
    monetary = np.array([900.0, 150.0, 30.0])[group] * rng.uniform(0.9, 1.1, customers)
    rfm = pd.DataFrame(
        {
            "customer_unique_id": [f"c{i:04d}" for i in range(customers)],
            "recency_days": recency.round().astype("int64"),
            "frequency": frequency.astype("int64"),
            "monetary": monetary,
            "r_score": np.array([5, 3, 1])[group],
            "f_score": np.array([5, 3, 1])[group],
            "as_of_date": pd.Timestamp("2018-09-01"),
        }
    )
    warehouse_for(settings).write("marts", "customer_rfm", rfm)


def materialize(settings: Settings, **config: object) -> dict[str, object]:
    result = dg.materialize(
        [customer_segments],
        resources={"warehouse": WarehouseResource.from_settings(settings)},
        run_config={"ops": {"customer_segments": {"config": config}}},
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    (materialization,) = [
        event
        for event in result.asset_materializations_for_node("customer_segments")
        if event.asset_key.path == ["ml", "customer_segments"]
    ]
    return {key: value.value for key, value in materialization.metadata.items()}


def published(settings: Settings) -> pd.DataFrame:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return con.execute("select * from ml.customer_segments order by customer_unique_id").df()


def test_the_table_is_written_by_the_champion_and_a_worse_challenger_does_not_replace_it(settings):
    publish_customer_rfm(settings)
    first = materialize(settings)
    assert (first["champion_version"], first["challenger_version"], first["k"]) == ("1", "1", 3)
    assert first["promotion"] == "first version: no champion to beat"
    table = published(settings)
    assert table["model_version"].unique().tolist() == [f"{MODEL}/1"]
    assert sorted(table["cluster"].unique()) == [0, 1, 2]

    # Six clusters on three groups: a lower silhouette on the same customers.
    second = materialize(settings, k=6)
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
