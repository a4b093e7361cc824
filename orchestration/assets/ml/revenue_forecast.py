"""ml.revenue_forecast: expected daily revenue for the coming days."""

import base64

import dagster as dg
import pandas as pd

from ml.forecast import (
    DEFAULT_FOLDS,
    FITTED,
    ForecastNotPossible,
    ForecastResult,
    forecast_revenue,
    plot_forecast,
    prepare_history,
)
from ml.forecast_model import RegisteredForecaster, holdout_days, holdout_wape
from ml.monitoring.forecast_accuracy import realised_accuracy
from ml.registry import RegistryError
from orchestration.champion import ChampionFlow
from orchestration.lineage import registry_for
from orchestration.metadata import frame_preview, headline
from orchestration.partitions import PARTITIONED
from orchestration.resources import WarehouseResource
from retail_intel.monitoring_config import thresholds_for

# The simple forecasts the chosen one is held against in the operator's table.
FORECAST_BASELINES = ("seasonal_naive", "trailing_mean")
METRICS = ("wape", "mape", "smape", "mae", "bias", "interval_coverage")
TABLE_COLUMNS = ["date", "yhat", "yhat_lower", "yhat_upper", "model_name", "model_version"]


class RevenueForecastConfig(dg.Config):
    horizon: int = 30
    folds: int = DEFAULT_FOLDS
    seed: int = 0


def empty_forecast_table() -> pd.DataFrame:
    """No rows, but the published table's column types, so that readers of a first run on a
    too-short history find the table and its schema."""
    import pyarrow as pa

    return pd.DataFrame(
        {
            "date": pd.Series([], dtype=pd.ArrowDtype(pa.date32())),
            **{column: pd.Series([], dtype="float64") for column in ("yhat", "yhat_lower", "yhat_upper")},
            **{column: pd.Series([], dtype="str") for column in ("model_name", "model_version")},
        }
    )


def _candidate_metrics(result: ForecastResult) -> dict[str, float]:
    """Every fitted candidate's mean backtest figures, named ``<candidate>_<metric>``."""
    fitted = result.candidates[result.candidates["status"] == FITTED].set_index("candidate")
    metrics = {f"{name}_{metric}": float(row[metric]) for name, row in fitted.iterrows() for metric in METRICS}
    metrics |= {f"{name}_folds_scored": float(row["folds_scored"]) for name, row in fitted.iterrows()}
    return {name: value for name, value in metrics.items() if pd.notna(value)}


def _report(result: ForecastResult) -> str:
    table = result.candidates.drop(columns=["relative_bias"]).to_markdown(index=False, floatfmt=".4f")
    return f"# Revenue forecast backtest\n\nChosen: {result.reason}\n\n{table}\n"


