"""The quirks of real data (messy records): their base rates and how records are picked.

Every quirk draws from the messy stream only (``mrng`` in ``model.simulate``), never from
the world's, so one seed with another ``messy_rate`` gives the same world, only more or
less quirky. The stages apply the quirks that touch their records: ``timeline`` (orders
that lose their items, canceled orders that were delivered, delivered orders missing a
timestamp), ``reviews`` (a review id reused on the neighbouring order) and ``tables``
(city spellings, products without category or dimensions, geolocation gaps and
duplicates). docs/generator.md lists them all.
"""

from __future__ import annotations

import numpy as np

# Messy-record base rates (multiplied by config.messy_rate).
MESSY_ITEMLESS_ORDERS = 0.008
MESSY_NULL_CATEGORY = 0.0185
MESSY_NULL_DIMENSIONS = 0.0004
MESSY_DUPLICATE_REVIEW_ID = 0.008
MESSY_DELIVERED_NO_DELIVERY_DATE = 0.0002
MESSY_DELIVERED_NO_APPROVAL = 0.00015
MESSY_DELIVERED_NO_CARRIER = 0.00005
MESSY_CANCELED_DELIVERED = 0.01  # of canceled orders
MESSY_CITY_VARIANT = 0.01
MESSY_GEO_CITY_VARIANT = 0.03
MESSY_GEO_DUPLICATE = 0.25
MESSY_GEO_MISSING_ZIP = 0.005


def messy_count(rng: np.random.Generator, n: int, rate: float, at_least_one: bool = False) -> int:
    """How many of n records get a quirk at this rate (0 when rate is 0)."""
    if rate <= 0 or n == 0:
        return 0
    k = int(rng.binomial(n, min(rate, 1.0)))
    return max(k, 1) if at_least_one else k


def messy_rows(
    rng: np.random.Generator, candidates: int | np.ndarray, rate: float, at_least_one: bool = False
) -> np.ndarray:
    """The records that get a quirk at this rate: distinct, drawn from ``candidates``.

    ``candidates`` is a count n (records 0..n-1) or an array of record indices, as
    ``Generator.choice`` takes it. Nothing is drawn beyond the count when no record gets
    the quirk, so the stream stays where it was.
    """
    n = int(candidates) if np.ndim(candidates) == 0 else len(candidates)
    k = messy_count(rng, n, rate, at_least_one)
    if not k:
        return np.array([], dtype=np.int64)
    return rng.choice(candidates, size=k, replace=False)


def city_variants(rng: np.random.Generator, city: np.ndarray, rate: float) -> np.ndarray:
    """Index into Geo.city_names: the plain spelling, or a messy variant at ``rate``."""
    variant = np.zeros(city.size, dtype=np.int64)
    rows = messy_rows(rng, city.size, rate)
    if rows.size:
        variant[rows] = rng.integers(1, 5, size=rows.size)
    return city * 5 + variant
