"""Helpers the tests share: settings isolated from a developer's environment, and a test
warehouse built the way users build one, through the graph's ``build_warehouse`` job (raw
files through the marts, with their quality gates), in this process; and a customer_rfm mart
with a known best segmentation, for the segment asset's tests."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd

from orchestration.assets.ml.customer_segments import customer_segments
from orchestration.partitions import ensure_partition
from orchestration.resources import WarehouseResource
from orchestration.runner import GraphRunReport, run_graph
from retail_intel.settings import Settings
from retail_intel.warehouse import warehouse_for

# Screenshots and pages the browser tests keep for a person to look at.
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(
    command: list[str], env: dict[str, str], log: Path, ready_url: str, timeout: float
) -> subprocess.Popen:
    """A server process, once ``ready_url`` answers; the test fails with its log otherwise."""
    import pytest

    with log.open("w") as output:  # the child keeps its own descriptor
        server = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"{command[0]} exited with {server.returncode}: {log.read_text()[-2000:]}")
        try:
            urllib.request.urlopen(ready_url, timeout=2).read()
            return server
        except OSError:
            time.sleep(1)
    server.kill()
    server.wait(timeout=30)
    pytest.fail(f"{command[0]} did not answer {ready_url} within {timeout:.0f} s: {log.read_text()[-2000:]}")


def clean_env() -> dict[str, str]:
    """The process environment without any retail-intel variables a developer may have set."""
    return {key: value for key, value in os.environ.items() if not key.startswith("RETAIL_INTEL_")}


def make_settings(home: Path, **changes) -> Settings:
    return Settings.from_env(clean_env()).with_(home=home, **changes)


def build_warehouse(settings: Settings, **options) -> GraphRunReport:
    """The job's report, failed or not."""
    return run_graph(settings, job_name="build_warehouse", log=lambda _: None, **options)


def built_warehouse(settings: Settings, **options) -> GraphRunReport:
    """The job's report; the test fails here, with the steps' messages, if the build did not succeed."""
    report = build_warehouse(settings, **options)
    assert report.success, report.failures
    return report


def publish_customer_rfm(settings: Settings, customers: int = 240) -> None:
    """A customer_rfm mart of three well-separated groups of customers: k = 3 is the best segmentation by far."""
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


def materialize(settings: Settings, assets: list, **options) -> dg.ExecuteInProcessResult:
    """``dg.materialize`` of the settings' tenant: its partition, in a throwaway instance unless one is given."""
    instance = options.pop("instance", None) or dg.DagsterInstance.ephemeral()
    ensure_partition(instance, settings.tenant_id)
    return dg.materialize(assets, instance=instance, partition_key=settings.tenant_id, **options)


def materialize_segments(settings: Settings, **config: object) -> dict[str, object]:
    result = materialize(
        settings,
        [customer_segments],
        resources={"warehouse": WarehouseResource.from_settings(settings)},
        run_config={"ops": {"customer_segments": {"config": config}}},
    )
    assert result.success
    (materialization,) = [
        event
        for event in result.asset_materializations_for_node("customer_segments")
        if event.asset_key.path == ["ml", "customer_segments"]
    ]
    return {key: value.value for key, value in materialization.metadata.items()}


class _Constant:
    def predict(self, frame: pd.DataFrame) -> pd.Series:
        return pd.Series(0.0, index=frame.index)


def register_recommender(settings: Settings, hr_at_10: float) -> str:
    """A recommender version in the tenant's registry that promised ``hr_at_10`` over its test
    window and over the 14 days monitoring measures; its label."""
    from orchestration.lineage import registry_for

    logged = registry_for(settings).log_model_version(
        model_name=f"{settings.tenant_id}.recommender",
        model=_Constant(),
        input_example=pd.DataFrame({"customer_unique_id": ["c0"]}),
        params={},
        metrics={"hr_at_10": hr_at_10, "hr_at_10_14d": hr_at_10},
        lineage={"as_of_date": "2018-06-30"},
    )
    return f"{settings.tenant_id}.recommender/{logged.version}"
