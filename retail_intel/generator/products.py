"""Stage 4b, the catalogue: the categories in use and the latent products with their main sellers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import catalog as cat
from .config import GeneratorConfig
from .demand import Calendar
from .sampling import sample_cdf
from .sellers import Sellers

PRODUCTS_PER_ORDER = 0.33  # products with at least one sale, per order
# The latent catalogue is larger; like Olist's files, the output lists only products
# that sold something (topped up with unsold ones to the minimum size).
PRODUCT_OVERSAMPLE = 1.75
MIN_PRODUCTS = 300
PRICE_SIGMA = 1.05  # log-price spread within a category
PRICE_SCALE = 1.08  # on the catalogue's category medians
MAX_PRICE = 6_999.0  # Olist's dearest item is about R$6,700
ZIPF_EXPONENT = 0.6


def choose_categories(srng: np.random.Generator, cfg: GeneratorConfig) -> tuple[cat.Category, ...]:
    """The categories in use: all of Olist's, or ``cfg.categories`` of them drawn by size (shape stream)."""
    if cfg.categories is None:
        return cat.CATEGORIES
    sizes = np.array([c.items for c in cat.CATEGORIES], dtype=float)
    chosen = srng.choice(sizes.size, size=int(cfg.categories), replace=False, p=sizes / sizes.sum())
    return tuple(cat.CATEGORIES[i] for i in np.sort(chosen))


def category_mix(categories: tuple[cat.Category, ...]) -> np.ndarray:
    """The national category mix: each category's share by its size in Olist."""
    cat_w = np.array([c.items for c in categories], dtype=float)
    cat_w /= cat_w.sum()
    return cat_w


@dataclass
class Products:
    """One row per latent product, stored sorted by category."""

    cat: np.ndarray  # index into the categories in use
    cat_start: np.ndarray  # products of category c are rows cat_start[c]:cat_start[c+1]
    pop: np.ndarray  # base popularity
    z: np.ndarray  # price level (standard normal)
    price_cents: np.ndarray
    launch: np.ndarray  # day index (fractional, may be negative)
    tau: np.ndarray  # fade time (days)
    quality: np.ndarray
    weight_g: np.ndarray
    length: np.ndarray
    height: np.ndarray
    width: np.ndarray
    name_len: np.ndarray
    desc_len: np.ndarray
    photos: np.ndarray
    seller: np.ndarray  # main seller
    seller2: np.ndarray  # second seller

    @property
    def n(self) -> int:
        return self.cat.size


def draw_products(
    rng: np.random.Generator,
    cfg: GeneratorConfig,
    categories: tuple[cat.Category, ...],
    cat_w: np.ndarray,
    cal: Calendar,
    sellers: Sellers,
) -> Products:
    """The latent catalogue: products allocated to categories by size, with price, life cycle, size and sellers."""
    n_cat = len(categories)
    if cfg.products is None:
        n_products = max(MIN_PRODUCTS, int(round(PRODUCTS_PER_ORDER * PRODUCT_OVERSAMPLE * int(cfg.orders))))
    else:
        n_products = int(cfg.products)
    raw = cat_w * (n_products - n_cat)
    per_cat = 1 + np.floor(raw).astype(np.int64)
    short = n_products - per_cat.sum()
    per_cat[np.argsort(-(raw - np.floor(raw)), kind="stable")[:short]] += 1
    prod_cat = np.repeat(np.arange(n_cat), per_cat)  # products stored sorted by category
    cat_start = np.concatenate([[0], np.cumsum(per_cat)])
    shuffled = np.argsort(prod_cat + rng.random(n_products), kind="stable")
    rank = np.empty(n_products, dtype=np.int64)  # 0-based random rank inside the category
    rank[shuffled] = np.arange(n_products) - cat_start[prod_cat[shuffled]]
    pop = (1.0 + rank) ** -ZIPF_EXPONENT * rng.lognormal(0.0, 0.6, n_products)
    price_med = np.array([c.price_median for c in categories])
    weight_med = np.array([c.weight_median for c in categories])
    prod_z = rng.normal(0.0, 1.0, n_products)
    price = np.minimum(PRICE_SCALE * price_med[prod_cat] * np.exp(PRICE_SIGMA * prod_z), MAX_PRICE)
    ending = rng.random(n_products)
    price_cents = np.where(
        price < 10,
        np.rint(price * 100),
        np.where(
            ending < 0.5,
            np.floor(price) * 100 + 90,
            np.where(ending < 0.8, np.floor(price) * 100 + 99, np.rint(price * 100)),
        ),
    ).astype(np.int64)
    price_cents = np.maximum(price_cents, 85)
    # Launches follow the marketplace's growth: a product appears some weeks before the
    # demand that it serves (launch day drawn from the order-intensity curve, shifted back).
    day_cdf = np.cumsum(cal.intensity) / cal.intensity.sum()
    launch = sample_cdf(day_cdf, rng.random(n_products)) - rng.uniform(0, 90, n_products)
    tau = np.where(rng.random(n_products) < 0.3, 1e5, rng.lognormal(np.log(250.0), 0.7, n_products))
    quality = rng.normal(0.0, 1.0, n_products)
    weight_g = weight_med[prod_cat] * np.exp(0.5 * prod_z + rng.normal(0.0, 0.85, n_products))
    weight_g = np.clip(np.rint(weight_g), 50, 40_000)
    volume = weight_g * rng.lognormal(np.log(8.0), 0.5, n_products)
    side = np.cbrt(volume)
    length = np.clip(np.rint(side * rng.lognormal(0.25, 0.25, n_products)), 7, 105)
    height = np.clip(np.rint(side * rng.lognormal(-0.35, 0.3, n_products)), 2, 105)
    width = np.clip(np.rint(volume / (length * height)), 6, 118)
    name_len = np.clip(np.rint(rng.normal(48, 10, n_products)), 5, 76)
    desc_len = np.clip(np.rint(rng.lognormal(np.log(600), 0.7, n_products)), 4, 3992)
    photos = rng.geometric(0.55, n_products) + (rng.random(n_products) < 0.1) * rng.integers(1, 6, n_products)
    photos = np.minimum(photos, 20)
    # Main seller: a seller specialised in the category when there is one.
    prod_seller = np.empty(n_products, dtype=np.int64)
    u_main = rng.random(n_products)
    u_pick = rng.random(n_products)
    for c in range(n_cat):
        lo, hi = cat_start[c], cat_start[c + 1]
        spec = np.flatnonzero(sellers.main_cat == c)
        choice = sellers.all_cdf.searchsorted(u_pick[lo:hi], side="right")
        if spec.size:
            spec_cdf = np.cumsum(sellers.size[spec]) / sellers.size[spec].sum()
            use_spec = u_main[lo:hi] < 0.8
            choice = np.where(use_spec, spec[sample_cdf(spec_cdf, u_pick[lo:hi])], choice)
        prod_seller[lo:hi] = np.minimum(choice, sellers.n - 1)
    prod_seller2 = sample_cdf(sellers.all_cdf, rng.random(n_products))
    return Products(
        cat=prod_cat,
        cat_start=cat_start,
        pop=pop,
        z=prod_z,
        price_cents=price_cents,
        launch=launch,
        tau=tau,
        quality=quality,
        weight_g=weight_g,
        length=length,
        height=height,
        width=width,
        name_len=name_len,
        desc_len=desc_len,
        photos=photos,
        seller=prod_seller,
        seller2=prod_seller2,
    )
