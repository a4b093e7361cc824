"""The data-drift asset on an orders mart with known truth: a shifted last month trips the
check (a warning, with the report linked) and is appended to monitoring.drift; an unchanged
one does not; too short a history measures nothing and says why."""

import os

import dagster as dg
import numpy as np
import pandas as pd

from orchestration.assets.monitoring.data_drift import DRIFT_TABLE, data_drift
from orchestration.resources import WarehouseResource
from retail_intel.warehouse import warehouse_for
from tests.support import make_settings, materialize


def orders(days: int, shifted_days: int = 0, seed: int = 0) -> pd.DataFrame:
    """Four orders a day; in the last ``shifted_days`` orders cost twice as much and come from RJ."""
    rng = np.random.default_rng(seed)
    when = pd.date_range("2018-01-01", periods=days, freq="D").repeat(4)
    late = when >= when.max() - pd.Timedelta(days=shifted_days - 1) if shifted_days else np.zeros(len(when), bool)
    items = rng.integers(1, 4, len(when))
    value = rng.gamma(4.0, 30.0, len(when)) * np.where(late, 2.0, 1.0)
    return pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(len(when))],
            "purchased_at": when + pd.to_timedelta(rng.integers(0, 86_000, len(when)), unit="s"),
            "is_revenue": True,
            "items_count": items,
            "items_value": value * 0.9,
            "order_value": value,
            "customer_state": np.where(late, "RJ", rng.choice(["SP", "MG", "RJ"], len(when), p=[0.6, 0.3, 0.1])),
            "main_payment_type": rng.choice(["credit_card", "boleto"], len(when), p=[0.75, 0.25]),
        }
    )


def run(settings) -> tuple[dict, dg.AssetCheckEvaluation]:
    result = materialize(settings, [data_drift], resources={"warehouse": WarehouseResource.from_settings(settings)})
    assert result.success
    (materialization,) = result.get_asset_materialization_events()
    (check,) = result.get_asset_check_evaluations()
    metadata = {key: value.value for key, value in materialization.materialization.metadata.items()}
    return metadata, check


def test_a_shifted_month_trips_the_check_and_is_kept_in_the_history(tmp_path):
    settings = make_settings(tmp_path / "home")
    warehouse_for(settings).write("marts", "orders", orders(240, shifted_days=30))
    metadata, check = run(settings)
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert set(metadata["drifted_features"]) >= {"order_value", "customer_state", "average_item_price"}
    assert "basket_size" not in metadata["drifted_features"] and "main_payment_type" not in metadata["drifted_features"]
    report = settings.tenant_dir / "reports" / "drift.html"
    assert check.metadata["report_path"].value == str(report) and "the data set drifted" in report.read_text()

    run(settings)  # a second run adds its rows to the history
    history = warehouse_for(settings).read(*DRIFT_TABLE)
    assert len(history) == 10 and history["run_id"].nunique() == 2
    assert set(history["tenant_id"]) == {"default"}


def test_an_unchanged_month_passes(tmp_path):
    settings = make_settings(tmp_path / "home")
    warehouse_for(settings).write("marts", "orders", orders(240, seed=3))
    metadata, check = run(settings)
    assert check.passed and metadata["dataset_drifted"] is False


def test_too_short_a_history_measures_nothing_and_says_so(tmp_path):
    settings = make_settings(tmp_path / "home")
    warehouse_for(settings).write("marts", "orders", orders(35))
    metadata, check = run(settings)
    assert check.passed and "too few orders to compare" in metadata["skipped_reason"]
    assert not warehouse_for(settings).exists(*DRIFT_TABLE)


def test_monitor_prints_the_latest_drift_and_the_open_alerts(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from apps.cli import main
    from retail_intel.alerts import AlertLedger, CheckOutcome

    for key in [key for key in os.environ if key.startswith("RETAIL_INTEL_")]:
        monkeypatch.delenv(key)
    settings = make_settings(tmp_path / "home")
    before = CliRunner().invoke(main, ["--home", str(settings.home), "monitor"])
    assert before.exit_code == 0 and "not measured yet" in before.output and "open alerts    none" in before.output

    warehouse_for(settings).write("marts", "orders", orders(240, shifted_days=30))
    run(settings)
    AlertLedger(settings.alert_ledger_path).open(CheckOutcome("default", "monitoring/drift:data_drift", False), "now")
    shown = CliRunner().invoke(main, ["--home", str(settings.home), "monitor"]).output
    assert "data drift     DRIFTED" in shown and "open alerts    1" in shown and "monitoring/drift:data_drift" in shown
    assert any(line.split()[:2] == ["order_value", "drifted"] for line in shown.splitlines()), shown


def test_the_health_checks_of_a_run_are_kept_one_row_each(tmp_path):
    from orchestration.assets.ml.customer_segments import customer_segments
    from orchestration.assets.monitoring.model_health import HEALTH_TABLE, model_health
    from tests.support import publish_customer_rfm

    settings = make_settings(tmp_path / "home")
    publish_customer_rfm(settings)
    warehouse_for(settings).write("marts", "orders", orders(240, shifted_days=30))
    resources = {"warehouse": WarehouseResource.from_settings(settings)}
    for _ in range(2):
        result = materialize(settings, [customer_segments, data_drift, model_health], resources=resources)
        assert result.success
    health = warehouse_for(settings).read(*HEALTH_TABLE)
    assert len(health) == 4 and health["run_id"].nunique() == 2
    latest = health.loc[health["run_id"] == result.run_id].set_index("check_name")
    assert not latest.loc["data_drift", "passed"] and latest.loc["data_drift", "threshold"] == 0.5
    assert latest.loc["segment_stability", "passed"] and latest.loc["segment_stability", "figure"] == 1.0
    assert set(health["severity"]) == {"WARN"} and set(health["tenant_id"]) == {"default"}


def test_concept_drift_fires_on_a_lasting_rise_of_the_forecasts_error_not_on_one_bad_week(tmp_path):
    from orchestration.assets.monitoring.model_health import COLUMNS, HEALTH_TABLE, model_health

    settings = make_settings(tmp_path / "home")

    def history(excess: list[float]) -> pd.DataFrame:
        return pd.DataFrame(
            [
                {
                    "tenant_id": "default",
                    "run_id": f"r{index}",
                    "checked_at": pd.Timestamp("2018-06-01") + pd.Timedelta(days=7 * index),
                    "asset": "ml/revenue_forecast",
                    "check_name": "forecast_accuracy",
                    "passed": True,
                    "severity": "WARN",
                    "figure": 0.2 + value,
                    "threshold": 0.25,
                    "expected": 0.2,
                }
                for index, value in enumerate(excess)
            ],
            columns=COLUMNS,
        )

    def concept_drift(excess: list[float]):
        warehouse_for(settings).write(*HEALTH_TABLE, history(excess))
        result = materialize(
            settings, [model_health], resources={"warehouse": WarehouseResource.from_settings(settings)}
        )
        (check,) = result.get_asset_check_evaluations()
        return check

    assert concept_drift([0.0, 0.01, 0.4, -0.01, 0.0]).passed  # one bad week
    lasting = concept_drift([0.0, 0.01, 0.3, 0.3, 0.3])
    assert not lasting.passed and lasting.severity == dg.AssetCheckSeverity.WARN
    assert lasting.metadata["first_fired_at_run"].value == 4 and lasting.metadata["runs_scored"].value == 5
