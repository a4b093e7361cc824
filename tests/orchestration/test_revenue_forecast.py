"""The ml.revenue_forecast asset alone, on a daily_revenue mart written by the test."""

from __future__ import annotations

import os

import duckdb
import numpy as np
import pandas as pd
import pytest

from orchestration.assets.ml.revenue_forecast import revenue_forecast
from orchestration.lineage import registry_for
from orchestration.resources import WarehouseResource
from retail_intel.settings import Settings
from retail_intel.warehouse import warehouse_for
from tests.support import materialize

WEEKLY_PATTERN = np.array([130.0, 125.0, 115.0, 105.0, 95.0, 60.0, 70.0])


@pytest.fixture
def settings(tmp_path) -> Settings:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("RETAIL_INTEL_", "MLFLOW_"))}
    return Settings.from_env(env).with_(home=tmp_path / "home")


def publish_daily_revenue(settings: Settings, days: int) -> None:
    rng = np.random.default_rng(days)
    revenue = np.tile(WEEKLY_PATTERN, days // 7 + 1)[:days] * np.linspace(1.2, 0.8, days) + rng.normal(0, 3, days)
    dates = pd.date_range("2018-01-01", periods=days, freq="D").date
    warehouse_for(settings).write("marts", "daily_revenue", pd.DataFrame({"date": dates, "revenue": revenue}))


def materialize_forecast(settings: Settings) -> dict[str, object]:
    result = materialize(
        settings,
        [revenue_forecast],
        resources={"warehouse": WarehouseResource.from_settings(settings)},
        run_config={"ops": {"ml__revenue_forecast": {"config": {"horizon": 7, "folds": 2}}}},
    )
    assert result.success
    (materialization,) = result.asset_materializations_for_node("ml__revenue_forecast")
    return {key: value.value for key, value in materialization.metadata.items()}


def published(settings: Settings) -> tuple[list[tuple], list[tuple]]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        rows = con.execute("select * from ml.revenue_forecast order by date").fetchall()
        columns = con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'ml' and table_name = 'revenue_forecast' order by ordinal_position"
        ).fetchall()
    return rows, columns


def test_a_too_short_history_skips_without_failing_and_keeps_what_was_published(settings):
    publish_daily_revenue(settings, 20)
    first = materialize_forecast(settings)
    assert first["skipped_reason"].startswith("history too short: 20 days")
    rows, columns = published(settings)
    # nothing was published before: an empty table with the published columns
    assert rows == []
    assert columns == [
        ("date", "DATE"),
        ("yhat", "DOUBLE"),
        ("yhat_lower", "DOUBLE"),
        ("yhat_upper", "DOUBLE"),
        ("model_name", "VARCHAR"),
        ("model_version", "VARCHAR"),
    ]

    # 50 days: two 7-day folds train on 36 and 43 days, too few for ARIMA's 56
    publish_daily_revenue(settings, 50)
    second = materialize_forecast(settings)
    assert "skipped_reason" not in second
    rows, columns = published(settings)
    assert len(rows) == 7 and {row[5] for row in rows} == {"default.revenue_forecast/1"}
    assert rows[0][4] == second["backtest_winner"]
    assert second["chosen_because"].startswith(f"{second['backtest_winner']}: ")
    assert set(second["stepped_aside"]) == {"arima"}
    assert "arima needs at least 56 days" in second["stepped_aside"]["arima"]
    assert "| arima " in second["candidates"] and "stepped_aside" in second["candidates"]
    registry = registry_for(settings)
    run = registry.client.get_run(registry.client.get_model_version("default.revenue_forecast", "1").run_id)
    fitted = ["seasonal_naive", "trailing_mean", "theta", "ets", "stl", "combination", "prophet"]
    assert {f"{name}_wape" for name in fitted} | {f"{name}_folds_scored" for name in fitted} <= set(run.data.metrics)
    assert not any(metric.startswith("arima_") for metric in run.data.metrics)
    assert run.data.params["winner"] == second["backtest_winner"]
    assert "arima needs at least 56 days" in run.data.params["stepped_aside.arima"]
    artifacts = {artifact.path for artifact in registry.client.list_artifacts(run.info.run_id)}
    assert {"candidates.csv", "backtest.csv", "report.md", "forecast.png"} <= artifacts

    publish_daily_revenue(settings, 20)
    third = materialize_forecast(settings)
    assert third["skipped_reason"].startswith("history too short: 20 days")
    assert third["published"] == "the previous forecast is kept (7 rows)"
    assert published(settings)[0] == rows


def accuracy_check(settings: Settings):
    result = materialize(
        settings,
        [revenue_forecast],
        resources={"warehouse": WarehouseResource.from_settings(settings)},
        run_config={"ops": {"ml__revenue_forecast": {"config": {"horizon": 7, "folds": 2}}}},
    )
    (check,) = result.get_asset_check_evaluations()
    return check


def realise(settings: Settings, factor: float) -> None:
    """The published forecast's days happen, with revenue ``factor`` times what it said."""
    warehouse = warehouse_for(settings)
    forecast = warehouse.read("ml", "revenue_forecast")
    daily = warehouse.read("marts", "daily_revenue")
    realised = pd.DataFrame({"date": pd.to_datetime(forecast["date"]).dt.date, "revenue": forecast["yhat"] * factor})
    warehouse.write("marts", "daily_revenue", pd.concat([daily, realised], ignore_index=True))


def test_the_published_forecast_is_scored_on_the_days_realised_since(settings):
    publish_daily_revenue(settings, 60)
    first = accuracy_check(settings)
    assert first.passed and "no published forecast covers" in first.metadata["note"].value

    realise(settings, 1.0)  # it came true
    exact = accuracy_check(settings)
    assert exact.passed and exact.metadata["value"].value == pytest.approx(0.0, abs=1e-9)
    assert exact.metadata["days"].value == 7 and exact.metadata["forecast_version"].value.endswith("/1")
    promised = registry_for(settings).metrics_of("default.revenue_forecast", "1")["wape"]
    assert exact.metadata["expected"].value == pytest.approx(promised)  # what version 1 promised

    realise(settings, 3.0)  # the next week sold three times what was forecast
    off = accuracy_check(settings)
    assert not off.passed and off.severity.value == "WARN"
    assert off.metadata["value"].value == pytest.approx(2 / 3) and off.metadata["threshold"].value == 0.25
    assert off.metadata["mape"].value == pytest.approx(2 / 3)
