"""ml.revenue_forecast: expected daily revenue for the coming days."""

import dagster as dg
import pandas as pd

from ml.forecast_baselines import seasonal_naive_forecast
from orchestration.metadata import frame_preview
from orchestration.resources import WarehouseResource

MODEL_NAME = "seasonal_naive"


class RevenueForecastConfig(dg.Config):
    horizon: int = 30


@dg.asset(
    key=["ml", "revenue_forecast"],
    group_name="ml",
    deps=[dg.AssetKey(["marts", "daily_revenue"])],
    kinds={"python"},
)
def revenue_forecast(config: RevenueForecastConfig, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Daily revenue expected for the next `horizon` days, with an 80% interval.

    Until the forecasting models arrive (Prophet and statistical candidates, backtested),
    this is the seasonal-naive baseline, and `model_name` says so: each day repeats the
    same weekday of the last observed week.
    """
    daily = warehouse.read("marts", "daily_revenue")
    forecast = seasonal_naive_forecast(daily, config.horizon).assign(model_name=MODEL_NAME, model_version="baseline")
    rows = warehouse.write("ml", "revenue_forecast", forecast)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "model_name": MODEL_NAME,
            "horizon_days": config.horizon,
            "forecast_total": float(forecast["yhat"].sum()),
            "last_28_days_actual": float(pd.to_numeric(daily["revenue"]).tail(28).sum()),
            "preview": frame_preview(forecast),
        }
    )
