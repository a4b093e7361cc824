"""Stage 4a, the sellers: where they are, how big, what they specialise in and how fast they ship."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import catalog as cat
from .config import GeneratorConfig
from .geography import Geo, draw_zips
from .sampling import sample_cdf

SELLERS_PER_ORDER = 0.031  # sellers with at least one sale, per order
# The latent sellers are more; like Olist's files, the output lists only sellers that
# sold something (topped up with unsold ones to the minimum size).
SELLER_OVERSAMPLE = 1.25
MIN_SELLERS = 50


@dataclass
class Sellers:
    """One row per latent seller."""

    state: np.ndarray
    zip: np.ndarray  # row of Geo
    size: np.ndarray
    main_cat: np.ndarray
    speed: np.ndarray  # handling-time multiplier
    all_cdf: np.ndarray  # cdf over all sellers by size

    @property
    def n(self) -> int:
        return self.state.size


def draw_sellers(rng: np.random.Generator, cfg: GeneratorConfig, geo: Geo, cat_w: np.ndarray) -> Sellers:
    """The latent sellers: as many as configured, or scaled with the orders (``cat_w``: the category mix)."""
    if cfg.sellers is None:
        n_sellers = max(MIN_SELLERS, int(round(SELLERS_PER_ORDER * SELLER_OVERSAMPLE * int(cfg.orders))))
    else:
        n_sellers = int(cfg.sellers)
    seller_share = np.array([s.seller_share for s in cat.STATES])
    seller_state = sample_cdf(np.cumsum(seller_share / seller_share.sum()), rng.random(n_sellers))
    seller_zip = draw_zips(rng, geo, seller_state)
    seller_size = rng.lognormal(0.0, 1.4, n_sellers)
    seller_main_cat = sample_cdf(np.cumsum(cat_w), rng.random(n_sellers))
    seller_speed = rng.lognormal(0.0, 0.3, n_sellers)
    seller_all_cdf = np.cumsum(seller_size) / seller_size.sum()
    return Sellers(seller_state, seller_zip, seller_size, seller_main_cat, seller_speed, seller_all_cdf)
