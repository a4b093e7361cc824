"""Stage 1, the calendar and the demand: the daily order intensity and each order's purchase time."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ml.retail_calendar import black_friday

from . import catalog as cat
from .config import GeneratorConfig
from .sampling import DAY, HOUR, sample_cdf


def easter(year: int) -> np.datetime64:
    """Gregorian Easter Sunday (anonymous algorithm)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month = (h + l_ - 7 * m + 114) // 31
    day = (h + l_ - 7 * m + 114) % 31 + 1
    return np.datetime64(f"{year:04d}-{month:02d}-{day:02d}", "D")


def window_days(cfg: GeneratorConfig) -> int:
    """Number of days from start_date to end_date, both included."""
    return int((np.datetime64(cfg.end_date, "D") - np.datetime64(cfg.start_date, "D")).astype(np.int64)) + 1


@dataclass
class Calendar:
    days: np.ndarray  # datetime64[D]
    day0_seconds: int  # epoch seconds of days[0]
    trend: np.ndarray
    intensity: np.ndarray  # expected relative order volume per day
    congestion: np.ndarray  # >= 1: slower logistics on peak days

    @property
    def snapshot(self) -> int:
        """The data is "extracted" at midnight after end_date (epoch seconds)."""
        return self.day0_seconds + self.days.size * DAY


def build_calendar(rng: np.random.Generator, cfg: GeneratorConfig, trend: np.ndarray | None = None) -> Calendar:
    """The daily order intensity. ``trend`` (one value per day) replaces the configured one."""
    start = np.datetime64(cfg.start_date, "D")
    end = np.datetime64(cfg.end_date, "D")
    days = np.arange(start, end + 1)
    day_num = days.astype(np.int64)

    if trend is None and cfg.growth is not None:
        trend = float(cfg.growth) ** (np.arange(days.size) / (days.size - 1))
    if trend is None:
        anchor_x = np.array([np.datetime64(d, "D").astype(np.int64) for d, _ in cat.TREND_ANCHORS])
        anchor_y = np.log([v for _, v in cat.TREND_ANCHORS])
        trend = np.exp(np.interp(day_num, anchor_x, anchor_y))

    weekday = (day_num + 3) % 7
    weekly = cat.WEEKDAY_FACTORS[weekday]

    events = np.ones(days.size)
    for year in range(cfg.start_date.year, cfg.end_date.year + 1):
        marks = [(np.datetime64(f"{year:04d}-{mo:02d}-{d:02d}", "D"), f) for mo, d, f in cat.FIXED_HOLIDAYS]
        e = easter(year)
        marks += [(e + off, f) for off, f in cat.EASTER_HOLIDAYS]
        bf = np.datetime64(black_friday(year), "D")
        marks += [(bf + off, f) for off, f in cat.BLACK_FRIDAY_EFFECTS]
        for day, factor in marks:
            i = int((day - start).astype(np.int64))
            if 0 <= i < days.size:
                events[i] *= factor

    noise = np.exp(rng.normal(0.0, 0.08, days.size))
    intensity = trend * weekly * events * noise
    congestion = np.maximum(1.0, events) ** 0.4
    day0 = int(start.astype(np.int64)) * DAY
    return Calendar(days, day0, trend, intensity, congestion)


@dataclass
class Purchases:
    """When each order was placed; orders are numbered in this (chronological) order."""

    time: np.ndarray  # epoch seconds, sorted
    day: np.ndarray  # day index into the calendar


def draw_purchases(rng: np.random.Generator, cal: Calendar, n_orders: int) -> Purchases:
    """Spread exactly ``n_orders`` over the days by intensity, each at an hour of the daily profile."""
    n_days = cal.days.size
    per_day = rng.multinomial(n_orders, cal.intensity / cal.intensity.sum())
    order_day = np.repeat(np.arange(n_days), per_day)
    hour_cdf = np.cumsum(cat.HOUR_WEIGHTS) / cat.HOUR_WEIGHTS.sum()
    hour = sample_cdf(hour_cdf, rng.random(n_orders))
    purchase = cal.day0_seconds + order_day * DAY + hour * HOUR + rng.integers(0, HOUR, n_orders)
    chrono = np.argsort(purchase, kind="stable")
    return Purchases(purchase[chrono], order_day[chrono])
