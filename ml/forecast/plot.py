"""The forecast as a PNG: recent revenue, the forecast and its interval."""

from __future__ import annotations

import io

import pandas as pd

from ml.forecast.candidates.base import INTERVAL_WIDTH

PLOT_HISTORY_DAYS = 120


def plot_forecast(history: pd.DataFrame, forecast: pd.DataFrame, title: str = "") -> bytes:
    """PNG bytes: the last PLOT_HISTORY_DAYS days of revenue, the forecast and its interval."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    recent = history.tail(PLOT_HISTORY_DAYS)
    forecast_dates = pd.to_datetime(forecast["date"])
    # A Figure on its own Agg canvas, not pyplot: no global figure state and no GUI backend.
    figure = Figure(figsize=(10, 4), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    axes.plot(recent["date"], recent["revenue"], color="0.3", linewidth=1, label="revenue")
    axes.plot(forecast_dates, forecast["yhat"], color="tab:blue", linewidth=1.5, label="forecast")
    axes.fill_between(
        forecast_dates,
        forecast["yhat_lower"],
        forecast["yhat_upper"],
        color="tab:blue",
        alpha=0.2,
        label=f"{INTERVAL_WIDTH:.0%} interval",
    )
    axes.set_ylim(bottom=0)
    axes.set_ylabel("revenue per day (BRL)")
    axes.set_title(title)
    axes.legend(loc="upper left")
    figure.autofmt_xdate()
    figure.tight_layout()
    buffer = io.BytesIO()
    # No Software tag, so the bytes do not change with the matplotlib version.
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
