"""The bias asset: a state the measured lists never hit is flagged by the check, written to the
table and the HTML report, and attached to the lists' version in MLflow; before any list was
measured it says so and passes."""

import pandas as pd

from orchestration.assets.monitoring.recommender_bias import BIAS_TABLE, REPORT_NAME, recommender_bias
from orchestration.assets.monitoring.recommender_health import OUTCOMES_TABLE
from orchestration.lineage import registry_for
from orchestration.resources import WarehouseResource
from retail_intel.warehouse import warehouse_for
from tests.support import make_settings, materialize, register_recommender


def _run(settings):
    result = materialize(
        settings, [recommender_bias], resources={"warehouse": WarehouseResource.from_settings(settings)}
    )
    assert result.success
    (check,) = result.get_asset_check_evaluations()
    return check


def test_a_state_the_lists_never_hit_is_flagged_reported_and_attached(tmp_path):
    settings = make_settings(tmp_path / "home")
    version = register_recommender(settings, 0.3)
    ids = [f"c{i}" for i in range(300)]
    states = ["RJ" if i % 3 == 0 else "SP" for i in range(300)]
    hits = [0.0 if state == "RJ" else float(i % 2) for i, state in enumerate(states)]
    warehouse = warehouse_for(settings)
    warehouse.write(
        *OUTCOMES_TABLE,
        pd.DataFrame(
            {
                "customer_unique_id": ids,
                "hit": hits,
                "bought": True,
                "expected_hit": 0.3,
                "impressions": 10,
                "lists_as_of": pd.Timestamp("2018-06-30"),
                "model_version": version,
            }
        ),
    )
    warehouse.write("marts", "customer_rfm", pd.DataFrame({"customer_unique_id": ids, "customer_state": states}))
    warehouse.write("ml", "customer_segments", pd.DataFrame({"customer_unique_id": ids, "segment": "Loyal"}))

    check = _run(settings)
    assert not check.passed and check.metadata["flagged_groups"].value == ["customer_state: RJ"]
    table = warehouse.read(*BIAS_TABLE).set_index(["dimension", "group"])
    assert (
        table.loc[("customer_state", "RJ"), "hit_rate"] == 0.0 and table.loc[("segment", "Loyal"), "customers"] == 300
    )
    report = settings.tenant_dir / "reports" / REPORT_NAME
    assert "served much worse than the average: customer_state RJ" in report.read_text()
    model, _, number = version.rpartition("/")
    run_id = registry_for(settings).client.get_model_version(model, number).run_id
    assert REPORT_NAME in [artifact.path for artifact in registry_for(settings).client.list_artifacts(run_id)]

    # The outcomes stay until the next measured window: the next run reports nothing twice.
    again = _run(settings)
    assert again.passed and "reported by an earlier run" in again.metadata["note"].value
    assert again.metadata["judged"].value is False
    assert len(warehouse.read(*BIAS_TABLE)) == len(table)


def test_nothing_measured_yet_passes_and_says_so(tmp_path):
    check = _run(make_settings(tmp_path / "home"))
    assert check.passed and "no lists measured" in check.metadata["note"].value


def test_no_group_flagged_passes(tmp_path):
    settings = make_settings(tmp_path / "home")
    version = register_recommender(settings, 0.3)
    ids = [f"c{i}" for i in range(100)]
    warehouse = warehouse_for(settings)
    outcomes = pd.DataFrame({"customer_unique_id": ids, "hit": [float(i % 2) for i in range(100)], "bought": True})
    outcomes = outcomes.assign(
        expected_hit=0.5, impressions=10, lists_as_of=pd.Timestamp("2018-06-30"), model_version=version
    )
    warehouse.write(*OUTCOMES_TABLE, outcomes)
    warehouse.write("marts", "customer_rfm", pd.DataFrame({"customer_unique_id": ids, "customer_state": "SP"}))
    check = _run(settings)
    assert check.passed and check.metadata["flagged_groups"].value == []
