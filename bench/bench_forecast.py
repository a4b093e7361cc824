"""Benchmark: the revenue forecast's seconds and figures, on generated orders and on a decaying cohort.

    python bench/bench_forecast.py                      # 20,000 generated orders (about 765 days), horizon 30
    python bench/bench_forecast.py --orders 100000
    python bench/bench_forecast.py --decaying           # 540 days of a decaying cohort, horizon 91

Generated orders: daily revenue is computed with pandas from the generated CSVs (the
``daily_revenue`` mart's rule), then timed twice: ``forecast_revenue`` alone, and the
``ml.revenue_forecast`` asset materialized on a temporary warehouse and MLflow store (two
runs: the first registers a champion, the second also re-scores it).

Decaying cohort: the series of ``tests/ml/test_forecast_candidates.py`` (customers
acquired in the first quarter, buying at a decaying rate, with a weekly pattern). Every
candidate's mean backtest WAPE on the 540 days is printed beside its WAPE on the 91 days
that follow, refit on the 540 days; the future is used for nothing else.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def daily_revenue_from_raw(raw_dir: Path) -> pd.DataFrame:
    orders = pd.read_csv(
        raw_dir / "olist_orders_dataset.csv", usecols=["order_id", "order_status", "order_purchase_timestamp"]
    )
    items = pd.read_csv(raw_dir / "olist_order_items_dataset.csv", usecols=["order_id", "price"])
    orders["date"] = pd.to_datetime(orders["order_purchase_timestamp"]).dt.normalize()
    counted = orders[~orders["order_status"].isin(["canceled", "unavailable"])]
    item_value = items.groupby("order_id")["price"].sum()
    revenue = counted.assign(revenue=counted["order_id"].map(item_value).fillna(0.0)).groupby("date")["revenue"].sum()
    calendar = pd.date_range(orders["date"].min(), orders["date"].max(), freq="D", name="date")
    return revenue.reindex(calendar, fill_value=0.0).reset_index()


def show(result) -> None:
    columns = ["candidate", "status", "folds_scored", "wape", "mape", "interval_coverage", "reason"]
    print(result.candidates[columns].to_string(index=False, float_format=lambda value: f"{value:.3f}"))
    print(f"chosen: {result.reason}")


def generated(orders: int, horizon: int) -> None:
    import dagster as dg

    from ml.forecast import forecast_revenue
    from orchestration.assets.ml.revenue_forecast import revenue_forecast
    from orchestration.resources import WarehouseResource
    from retail_intel.generator import GeneratorConfig, generate
    from retail_intel.settings import Settings
    from retail_intel.warehouse import warehouse_for

    with tempfile.TemporaryDirectory() as scratch:
        raw_dir = Path(scratch) / "olist"
        generate(GeneratorConfig(orders=orders, seed=42), raw_dir)
        daily = daily_revenue_from_raw(raw_dir)
        print(f"{orders} orders: {len(daily)} days, {daily['date'].min().date()} to {daily['date'].max().date()}")
        started = time.perf_counter()
        result = forecast_revenue(daily, horizon=horizon)
        print(f"forecast_revenue, horizon {horizon}: {time.perf_counter() - started:.1f} s (first call in the process)")
        show(result)
        started = time.perf_counter()
        forecast_revenue(daily, horizon=horizon)
        print(f"forecast_revenue again: {time.perf_counter() - started:.1f} s")

        env = {key: value for key, value in os.environ.items() if not key.startswith(("RETAIL_INTEL_", "MLFLOW_"))}
        settings = Settings.from_env(env).with_(home=Path(scratch) / "home")
        warehouse_for(settings).write("marts", "daily_revenue", daily.assign(date=daily["date"].dt.date))
        for run in (1, 2):
            started = time.perf_counter()
            outcome = dg.materialize(
                [revenue_forecast],
                resources={"warehouse": WarehouseResource.from_settings(settings)},
                run_config={"ops": {"ml__revenue_forecast": {"config": {"horizon": horizon}}}},
                instance=dg.DagsterInstance.ephemeral(),
            )
            seconds = time.perf_counter() - started
            (materialization,) = outcome.asset_materializations_for_node("ml__revenue_forecast")
            promotion = materialization.metadata["promotion"].value
            print(f"asset run {run}: {seconds:.1f} s, success {outcome.success}; {promotion}")


def decaying() -> None:
    sys.path.insert(0, str(ROOT / "tests" / "ml"))
    from test_forecast_candidates import decaying_cohort

    from ml.forecast import default_candidates, forecast_revenue, prepare_history, wape

    everything = decaying_cohort(540 + 91)
    history, future = everything.iloc[:540], everything.iloc[540:]
    started = time.perf_counter()
    result = forecast_revenue(history, horizon=91)
    print(f"decaying cohort, 540 days, horizon 91: forecast_revenue {time.perf_counter() - started:.1f} s")
    show(result)
    actual = future["revenue"].to_numpy()
    backtest_wape = result.candidates.set_index("candidate")["wape"]
    print("candidate       backtest WAPE  future WAPE (91 days after, refit on the 540)")
    for candidate in default_candidates():
        prediction = candidate.fit(prepare_history(history), seed=0).predict(91)
        future_wape = wape(actual, prediction["yhat"].clip(lower=0).to_numpy())
        print(f"{candidate.name:15} {backtest_wape[candidate.name]:13.3f}  {future_wape:.3f}")
    print(f"published ({result.winner}): future WAPE {wape(actual, result.forecast['yhat'].to_numpy()):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--horizon", type=int, default=30)
    parser.add_argument("--decaying", action="store_true")
    arguments = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs; numpy {np.__version__}, pandas {pd.__version__}")
    if arguments.decaying:
        decaying()
    else:
        generated(arguments.orders, arguments.horizon)


if __name__ == "__main__":
    main()