@dg.asset(
    key=["ml", "revenue_forecast"],
    group_name="ml",
    deps=[dg.AssetKey(["marts", "daily_revenue"])],
    kinds={"python", "prophet", "statsmodels"},
    check_specs=[dg.AssetCheckSpec("forecast_accuracy", asset=["ml", "revenue_forecast"])],
    **PARTITIONED,
)
def revenue_forecast(
    context: dg.AssetExecutionContext, config: RevenueForecastConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Daily revenue expected for the next `horizon` days, with an 80% interval.

    Candidates (seasonal naive, trailing mean, Theta, damped ETS, STL + ETS, auto-ordered
    seasonal ARIMA, the median of ETS/Theta/ARIMA/STL, Prophet with Brazilian holidays and
    Black Friday) are backtested on up to `folds` windows of `horizon` days; the lowest mean
    WAPE wins, near-ties go to the simpler one, and seasonal naive is published unless
    beaten. Candidates that cannot fit the data step aside with a reason. The chosen one is
    registered as challenger and replaces the champion only if its WAPE on the latest window
    beats the champion's, both refit on the history before that window. The table is written
    by the champion, refit on all history; `model_name` says which method it is.

    When the history is too short for any backtest, nothing new is published and the run
    goes on: the previous table stays (or an empty one is created) and the metadata's
    `skipped_reason` says why.
    """
    settings = warehouse.settings()
    daily = warehouse.read("marts", "daily_revenue")[["date", "revenue"]]
    # Before anything replaces it: how the published forecast did on the days realised since.
    accuracy = _accuracy_check(warehouse, daily, thresholds_for(settings)["forecast"], registry_for(settings))
    try:
        result = forecast_revenue(daily, horizon=config.horizon, folds=config.folds, seed=config.seed)
    except ForecastNotPossible as error:
        return _skipped(context, warehouse, str(error), accuracy)
    challenger = RegisteredForecaster(result.model, config.seed)

    as_of = str(pd.to_datetime(daily["date"]).max().date())
    stepped_aside = result.candidates.loc[result.candidates["status"] != FITTED].set_index("candidate")["reason"]
    n_folds = int(result.candidates.loc[result.candidates["chosen"], "folds_scored"].iloc[0])
    days = holdout_days(len(daily), config.horizon)
    crowned = ChampionFlow(settings, "revenue_forecast").crown(
        challenger,
        trained_on=daily,
        as_of=as_of,
        input_example=pd.DataFrame({"horizon": [config.horizon]}),
        params={
            "winner": result.winner,
            "reason": result.reason,
            "horizon": config.horizon,
            "folds": config.folds,
            "folds_scored": n_folds,
            "seed": config.seed,
            **{f"stepped_aside.{name}": reason for name, reason in stepped_aside.items()},
        },
        metrics={
            **_candidate_metrics(result),
            "wape": float(result.candidates.set_index("candidate").loc[result.winner, "wape"]),
        },
        artifacts={
            "forecast.png": result.plot_png,
            "backtest.csv": result.backtest.to_csv(index=False),
            "candidates.csv": result.candidates.to_csv(index=False),
            "report.md": _report(result),
        },
        evaluate=lambda model: holdout_wape(model, daily, config.horizon),
        metric="holdout_wape",
        higher_is_better=False,
        holdout=f"last {days} days to {as_of}",
        log=context.log,
        note=result.reason,
        prepare=lambda model: model.refit(daily),
        # The challenger is already fitted on all history: no second fit when it was promoted.
        reuse_challenger=True,
    )
    champion = crowned.champion
    forecast = champion.predict(pd.DataFrame({"horizon": [config.horizon]}))
    forecast["model_version"] = crowned.version_label
    table = forecast[TABLE_COLUMNS]
    plot = plot_forecast(
        prepare_history(daily), table, title=f"{champion.name} ({crowned.model_name} v{crowned.champion_version})"
    )
    candidates = result.candidates[["candidate", "status", "reason", "folds_scored", "wape", "mape", "smape", "mae"]]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": warehouse.write("ml", "revenue_forecast", table),
            "champion": f"{champion.name}, version {crowned.champion_version}",
            "champion_version": crowned.champion_version,
            "backtest_winner": result.winner,
            "headline": headline(
                "wape",
                result.winner,
                result.candidates.set_index("candidate")["wape"].to_dict(),
                FORECAST_BASELINES,
                higher_is_better=False,
            ),
            "chosen_because": result.reason,
            "prophet_lost_to": result.prophet_lost_to or "Prophet won or did not run",
            "promotion": crowned.decision.reason,
            "backtest_wape": dg.MetadataValue.json(
                {
                    name: round(value, 4)
                    for name, value in result.candidates.set_index("candidate")["wape"].dropna().items()
                }
            ),
            "stepped_aside": dg.MetadataValue.json(stepped_aside.to_dict()),
            "candidates": dg.MetadataValue.md(candidates.to_markdown(index=False, floatfmt=".4f")),
            "forecast_total": float(table["yhat"].sum()),
            "plot": dg.MetadataValue.md(f"![forecast](data:image/png;base64,{base64.b64encode(plot).decode()})"),
            "preview": frame_preview(table),
        },
        check_results=[accuracy],
    )


def _accuracy_check(
    warehouse: WarehouseResource, daily: pd.DataFrame, limits: dict[str, float], registry
) -> dg.AssetCheckResult:
    """Warns when the published forecast's WAPE on the days realised since exceeds the tenant's
    alert level. WAPE decides, not MAPE: a few near-empty days make MAPE explode on small shops;
    MAPE is reported beside it with the seed's levels."""
    previous = warehouse.read("ml", "revenue_forecast") if warehouse.exists("ml", "revenue_forecast") else None
    accuracy = realised_accuracy(previous, daily) if previous is not None and len(previous) else None
    if accuracy is None:
        return dg.AssetCheckResult(
            check_name="forecast_accuracy",
            passed=True,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"note": "no published forecast covers a realised day yet", "threshold": limits["wape_alert"]},
        )
    return dg.AssetCheckResult(
        check_name="forecast_accuracy",
        passed=accuracy.wape <= limits["wape_alert"],
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "value": accuracy.wape,
            "threshold": limits["wape_alert"],
            "mape": accuracy.mape if accuracy.mape is not None else "no realised day had revenue",
            "mape_target": limits["mape_target"],
            "mape_alert": limits["mape_alert"],
            "total_error": accuracy.total_error,
            "days": accuracy.days,
            "realised_days": f"{accuracy.first_day} to {accuracy.last_day}",
            "forecast_version": accuracy.forecast_version,
            **_promised(registry, accuracy.forecast_version),
        },
    )


def _promised(registry, forecast_version: str) -> dict[str, float]:
    """The backtest WAPE the forecast's version was registered with: what it promised, against
    which the concept-drift check (monitoring/model_health) measures its realised error."""
    model, _, version = forecast_version.rpartition("/")
    try:
        metrics = registry.metrics_of(model, version)
    except RegistryError:  # another tenant's name in this tenant's table: it promised this tenant nothing
        return {}
    return {"expected": float(metrics["wape"])} if "wape" in metrics else {}


def _skipped(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, reason: str, accuracy: dg.AssetCheckResult
) -> dg.MaterializeResult:
    """No forecast this run: keep what is published (or publish an empty table) and say why."""
    context.log.warning(f"ml.revenue_forecast: no new forecast: {reason}")
    if warehouse.exists("ml", "revenue_forecast"):
        kept = warehouse.read("ml", "revenue_forecast")
        published = f"the previous forecast is kept ({len(kept)} rows)"
        row_count = len(kept)
    else:
        row_count = warehouse.write("ml", "revenue_forecast", empty_forecast_table())
        published = "no forecast was published before: an empty table was written"
    return dg.MaterializeResult(
        metadata={
            "skipped_reason": reason,
            "published": published,
            "dagster/row_count": row_count,
        },
        check_results=[accuracy],
    )
