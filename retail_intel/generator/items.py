"""Stage 5, the orders' items and the choice model: category, product, seller, price and freight of each item."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import GeneratorConfig
from .geography import Geo, haversine_km
from .people import BAND_CENTERS, N_BANDS, People, draw_category
from .products import Products
from .sampling import sample_cdf
from .sellers import Sellers

ITEMS_PER_ORDER_P = np.array([0.900, 0.072, 0.016, 0.006, 0.003, 0.003])  # 1..6 items
SAME_CATEGORY_P = 0.75  # extra item of an order stays in the first item's category
SAME_PRODUCT_P = 0.55  # extra item repeats the first item's product
PRICE_FIT_SD = 1.0


def rebuy_sources(rng: np.random.Generator, order_person: np.ndarray, n_people: int, rate: float) -> np.ndarray:
    """For each (chronological) order, the order whose first product it re-buys (itself if none).

    With probability ``rate`` a person's non-first order copies a uniformly chosen earlier
    order of theirs; chains of copies are followed to the order that drew the product.
    """
    n_orders = order_person.size
    by_person = np.argsort(order_person, kind="stable")  # chronological within each person
    person_start = np.searchsorted(order_person[by_person], np.arange(n_people))
    position = np.empty(n_orders, dtype=np.int64)
    position[by_person] = np.arange(n_orders) - person_start[order_person[by_person]]
    rebuy = (position > 0) & (rng.random(n_orders) < rate)
    earlier = by_person[person_start[order_person] + (rng.random(n_orders) * position).astype(np.int64)]
    source = np.where(rebuy, earlier, np.arange(n_orders))
    while True:  # pointer jumping: each pass halves the longest chain
        nxt = source[source]
        if np.array_equal(nxt, source):
            return source
        source = nxt


@dataclass
class Items:
    """One row per item (grouped by order, orders chronological), plus per-order sums."""

    order: np.ndarray  # the item's order
    no: np.ndarray  # order_item_id, 1..n within the order
    first: np.ndarray  # per order: row of its first item
    product: np.ndarray
    seller: np.ndarray
    price: np.ndarray  # cents
    freight: np.ndarray  # cents
    dist: np.ndarray  # km from seller to customer
    order_total: np.ndarray  # per order: price + freight, cents

    @property
    def n(self) -> int:
        return self.order.size


def draw_items(
    rng: np.random.Generator,
    srng: np.random.Generator,
    cfg: GeneratorConfig,
    order_day: np.ndarray,
    n_days: int,
    order_person: np.ndarray,
    people: People,
    geo: Geo,
    sellers: Sellers,
    products: Products,
) -> Items:
    """Draw each order's items: category from the person's tastes, product by popularity, life cycle and
    price fit (per month bucket), then re-purchases and repeats, seller, discount and freight."""
    n_orders = order_person.size
    n_people = people.state.size
    n_cat = products.cat_start.size - 1
    cat_start = products.cat_start
    items_p = ITEMS_PER_ORDER_P[: cfg.max_items_per_order]
    n_items_order = 1 + sample_cdf(np.cumsum(items_p), rng.random(n_orders))
    n_items = int(n_items_order.sum())
    it_order = np.repeat(np.arange(n_orders), n_items_order)
    first_item = np.cumsum(n_items_order) - n_items_order
    it_no = np.arange(n_items) - first_item[it_order] + 1
    it_person = order_person[it_order]
    it_cat = draw_category(rng, people, it_person)
    first_cat = it_cat[first_item]
    same_cat = (it_no > 1) & (rng.random(n_items) < SAME_CATEGORY_P)
    it_cat = np.where(same_cat, first_cat[it_order], it_cat)

    n_buckets = int(min(40, max(1, round(n_days / 30))))
    bucket_of_day = (np.arange(n_days) * n_buckets) // n_days
    bucket_mid = (np.arange(n_buckets) + 0.5) * n_days / n_buckets
    it_row = bucket_of_day[order_day[it_order]] * N_BANDS + people.band[it_person]
    it_product = np.empty(n_items, dtype=np.int64)
    u_prod = rng.random(n_items)
    by_cat = np.argsort(it_cat, kind="stable")
    bounds = np.searchsorted(it_cat[by_cat], np.arange(n_cat + 1))
    fit = np.exp(-((products.z[None, :] - BAND_CENTERS[:, None]) ** 2) / (2 * PRICE_FIT_SD**2))
    for c in range(n_cat):
        idx = by_cat[bounds[c] : bounds[c + 1]]
        if idx.size == 0:
            continue
        lo, hi = cat_start[c], cat_start[c + 1]
        n_c = hi - lo
        age = bucket_mid[:, None] - products.launch[None, lo:hi]
        life = np.where(
            age >= 0,
            -np.expm1(-np.maximum(age, 0) / 20.0) * np.exp(-np.maximum(age, 0) / products.tau[None, lo:hi]),
            0.0,
        )
        base = products.pop[None, lo:hi] * fit[:, lo:hi]  # (bands, n_c)
        w = (life[:, None, :] * base[None, :, :]).reshape(n_buckets * N_BANDS, n_c)
        row_sum = w.sum(axis=1)
        empty = row_sum <= 0
        if empty.any():  # nothing launched yet: fall back to static popularity
            w[empty] = base[np.flatnonzero(empty) % N_BANDS]
        cum = np.cumsum(w, axis=1)
        cum /= cum[:, -1:]
        cum += np.arange(n_buckets * N_BANDS)[:, None]
        rows = it_row[idx]
        pos = np.searchsorted(cum.ravel(), rows + u_prod[idx], side="right") - rows * n_c
        it_product[idx] = lo + np.clip(pos, 0, n_c - 1)
    if cfg.repurchase_rate > 0:
        source = rebuy_sources(srng, order_person, n_people, float(cfg.repurchase_rate))
        it_product[first_item] = it_product[first_item[source]]
    same_prod = (it_no > 1) & (rng.random(n_items) < SAME_PRODUCT_P)
    it_product = np.where(same_prod, it_product[first_item[it_order]], it_product)
    it_seller = np.where(rng.random(n_items) < 0.04, products.seller2[it_product], products.seller[it_product])
    discount = np.where(rng.random(n_items) < 0.12, rng.uniform(0.8, 0.97, n_items), 1.0)
    it_price = np.maximum(np.rint(products.price_cents[it_product] * discount), 85).astype(np.int64)
    cust_zip = people.zip[it_person]
    sell_zip = sellers.zip[it_seller]
    dist = haversine_km(geo.zip_lat[cust_zip], geo.zip_lng[cust_zip], geo.zip_lat[sell_zip], geo.zip_lng[sell_zip])
    w_kg = products.weight_g[it_product] / 1000.0
    freight = (9.5 + 3.2 * w_kg**0.75 + dist / 140.0 * (1.0 + 0.3 * np.sqrt(w_kg))) * rng.lognormal(0.0, 0.25, n_items)
    freight = np.where(rng.random(n_items) < 0.003, 0.0, freight)
    it_freight = np.rint(freight * 100).astype(np.int64)
    order_total = np.bincount(it_order, weights=it_price + it_freight, minlength=n_orders)
    order_total = np.rint(order_total).astype(np.int64)
    return Items(
        order=it_order,
        no=it_no,
        first=first_item,
        product=it_product,
        seller=it_seller,
        price=it_price,
        freight=it_freight,
        dist=dist,
        order_total=order_total,
    )
