"""Configuration of the synthetic Olist generator."""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class GeneratorConfig:
    """What to generate. Validated on construction (``ValueError`` naming the parameter)."""

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

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        if isinstance(self.orders, bool) or not isinstance(self.orders, numbers.Integral):
            raise ValueError(f"orders must be an integer, got {self.orders!r}")
        if self.orders < 1:
            raise ValueError(f"orders must be >= 1, got {self.orders}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, numbers.Integral) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        if not isinstance(self.repeat_rate, numbers.Real) or not 0 <= self.repeat_rate < 1:
            raise ValueError(f"repeat_rate must be in [0, 1), got {self.repeat_rate!r}")
        if not isinstance(self.messy_rate, numbers.Real) or not self.messy_rate >= 0:
            raise ValueError(f"messy_rate must be >= 0, got {self.messy_rate!r}")
        if not isinstance(self.start_date, date) or not isinstance(self.end_date, date):
            raise ValueError("start_date and end_date must be datetime.date values")
        if not self.start_date < self.end_date:
            raise ValueError(f"start_date must be before end_date, got {self.start_date} >= {self.end_date}")
