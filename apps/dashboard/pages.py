"""The dashboard's pages: each draws one view of apps/dashboard/data.py with Streamlit and
Altair (Vega-Lite), or says which command publishes the tables it lacks."""

from __future__ import annotations

from collections.abc import Callable

import altair as alt
import pandas as pd
import streamlit as st

from apps.dashboard import data
from retail_intel.settings import Settings
from retail_intel.warehouse import warehouse_for

WIDE = {"width": "stretch"}


def _cached(view: Callable, settings: Settings):
    """A view read at most once a minute per tenant (Streamlit reruns the page on every click)."""
    return _read(view.__name__, settings.tenant_id, str(settings.home), settings.target, _settings=settings)


@st.cache_data(ttl=60, show_spinner=False)
def _read(view_name: str, tenant_id: str, home: str, target: str, _settings: Settings):
    view = getattr(data, view_name)
    return view(_settings) if view_name == "operator_view" else view(warehouse_for(_settings))


def _money(value: float) -> str:
    return f"R$ {value:,.0f}"


def revenue(settings: Settings) -> None:
    st.header("Revenue and forecast")
    view = _cached(data.revenue_view, settings)
    if view is None:
        st.info("marts.daily_revenue is not published yet: run `retail-intel run`.")
        return
    change = view.last_30_days / view.previous_30_days - 1 if view.previous_30_days else None
    first, second, third = st.columns(3)
    first.metric(
        "Revenue, last 30 days",
        _money(view.last_30_days),
        delta=f"{change:+.1%} on the 30 days before" if change is not None else None,
    )
    second.metric("Orders, last 30 days", f"{view.orders_last_30_days:,}")
    if view.forecast_next is not None:
        third.metric(
            f"Forecast, next {view.forecast_days} days",
            _money(view.forecast_next),
            help=f"Sum of the daily forecasts of the champion ({view.forecast_model}).",
        )
    else:
        third.info("No forecast published: the forecast model did not run.")
    days = view.days.assign(date=pd.to_datetime(view.days["date"]))
    base = alt.Chart(days).encode(x=alt.X("date:T", title=None))
    interval = base.mark_area(opacity=0.25, color="#f58518").encode(
        y=alt.Y("forecast_lower:Q", title="Revenue (R$) per day"), y2="forecast_upper:Q"
    )
    forecast = base.mark_line(color="#f58518", strokeDash=[5, 3]).encode(y="forecast:Q")
    actual = base.mark_line(color="#4c78a8").encode(y="revenue:Q")
    st.altair_chart(alt.layer(interval, forecast, actual).properties(height=360), **WIDE)
    st.caption(
        "Blue: revenue (item prices of orders not canceled or unavailable) per purchase day. Orange: the "
        "forecast and its 95% interval."
    )


def segments(settings: Settings) -> None:
    st.header("Customer segments")
    view = _cached(data.segments_view, settings)
    if view is None:
        st.info("ml.segment_summary is not published yet: run `retail-intel run`.")
        return
    summary = view.summary
    first, second, third = st.columns(3)
    first.metric("Customers", f"{int(summary['customers'].sum()):,}")
    second.metric("Segments", f"{len(summary)}")
    third.metric(
        "Moved segment since the previous run",
        f"{view.moved_customers:,}" if view.movement is not None else "first run",
    )
    left, right = st.columns(2)
    left.altair_chart(
        alt.Chart(summary)
        .mark_bar()
        .encode(x=alt.X("customers:Q", title="Customers"), y=alt.Y("segment:N", sort="-x", title=None))
        .properties(title="Size", height=300),
        **WIDE,
    )
    right.altair_chart(
        alt.Chart(summary)
        .mark_bar(color="#54a24b")
        .encode(
            x=alt.X("revenue_share:Q", title="Share of revenue", axis=alt.Axis(format="%")),
            y=alt.Y("segment:N", sort="-x", title=None),
        )
        .properties(title="Revenue share", height=300),
        **WIDE,
    )
    if view.movement is not None:
        st.subheader("Movement since the previous run")
        st.altair_chart(
            alt.Chart(view.movement)
            .mark_bar()
            .encode(
                x=alt.X("change:Q", title="Customers gained (+) or lost (-)", axis=alt.Axis(format="d")),
                y=alt.Y("segment:N", sort="-x", title=None),
                color=alt.condition("datum.change >= 0", alt.value("#54a24b"), alt.value("#e45756")),
            )
            .properties(height=260),
            **WIDE,
        )
        st.dataframe(view.movement, hide_index=True, **WIDE)
    else:
        st.caption("The first run of the segments: movement shows from the next run on.")
    st.dataframe(summary, hide_index=True, **WIDE)


