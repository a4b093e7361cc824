"""Configuration of the synthetic Olist generator."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from datetime import date

from .catalog import CATEGORIES

N_CATEGORIES = len(CATEGORIES)
MAX_ITEMS_PER_ORDER = 6  # the length of items.ITEMS_PER_ORDER_P


def _is_int(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, numbers.Integral)


def _is_real(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, numbers.Real) and math.isfinite(value)


@dataclass(frozen=True)
class GeneratorConfig:
    """What to generate. Validated on construction (``ValueError`` naming the parameter).

    The fields after ``end_date`` shape the data set away from Olist's; at their defaults
    the generator produces exactly the bytes it always has for a given seed. The named
    presets in ``presets.py`` combine them; docs/generator.md describes each.
    """

    orders: int = 10_000
    seed: int = 42
    # Share of distinct people (customer_unique_id) with more than one order.
    # Olist: about 3% (96,096 people for 99,441 orders).
    repeat_rate: float = 0.03
    # Multiplier on the Olist-like rates of quirky records: 0 = perfectly clean data,
    # 1 = Olist-like, 3 = three times as messy.
    messy_rate: float = 1.0
    start_date: date = date(2016, 9, 4)
    end_date: date = date(2018, 10, 17)
    # Size of the catalogue. None: Olist-like, scaled with the orders, and only products
    # that sold are listed. A number: exactly that many products, all of them listed
    # (a shop's catalogue export), sold or not.
    products: int | None = None
    # Number of product categories, drawn by size from the 73 Olist ones. None: all 73.
    categories: int | None = None
    # Number of sellers. None: Olist-like, scaled with the orders, only those that sold
    # are listed. A number: exactly that many, all listed (1 = a single shop).
    sellers: int | None = None
    # Largest number of items in an order (1..6); Olist's item-count mix is truncated.
    max_items_per_order: int = MAX_ITEMS_PER_ORDER
    # Mean number of orders of a person who orders more than once (>= 2). None: Olist's
    # mix (2 orders 86%, 3 orders 10%, ...). With order_interval_days this is the planned
    # count; the window's end censors it.
    orders_per_repeater: float | None = None
    # Long-run daily-volume ratio between the last and the first day (log-linear trend).
    # None: Olist's growth curve (TREND_ANCHORS). Not used with order_interval_days.
    growth: float | None = None
    # People-driven timeline: when set, each person orders at intervals around a personal
    # mean interval (median of the people: this many days) from their acquisition day, and
    # the daily volume follows from the people, not from a trend.
    order_interval_days: float | None = None
    # Coefficient of variation of one person's intervals: 0.1 = a subscription's regular
    # cadence, 1 = memoryless (Poisson) purchasing. Only with order_interval_days.
    interval_cv: float = 1.0
    # Mean days from start_date to a person's first order (exponential, cut at the window).
    # None: acquisition uniform over the window. Only with order_interval_days.
    acquisition_mean_days: float | None = None
    # Probability that an order's first item re-buys a product of one of the person's
    # earlier orders (replenishment). 0: choices are independent given the person's tastes.
    repurchase_rate: float = 0.0

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        if not _is_int(self.orders):
            raise ValueError(f"orders must be an integer, got {self.orders!r}")
        if self.orders < 1:
            raise ValueError(f"orders must be >= 1, got {self.orders}")
        if not _is_int(self.seed) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        if not isinstance(self.repeat_rate, numbers.Real) or not 0 <= self.repeat_rate < 1:
            raise ValueError(f"repeat_rate must be in [0, 1), got {self.repeat_rate!r}")
        if not isinstance(self.messy_rate, numbers.Real) or not self.messy_rate >= 0:
            raise ValueError(f"messy_rate must be >= 0, got {self.messy_rate!r}")
        if not isinstance(self.start_date, date) or not isinstance(self.end_date, date):
            raise ValueError("start_date and end_date must be datetime.date values")
        if not self.start_date < self.end_date:
            raise ValueError(f"start_date must be before end_date, got {self.start_date} >= {self.end_date}")
        if self.categories is not None and (not _is_int(self.categories) or not 1 <= self.categories <= N_CATEGORIES):
            raise ValueError(f"categories must be an integer in [1, {N_CATEGORIES}] or None, got {self.categories!r}")
        if self.products is not None:
            n_categories = N_CATEGORIES if self.categories is None else self.categories
            if not _is_int(self.products) or self.products < n_categories:
                raise ValueError(
                    f"products must be an integer >= the number of categories ({n_categories}) or None, "
                    f"got {self.products!r}"
                )
        if self.sellers is not None and (not _is_int(self.sellers) or self.sellers < 1):
            raise ValueError(f"sellers must be a positive integer or None, got {self.sellers!r}")
        if not _is_int(self.max_items_per_order) or not 1 <= self.max_items_per_order <= MAX_ITEMS_PER_ORDER:
            raise ValueError(
                f"max_items_per_order must be an integer in [1, {MAX_ITEMS_PER_ORDER}], "
                f"got {self.max_items_per_order!r}"
            )
        if self.orders_per_repeater is not None and (
            not _is_real(self.orders_per_repeater) or not 2 <= self.orders_per_repeater <= 10_000
        ):
            raise ValueError(f"orders_per_repeater must be in [2, 10000] or None, got {self.orders_per_repeater!r}")
        if self.growth is not None and (not _is_real(self.growth) or not 0.01 <= self.growth <= 100):
            raise ValueError(f"growth must be in [0.01, 100] or None, got {self.growth!r}")
        if self.order_interval_days is not None and (
            not _is_real(self.order_interval_days) or not 0.5 <= self.order_interval_days <= 3_650
        ):
            raise ValueError(f"order_interval_days must be in [0.5, 3650] or None, got {self.order_interval_days!r}")
        if not _is_real(self.interval_cv) or not 0.01 <= self.interval_cv <= 3:
            raise ValueError(f"interval_cv must be in [0.01, 3], got {self.interval_cv!r}")
        if self.acquisition_mean_days is not None and (
            not _is_real(self.acquisition_mean_days) or not self.acquisition_mean_days > 0
        ):
            raise ValueError(f"acquisition_mean_days must be > 0 or None, got {self.acquisition_mean_days!r}")
        if not _is_real(self.repurchase_rate) or not 0 <= self.repurchase_rate < 1:
            raise ValueError(f"repurchase_rate must be in [0, 1), got {self.repurchase_rate!r}")
        if self.order_interval_days is None:
            if self.acquisition_mean_days is not None:
                raise ValueError("acquisition_mean_days needs order_interval_days (a people-driven timeline)")
            if self.interval_cv != 1.0:
                raise ValueError("interval_cv needs order_interval_days (a people-driven timeline)")
        elif self.growth is not None:
            raise ValueError("growth cannot be combined with order_interval_days: the people set the trend")

    @property
    def people_driven(self) -> bool:
        """True when the people's purchase timelines, not a trend, drive the daily volume."""
        return self.order_interval_days is not None
