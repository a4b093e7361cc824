"""ml.revenue_forecast: expected daily revenue for the coming days."""

import base64

import dagster as dg
import pandas as pd

from ml.forecast import default_candidates, forecast_revenue, plot_forecast, prepare_history
from ml.forecast_model import RegisteredForecaster, holdout_wape
from ml.registry import CHAMPION
from orchestration.lineage import lineage, registry_for
from orchestration.metadata import frame_preview
from orchestration.resources import WarehouseResource

METRICS = ("wape", "mape", "smape", "mae", "bias")


class RevenueForecastConfig(dg.Config):
    horizon: int = 30
    folds: int = 3
    seed: int = 0


@dg.asset(
    key=["ml", "revenue_forecast"],
    group_name="ml",
    deps=[dg.AssetKey(["marts", "daily_revenue"])],
    kinds={"python", "prophet"},
)
def revenue_forecast(
    context: dg.AssetExecutionContext, config: RevenueForecastConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Daily revenue expected for the next `horizon` days, with an 80% interval.

    Candidates (Prophet with Brazilian holidays and Black Friday, damped ETS with weekly
    seasonality, seasonal naive, trailing mean) are backtested on the last `folds` windows
    of `horizon` days; the lowest WAPE wins and is registered as challenger. It replaces
    the champion only if its WAPE on the latest window beats the champion's, both refit on
    the history before that window. The table is written by the champion, refit on all
    history; `model_name` says which method it is, and whether Prophet lost is reported.
    """
    settings = warehouse.settings()
    daily = warehouse.read("marts", "daily_revenue")[["date", "revenue"]]
    candidates = default_candidates()
    result = forecast_revenue(
        daily, horizon=config.horizon, folds=config.folds, seed=config.seed, candidates=candidates
    )
    winner = next(candidate for candidate in candidates if candidate.name == result.winner)
    challenger = RegisteredForecaster(winner, config.seed).refit(daily)

    overall = result.backtest[result.backtest["fold"] == "all"].set_index("candidate")
    metrics = {
        f"{candidate}_{metric}": overall.loc[candidate, metric] for candidate in overall.index for metric in METRICS
    }
    registry = registry_for(settings)
    model_name = settings.registered_model_name("revenue_forecast")
    as_of = str(pd.to_datetime(daily["date"]).max().date())
    logged = registry.log_model_version(
        model_name=model_name,
        model=challenger,
        input_example=pd.DataFrame({"horizon": [config.horizon]}),
        params={"winner": result.winner, "horizon": config.horizon, "folds": config.folds, "seed": config.seed},
        metrics={**metrics, "wape": overall.loc[result.winner, "wape"]},
        lineage=lineage(settings, daily, as_of),
        artifacts={
            "forecast.png": result.plot_png,
            "backtest.csv": result.backtest.to_csv(index=False),
            "report.md": "# Revenue forecast backtest\n\n" + overall[list(METRICS)].to_markdown(),
        },
    )
    decision = registry.promote_if_better(
        model_name,
        logged.version,
        lambda model: holdout_wape(model, daily, config.horizon),
        metric="holdout_wape",
        higher_is_better=False,
        holdout=f"last {config.horizon} days to {as_of}",
    )
    context.log.info(f"{model_name} v{logged.version}: {decision.reason}")
    champion_version = registry.version_for(model_name, CHAMPION)
    champion = registry.load(model_name, champion_version).refit(daily)
    forecast = champion.predict(pd.DataFrame({"horizon": [config.horizon]}))
    forecast["model_version"] = f"{model_name}/{champion_version}"
    table = forecast[["date", "yhat", "yhat_lower", "yhat_upper", "model_name", "model_version"]]
    plot = plot_forecast(prepare_history(daily), table, title=f"{champion.name} ({model_name} v{champion_version})")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": warehouse.write("ml", "revenue_forecast", table),
            "champion": f"{champion.name}, version {champion_version}",
            "backtest_winner": result.winner,
            "prophet_lost_to": result.prophet_lost_to or "Prophet won or did not run",
            "promotion": decision.reason,
            "backtest_wape": dg.MetadataValue.json(overall["wape"].round(4).to_dict()),
            "forecast_total": float(table["yhat"].sum()),
            "plot": dg.MetadataValue.md(f"![forecast](data:image/png;base64,{base64.b64encode(plot).decode()})"),
            "preview": frame_preview(table),
        }
    )
