"""The dashboard's figures on small published tables whose answers are known by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from apps.dashboard import data
from retail_intel.warehouse import warehouse_for
from tests.support import make_settings


@pytest.fixture
def warehouse(tmp_path):
    return warehouse_for(make_settings(tmp_path / "home"))


def test_revenue_compares_the_last_30_days_with_the_30_before_and_sums_the_forecast(warehouse):
    days = pd.date_range("2018-01-01", periods=90, freq="D")
    revenue = [1.0] * 30 + [2.0] * 30 + [3.0] * 30  # the last 30 days earn 3 a day, the 30 before 2
    warehouse.write(
        "marts",
        "daily_revenue",
        pd.DataFrame({"date": days, "revenue": revenue, "orders": [1] * 90, "items": [1] * 90}),
    )
    assert data.revenue_view(warehouse).forecast_next is None  # no forecast published: still a view

    ahead = pd.date_range("2018-04-01", periods=7, freq="D")
    warehouse.write(
        "ml",
        "revenue_forecast",
        pd.DataFrame(
            {
                "date": ahead,
                "yhat": [4.0] * 7,
                "yhat_lower": [1.0] * 7,
                "yhat_upper": [7.0] * 7,
                "model_name": ["ets"] * 7,
                "model_version": ["default.revenue_forecast/3"] * 7,
            }
        ),
    )
    view = data.revenue_view(warehouse, history_days=45)
    assert (view.last_30_days, view.previous_30_days, view.orders_last_30_days) == (90.0, 60.0, 30)
    assert (view.forecast_next, view.forecast_days, view.forecast_model) == (28.0, 7, "ets")
    assert len(view.days) == 45 + 7 and view.days["forecast"].notna().sum() == 7


def test_segments_movement_per_segment_and_the_first_run(warehouse):
    summary = pd.DataFrame({"segment": ["Loyal", "Lost"], "customers": [2, 2], "revenue_share": [0.7, 0.3]})
    warehouse.write("ml", "segment_summary", summary)
    first = pd.DataFrame({"previous_segment": ["(new)", "(new)"], "segment": ["Loyal", "Lost"], "customers": [2, 2]})
    warehouse.write("ml", "segment_movement", first)
    view = data.segments_view(warehouse)
    assert view.movement is None and view.moved_customers == 0

    moved = pd.DataFrame(
        {
            "previous_segment": ["Loyal", "Loyal", "Lost", "(new)", "Lost", "Loyal"],
            "segment": ["Loyal", "Lost", "(gone)", "Lost", "Lost", "Lost"],
            "customers": [1, 1, 1, 1, 1, 1],
        }
    )
    warehouse.write("ml", "segment_movement", moved)
    view = data.segments_view(warehouse)
    by_segment = view.movement.set_index("segment")
    # Loyal: 3 before, 1 stayed; Lost: 2 before, now 1 stayed + 2 from Loyal + 1 new.
    assert by_segment.loc["Loyal", ["customers", "previous_customers", "change"]].tolist() == [1, 3, -2]
    assert by_segment.loc["Lost", ["customers", "previous_customers", "change"]].tolist() == [4, 2, 2]
    assert view.moved_customers == 2

    # A warehouse built before movement was published: the summary still shows.
    without = data.segments_view(_without_movement(warehouse))
    assert without is not None and without.movement is None


def _without_movement(warehouse):
    """The warehouse as it answers when ml.segment_movement was never published."""

    class Older:
        def __getattr__(self, name):
            return getattr(warehouse, name)

        def exists(self, layer, table):
            return (layer, table) != ("ml", "segment_movement") and warehouse.exists(layer, table)

    return Older()


def test_recommendation_coverage_and_coupon_bands(warehouse):
    warehouse.write("marts", "customer_rfm", pd.DataFrame({"customer_unique_id": ["a", "b", "c", "d"]}))
    warehouse.write("marts", "products", pd.DataFrame({"product_id": [f"p{i}" for i in range(10)]}))
    lists = pd.DataFrame(
        {"customer_unique_id": ["a", "a", "b"], "product_id": ["p1", "p2", "p1"], "model_version": ["r/1"] * 3}
    )
    warehouse.write("ml", "recommendations", lists)
    view = data.recommendations_view(warehouse)
    assert (view.customer_coverage, view.catalogue_coverage, view.bands) == (0.5, 0.2, None)
    warehouse.write("ml", "coupon_targets", pd.DataFrame({"band": ["coupon", "standard", "standard"]}))
    bands = data.recommendations_view(warehouse).bands.set_index("band")
    assert bands["customers"].to_dict() == {"coupon": 1, "standard": 2}
    assert bands.loc["standard", "share"] == pytest.approx(2 / 3)


def test_nothing_published_is_no_view_rather_than_an_error(warehouse, tmp_path):
    assert data.revenue_view(warehouse) is None
    assert data.segments_view(warehouse) is None
    assert data.recommendations_view(warehouse) is None
    models = data.models_view(warehouse)
    assert (models.checks, models.forecast, models.recommender, models.experiments) == (None, None, None, None)
    assert data.operator_view(make_settings(tmp_path / "home")) is None
