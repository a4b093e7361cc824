"""Named data-set shapes that real clients have and Olist does not.

Each preset is a ``GeneratorConfig`` with its shape fixed (catalogue, people, timeline)
and a default size. ``orders`` scales every preset: the shape per customer and per
product stays, the number of customers grows with it (a preset's fixed catalogue or
seller count does not). docs/generator.md describes each preset's latent structure.

    from retail_intel.generator import generate, preset_config
    generate(preset_config("small_shop", seed=7), Path("data/small_shop"))
    generate(preset_config("subscription", orders=100_000), Path("data/subscription"))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Any

from .config import GeneratorConfig

# Every preset's window ends where Olist's does, so that calendars line up across shapes.
END = date(2018, 10, 17)


@dataclass(frozen=True)
class Preset:
    name: str
    summary: str  # one line, shown by `retail-intel generate --help`
    orders: int  # default size
    shape: Mapping[str, Any] = field(default_factory=dict)  # GeneratorConfig fields it fixes

    def config(self, orders: int | None = None, seed: int = 42, messy_rate: float = 1.0) -> GeneratorConfig:
        return GeneratorConfig(
            orders=self.orders if orders is None else orders, seed=seed, messy_rate=messy_rate, **self.shape
        )


def _preset(name: str, summary: str, orders: int, **shape: Any) -> Preset:
    return Preset(name, summary, orders, MappingProxyType(shape))


PRESETS: Mapping[str, Preset] = MappingProxyType(
    {
        preset.name: preset
        for preset in (
            _preset(
                "small_shop",
                "a 10-product, 2-category, single-seller shop; 20% repeat buyers; 2 years",
                3_000,
                products=10,
                categories=2,
                sellers=1,
                repeat_rate=0.2,
                growth=1.5,
                start_date=date(2016, 10, 18),
                end_date=END,
            ),
            _preset(
                "subscription",
                "80% of people come back at regular ~30-day intervals (median 4 orders); 300 products; 2 years",
                20_000,
                products=300,
                categories=12,
                sellers=20,
                repeat_rate=0.85,
                orders_per_repeater=10,
                order_interval_days=30,
                interval_cv=0.12,
                repurchase_rate=0.5,
                start_date=date(2016, 10, 18),
                end_date=END,
            ),
            _preset(
                "long_history",
                "about 1,000 people with 20 to 200 one-item orders each (median ~60); 1,500 products; 3 years",
                70_000,
                products=1_500,
                sellers=100,
                max_items_per_order=1,
                repeat_rate=0.99,
                orders_per_repeater=250,
                order_interval_days=15,
                interval_cv=1.0,
                acquisition_mean_days=30,
                repurchase_rate=0.25,
                start_date=date(2015, 10, 18),
                end_date=END,
            ),
            _preset(
                "decaying",
                "a cohort acquired mostly (~90%) in the first quarter, then fading activity; 18 months",
                20_000,
                repeat_rate=0.6,
                orders_per_repeater=6,
                order_interval_days=40,
                interval_cv=0.8,
                acquisition_mean_days=60,
                start_date=date(2017, 4, 18),
                end_date=END,
            ),
            _preset(
                "growing",
                "daily orders grow eight-fold (log-linear) over 2 years",
                20_000,
                growth=8.0,
                repeat_rate=0.05,
                start_date=date(2016, 10, 18),
                end_date=END,
            ),
            _preset(
                "short_history",
                "60 days of history only",
                10_000,
                start_date=date(2018, 8, 19),
                end_date=END,
            ),
            _preset(
                "huge_catalog",
                "a 300,000-product catalogue, listed whole (~90% of it unsold at 50K orders)",
                50_000,
                products=300_000,
            ),
        )
    }
)


def preset_config(name: str, orders: int | None = None, seed: int = 42, messy_rate: float = 1.0) -> GeneratorConfig:
    """The configuration of preset ``name`` (``ValueError`` naming the presets if unknown)."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; presets: {', '.join(PRESETS)}")
    return PRESETS[name].config(orders=orders, seed=seed, messy_rate=messy_rate)
