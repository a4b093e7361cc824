"""The tables BI tools are given, and where each comes from in the warehouse.

An extract is a table of the published warehouse, or a join of two (revenue beside its
forecast), typed as the warehouse types its source columns: a dashboard built on an extract
keeps working when it is pointed at the live tables instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from retail_intel.warehouse import MART_TABLES

Source = tuple[str, str]  # (layer, table)


@dataclass(frozen=True)
class Extract:
    name: str
    description: str
    sources: tuple[Source, ...]
    # The extract's rows from its sources' frames; by default the one source as it is.
    build: Callable[[Mapping[Source, pd.DataFrame]], pd.DataFrame] | None = None
    # Columns the build renames: extract column -> (source, source column), for their types.
    renamed: Mapping[str, tuple[Source, str]] = field(default_factory=dict)

    def rows(self, frames: Mapping[Source, pd.DataFrame]) -> pd.DataFrame:
        return self.build(frames) if self.build else frames[self.sources[0]]

    def origin(self, column: str) -> tuple[Source, str]:
        """Where ``column`` of the extract comes from."""
        if column in self.renamed:
            return self.renamed[column]
        return self.sources[0], column


DAILY_REVENUE: Source = ("marts", "daily_revenue")
FORECAST: Source = ("ml", "revenue_forecast")
FORECAST_COLUMNS = {
    "yhat": "forecast",
    "yhat_lower": "forecast_lower",
    "yhat_upper": "forecast_upper",
    "model_name": "forecast_model",
    "model_version": "forecast_model_version",
}


def revenue_and_forecast(frames: Mapping[Source, pd.DataFrame]) -> pd.DataFrame:
    """One row per day: the revenue of the days that happened, the forecast and its 95% interval
    of the days ahead (a day that has both shows both)."""
    forecast = frames[FORECAST].rename(columns=FORECAST_COLUMNS)
    # The forecast is dated by a timestamp at midnight, the mart by a date: one calendar day each.
    forecast["date"] = pd.to_datetime(forecast["date"]).dt.normalize()
    actual = frames[DAILY_REVENUE].assign(date=lambda frame: pd.to_datetime(frame["date"]).dt.normalize())
    joined = actual.merge(forecast, on="date", how="outer")
    return joined.sort_values("date", kind="stable").reset_index(drop=True)


EXTRACTS: tuple[Extract, ...] = (
    Extract(
        "customer_segments",
        "One row per customer with a revenue order: RFM segment, cluster, recency, frequency, monetary.",
        (("ml", "customer_segments"),),
    ),
    Extract(
        "segment_summary",
        "One row per segment: customers, orders, revenue, shares and average order value.",
        (("ml", "segment_summary"),),
    ),
    Extract(
        "segment_movement",
        "Customers per (previous segment, segment) since the previous run; (new) and (gone): arrivals, departures.",
        (("ml", "segment_movement"),),
    ),
    Extract(
        "customer_rfm",
        "One row per customer with a revenue order: recency, frequency, monetary, 1-5 scores, features.",
        (("marts", "customer_rfm"),),
    ),
    Extract(
        "revenue_and_forecast",
        "One row per day: revenue, orders and items as they happened; the forecast with its 95% interval ahead.",
        (DAILY_REVENUE, FORECAST),
        build=revenue_and_forecast,
        renamed={
            **{new: (FORECAST, old) for old, new in FORECAST_COLUMNS.items()},
            "date": (DAILY_REVENUE, "date"),
        },
    ),
    Extract(
        "coupon_targets",
        "One row per customer of the last campaign (`retail-intel score`): item, probability, band, action.",
        (("ml", "coupon_targets"),),
    ),
)

# What a live data source opens: the marts, and the score tables marketing reads.
LIVE_TABLES: tuple[Source, ...] = (
    *(("marts", table) for table in MART_TABLES),
    ("ml", "customer_segments"),
    ("ml", "segment_summary"),
    ("ml", "segment_movement"),
    FORECAST,
    ("ml", "coupon_targets"),
)
