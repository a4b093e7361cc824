"""The dashboard's figures, read from the published warehouse through its interface: plain
functions from a Warehouse to frames, so they are tested without a browser.

A view whose tables are not published returns None and the page says which command writes
them: one model's missing table never hides another page.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from apps.bi.tables import DAILY_REVENUE, FORECAST, revenue_and_forecast
from ml.segments import GONE, NEW, moved_customers
from retail_intel.settings import Settings
from retail_intel.tenant_status import STATUS_TABLE, platform_settings
from retail_intel.warehouse import Warehouse, warehouse_for

# Every table a page reads from the tenant's warehouse: the dbt exposure
# retail_intel_dashboard names the same (tests/test_dbt_exposures.py keeps them equal).
TABLES_READ: tuple[tuple[str, str], ...] = (
    DAILY_REVENUE,
    FORECAST,
    ("marts", "customer_rfm"),
    ("marts", "products"),
    ("ml", "segment_summary"),
    ("ml", "segment_movement"),
    ("ml", "recommendations"),
    ("ml", "coupon_targets"),
    ("ml", "model_metrics"),
    ("monitoring", "model_health"),
    ("monitoring", "experiment_results"),
)


@dataclass(frozen=True)
class RevenueView:
    days: pd.DataFrame  # date, revenue, forecast, forecast_lower, forecast_upper: the history shown, then ahead
    last_30_days: float
    previous_30_days: float
    orders_last_30_days: int
    forecast_next: float | None  # the sum of the daily forecasts ahead
    forecast_days: int
    forecast_model: str | None


def revenue_view(warehouse: Warehouse, history_days: int = 180) -> RevenueView | None:
    if not warehouse.exists(*DAILY_REVENUE):
        return None
    has_forecast = warehouse.exists(*FORECAST)
    frames = warehouse.read_consistent({"daily": DAILY_REVENUE, **({"forecast": FORECAST} if has_forecast else {})})
    daily = frames["daily"].sort_values("date")
    last_day = pd.to_datetime(daily["date"]).max()
    if has_forecast:
        days = revenue_and_forecast({DAILY_REVENUE: daily, FORECAST: frames["forecast"]})
    else:
        days = daily.assign(date=pd.to_datetime(daily["date"]), forecast=float("nan"))
        days = days.assign(forecast_lower=float("nan"), forecast_upper=float("nan"), forecast_model=None)
    days = days[pd.to_datetime(days["date"]) > last_day - pd.Timedelta(days=history_days)]
    dates = pd.to_datetime(daily["date"])
    recent = daily[dates > last_day - pd.Timedelta(days=30)]
    before = daily[(dates <= last_day - pd.Timedelta(days=30)) & (dates > last_day - pd.Timedelta(days=60))]
    ahead = days[pd.to_datetime(days["date"]) > last_day]
    return RevenueView(
        days=days[["date", "revenue", "forecast", "forecast_lower", "forecast_upper"]].reset_index(drop=True),
        last_30_days=float(recent["revenue"].sum()),
        previous_30_days=float(before["revenue"].sum()),
        orders_last_30_days=int(recent["orders"].sum()),
        forecast_next=float(ahead["forecast"].sum()) if has_forecast and len(ahead) else None,
        forecast_days=len(ahead),
        forecast_model=str(ahead["forecast_model"].iloc[0]) if has_forecast and len(ahead) else None,
    )


@dataclass(frozen=True)
class SegmentsView:
    summary: pd.DataFrame  # segment, customers, customer_share, revenue, revenue_share, average_order_value
    # segment, customers, previous_customers, change: None on the first run (nothing to compare)
    movement: pd.DataFrame | None
    moved_customers: int  # customers of both runs whose segment changed


def segments_view(warehouse: Warehouse) -> SegmentsView | None:
    if not warehouse.exists("ml", "segment_summary"):
        return None
    tables = {"summary": ("ml", "segment_summary")}
    # A warehouse last built before segment movement was published has the summary only.
    if warehouse.exists("ml", "segment_movement"):
        tables["movement"] = ("ml", "segment_movement")
    frames = warehouse.read_consistent(tables)
    moves = frames.get("movement")
    if moves is None or moves.empty or set(moves["previous_segment"]) == {NEW}:
        return SegmentsView(frames["summary"], None, 0)
    now = moves[moves["segment"] != GONE].groupby("segment")["customers"].sum()
    before = moves[moves["previous_segment"] != NEW].groupby("previous_segment")["customers"].sum()
    movement = pd.DataFrame({"customers": now, "previous_customers": before}).fillna(0).astype("int64")
    movement = movement.drop(index=[GONE, NEW], errors="ignore")
    movement["change"] = movement["customers"] - movement["previous_customers"]
    movement = movement.rename_axis("segment").reset_index().sort_values("customers", ascending=False)
    return SegmentsView(frames["summary"], movement.reset_index(drop=True), moved_customers(moves))


@dataclass(frozen=True)
class RecommendationsView:
    customers: int  # customers with a revenue order (marts.customer_rfm)
    customers_with_list: int
    products: int
    products_recommended: int
    model_versions: list[str]
    bands: pd.DataFrame | None  # band, customers, share: the last campaign's coupon bands

    @property
    def customer_coverage(self) -> float:
        return self.customers_with_list / self.customers if self.customers else 0.0

    @property
    def catalogue_coverage(self) -> float:
        return self.products_recommended / self.products if self.products else 0.0


def recommendations_view(warehouse: Warehouse) -> RecommendationsView | None:
    if not warehouse.exists("ml", "recommendations"):
        return None
    # Counted where the tables are, in one statement (one published version): at a million
    # orders the lists are some ten million rows, which the page needs only four numbers of.
    lists = warehouse.relation("ml", "recommendations")
    ((customers, products, with_list, recommended),) = warehouse.query(
        f"SELECT (SELECT count(*) FROM {warehouse.relation('marts', 'customer_rfm')}),"
        f" (SELECT count(*) FROM {warehouse.relation('marts', 'products')}),"
        f" (SELECT count(DISTINCT customer_unique_id) FROM {lists}),"
        f" (SELECT count(DISTINCT product_id) FROM {lists})"
    )
    versions = warehouse.query(f"SELECT DISTINCT model_version FROM {lists} WHERE model_version IS NOT NULL")
    bands = None
    if warehouse.exists("ml", "coupon_targets"):
        counted = warehouse.query(
            f"SELECT band, count(*) FROM {warehouse.relation('ml', 'coupon_targets')} GROUP BY band ORDER BY band"
        )
        bands = pd.DataFrame(counted, columns=["band", "customers"]).astype({"customers": "int64"})
        bands["share"] = bands["customers"] / bands["customers"].sum()
    return RecommendationsView(
        customers=int(customers),
        customers_with_list=int(with_list),
        products=int(products),
        products_recommended=int(recommended),
        model_versions=sorted(str(version) for (version,) in versions),
        bands=bands,
    )


@dataclass(frozen=True)
class ModelsView:
    checks: pd.DataFrame | None  # the last run's model checks: asset, check_name, passed, figure, threshold
    forecast: pd.DataFrame | None  # candidate, wape (backtest) of the forecast champion's run; chosen marked
    recommender: pd.DataFrame | None  # candidate, hr_at_10 (full catalogue, test window) of the champion's run
    experiments: pd.DataFrame | None  # monitoring.experiment_results, when an experiment was read out


def models_view(warehouse: Warehouse) -> ModelsView:
    checks = forecast = recommender = experiments = None
    if warehouse.exists("monitoring", "model_health"):
        health = warehouse.read("monitoring", "model_health")
        if not health.empty:
            latest = health[health["checked_at"] == health["checked_at"].max()]
            checks = latest[["asset", "check_name", "passed", "severity", "figure", "threshold"]].reset_index(drop=True)
    if warehouse.exists("ml", "model_metrics"):
        metrics = warehouse.read("ml", "model_metrics")
        champion = metrics[metrics["role"] == "champion"]
        # The candidate that made the published forecast, by name (two may share a WAPE).
        chosen = None
        if warehouse.exists(*FORECAST):
            names = warehouse.read(*FORECAST)["model_name"].dropna()
            chosen = str(names.iloc[0]) if len(names) else None
        forecast = _forecast_candidates(champion[champion["model"].str.endswith(".revenue_forecast")], chosen)
        recommender = _recommender_candidates(champion[champion["model"].str.endswith(".recommender")])
    if warehouse.exists("monitoring", "experiment_results"):
        results = warehouse.read("monitoring", "experiment_results")
        experiments = results if not results.empty else None
    return ModelsView(checks, forecast, recommender, experiments)


def _forecast_candidates(metrics: pd.DataFrame, chosen: str | None) -> pd.DataFrame | None:
    wape = metrics[metrics["metric"].str.endswith("_wape")]
    if wape.empty:
        return None
    frame = pd.DataFrame({"candidate": wape["metric"].str.removesuffix("_wape"), "wape": wape["value"].astype(float)})
    frame["chosen"] = frame["candidate"].eq(chosen)
    return frame.sort_values("wape").reset_index(drop=True)


def _recommender_candidates(metrics: pd.DataFrame) -> pd.DataFrame | None:
    suffix = ".full_catalog.all.hr_at_10"
    test = metrics[metrics["metric"].str.endswith(suffix) & ~metrics["metric"].str.contains(":")]
    if test.empty:
        return None
    frame = pd.DataFrame(
        {"candidate": test["metric"].str.removesuffix(suffix), "hr_at_10": test["value"].astype(float)}
    )
    return frame.sort_values("hr_at_10", ascending=False).reset_index(drop=True)


@dataclass(frozen=True)
class OperatorView:
    tenants: pd.DataFrame  # ops.tenant_status
    engines: dict[str, int]  # tenants per engine state (on, frozen, off), active tenants only


def operator_view(settings: Settings) -> OperatorView | None:
    """The operator's table of every tenant (``ops.tenant_status`` in the platform's warehouse)."""
    platform = warehouse_for(platform_settings(settings))
    if not platform.exists(*STATUS_TABLE):
        return None
    tenants = platform.read(*STATUS_TABLE)
    active = tenants[tenants["status"] == "active"]
    engines = {state: int((active["engine"] == state).sum()) for state in ("on", "frozen", "off")}
    return OperatorView(tenants, engines)