def recommendations(settings: Settings) -> None:
    st.header("Recommendations and coupons")
    view = _cached(data.recommendations_view, settings)
    if view is None:
        st.info("ml.recommendations is not published yet: run `retail-intel run`.")
        return
    first, second, third = st.columns(3)
    first.metric(
        "Customers with a list",
        f"{view.customer_coverage:.1%}",
        help=f"{view.customers_with_list:,} of {view.customers:,} customers",
    )
    second.metric(
        "Catalogue recommended",
        f"{view.catalogue_coverage:.1%}",
        help=f"{view.products_recommended:,} of {view.products:,} products appear in some list",
    )
    third.metric("Model", ", ".join(view.model_versions) or "none")
    if view.bands is None:
        st.info("No campaign scored yet: `retail-intel score` writes the coupon bands.")
        return
    st.subheader("Coupon bands of the last campaign")
    st.altair_chart(
        alt.Chart(view.bands)
        .mark_bar()
        .encode(x=alt.X("band:N", title=None, sort="-y"), y=alt.Y("customers:Q", title="Customers"))
        .properties(height=280),
        **WIDE,
    )
    st.dataframe(view.bands, hide_index=True, **WIDE)


def models(settings: Settings) -> None:
    st.header("Model health and experiments")
    view = _cached(data.models_view, settings)
    if view.checks is not None:
        failed = int((~view.checks["passed"].astype(bool)).sum())
        st.metric("Model checks failed in the last run", f"{failed} of {len(view.checks)}")
        st.dataframe(view.checks, hide_index=True, **WIDE)
    else:
        st.info("No model check recorded yet: run `retail-intel run`.")
    left, right = st.columns(2)
    if view.forecast is not None:
        left.altair_chart(
            alt.Chart(view.forecast)
            .mark_bar()
            .encode(
                x=alt.X("wape:Q", title="Backtest WAPE (lower is better)"),
                y=alt.Y("candidate:N", sort="x", title=None),
                color=alt.condition("datum.chosen", alt.value("#f58518"), alt.value("#9ecae9")),
            )
            .properties(title="Forecast candidates (orange: chosen)", height=280),
            **WIDE,
        )
    if view.recommender is not None:
        right.altair_chart(
            alt.Chart(view.recommender)
            .mark_bar(color="#4c78a8")
            .encode(
                x=alt.X("hr_at_10:Q", title="HR@10, full catalogue, test window"),
                y=alt.Y("candidate:N", sort="-x", title=None),
            )
            .properties(title="Recommender candidates", height=280),
            **WIDE,
        )
    st.subheader("Experiments")
    if view.experiments is None:
        st.info("No experiment read out yet (`retail-intel experiments create`, then a run).")
    else:
        st.dataframe(view.experiments, hide_index=True, **WIDE)


def operator(settings: Settings) -> None:
    st.header("All tenants")
    view = _cached(data.operator_view, settings)
    if view is None:
        st.info("No tenant has run yet: the operator's table (ops.tenant_status) is written after every run.")
        return
    columns = st.columns(4)
    columns[0].metric("Active tenants", f"{int((view.tenants['status'] == 'active').sum()):,}")
    for column, state in zip(columns[1:], ("on", "frozen", "off"), strict=True):
        column.metric(f"Engine {state}", f"{view.engines[state]:,}")
    runs = view.tenants.groupby("last_run_status").size().rename("tenants").reset_index()
    st.altair_chart(
        alt.Chart(runs)
        .mark_bar()
        .encode(x=alt.X("tenants:Q", title="Tenants"), y=alt.Y("last_run_status:N", title="Last run"))
        .properties(height=160),
        **WIDE,
    )
    st.dataframe(view.tenants, hide_index=True, **WIDE)
