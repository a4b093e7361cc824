"""Stage 9, assembly: the nine Olist tables (arrow) from the drawn world, in the files' row orders.

Each builder also draws what only the output needs (row shuffles, shipping deadlines,
which unsold products and sellers are listed, geolocation points) and applies the
quirks of its file, so ``model.simulate`` must call them in the order of the files.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from . import catalog as cat
from .config import GeneratorConfig
from .demand import Purchases
from .geography import Geo
from .items import Items
from .messy import (
    MESSY_CITY_VARIANT,
    MESSY_GEO_CITY_VARIANT,
    MESSY_GEO_DUPLICATE,
    MESSY_GEO_MISSING_ZIP,
    MESSY_NULL_CATEGORY,
    MESSY_NULL_DIMENSIONS,
    city_variants,
    messy_rows,
)
from .payments import PAYMENT_NAMES, Payments
from .people import People
from .products import MIN_PRODUCTS, Products
from .reviews import MESSAGE_NAMES, TITLE_NAMES, Reviews
from .sampling import DAY, HOUR, hex_ids
from .sellers import MIN_SELLERS, Sellers
from .timeline import STATUS_NAMES, OrderStatus, Timeline

STATE_CODES = [s.code for s in cat.STATES]


# ---- arrow columns -------------------------------------------------------------------


def ids_to_arrow(ids: np.ndarray) -> pa.Array:
    """'S32' hex ids as an arrow string array."""
    arr = pa.Array.from_buffers(pa.binary(32), len(ids), [None, pa.py_buffer(ids.tobytes())])
    return arr.cast(pa.binary()).cast(pa.string())


def lookup(names: list[str] | tuple[str, ...], idx: np.ndarray) -> pa.Array:
    """names[idx] as an arrow string array; idx < 0 gives NULL."""
    idx = np.asarray(idx, dtype=np.int64)
    mask = idx < 0
    indices = pa.array(np.where(mask, 0, idx), type=pa.int64(), mask=mask if mask.any() else None)
    return pa.array(list(names), type=pa.string()).take(indices)


def ts_array(seconds: np.ndarray, present: np.ndarray | None = None) -> pa.Array:
    """Epoch seconds as an arrow timestamp array; NULL where not ``present``."""
    mask = None if present is None else ~present
    return pa.array(np.asarray(seconds, dtype=np.int64), type=pa.timestamp("s"), mask=mask)


def int_array(values: np.ndarray, present: np.ndarray | None = None) -> pa.Array:
    """An arrow int64 array; NULL where not ``present``."""
    mask = None if present is None else ~present
    return pa.array(np.asarray(values, dtype=np.int64), type=pa.int64(), mask=mask)


# ---- ids -----------------------------------------------------------------------------


@dataclass
class Ids:
    """The 32-hex-digit keys of the written entities."""

    order: np.ndarray
    customer: np.ndarray  # one per order, as in Olist
    person: np.ndarray  # customer_unique_id
    product: np.ndarray
    seller: np.ndarray


def draw_ids(rng: np.random.Generator, n_orders: int, n_people: int, n_products: int, n_sellers: int) -> Ids:
    """Fresh distinct ids for every order, customer, person, product and seller."""
    order_ids = hex_ids(rng, n_orders)
    customer_ids = hex_ids(rng, n_orders)
    person_ids = hex_ids(rng, n_people)
    product_ids = hex_ids(rng, n_products)
    seller_ids = hex_ids(rng, n_sellers)
    return Ids(order_ids, customer_ids, person_ids, product_ids, seller_ids)


# ---- the files -----------------------------------------------------------------------


def customers_table(
    rng: np.random.Generator,
    mrng: np.random.Generator,
    messy: float,
    ids: Ids,
    order_person: np.ndarray,
    people: People,
    geo: Geo,
) -> pa.Table:
    """olist_customers_dataset: one row per order (a fresh customer_id), in random order."""
    perm = rng.permutation(order_person.size)
    cust_zip_o = people.zip[order_person]
    cust_city = city_variants(mrng, geo.zip_city[cust_zip_o], MESSY_CITY_VARIANT * messy)
    return pa.table(
        {
            "customer_id": ids_to_arrow(ids.customer[perm]),
            "customer_unique_id": ids_to_arrow(ids.person[order_person[perm]]),
            "customer_zip_code_prefix": pa.array(geo.zip_code[cust_zip_o[perm]].astype(str)),
            "customer_city": lookup(geo.city_names, cust_city[perm]),
            "customer_state": lookup(STATE_CODES, people.state[order_person[perm]]),
        }
    )


def orders_table(
    rng: np.random.Generator, ids: Ids, purchases: Purchases, timeline: Timeline, settled: OrderStatus
) -> pa.Table:
    """olist_orders_dataset: one row per order, in random order."""
    perm = rng.permutation(purchases.time.size)
    return pa.table(
        {
            "order_id": ids_to_arrow(ids.order[perm]),
            "customer_id": ids_to_arrow(ids.customer[perm]),
            "order_status": lookup(STATUS_NAMES, settled.status[perm]),
            "order_purchase_timestamp": ts_array(purchases.time[perm]),
            "order_approved_at": ts_array(timeline.approved[perm], settled.has_approved[perm]),
            "order_delivered_carrier_date": ts_array(timeline.carrier[perm], settled.has_carrier[perm]),
            "order_delivered_customer_date": ts_array(timeline.delivered[perm], settled.has_delivered[perm]),
            "order_estimated_delivery_date": ts_array(timeline.estimated[perm]),
        }
    )


def items_table(
    rng: np.random.Generator,
    ids: Ids,
    items: Items,
    purchases: Purchases,
    timeline: Timeline,
    settled: OrderStatus,
) -> tuple[pa.Table, np.ndarray]:
    """olist_order_items_dataset, sorted by order id and item number, without the itemless orders' items;
    also returns the item rows written."""
    it_order = items.order
    keep = ~settled.itemless[it_order]
    shipping_limit = timeline.approved[it_order] + DAY * rng.integers(2, 8, items.n)  # a deadline: may lie ahead
    shipping_limit = (shipping_limit // HOUR) * HOUR + purchases.time[it_order] % HOUR
    item_sort = np.lexsort((items.no, ids.order[it_order]))
    item_sort = item_sort[keep[item_sort]]
    table = pa.table(
        {
            "order_id": ids_to_arrow(ids.order[it_order[item_sort]]),
            "order_item_id": int_array(items.no[item_sort]),
            "product_id": ids_to_arrow(ids.product[items.product[item_sort]]),
            "seller_id": ids_to_arrow(ids.seller[items.seller[item_sort]]),
            "shipping_limit_date": ts_array(shipping_limit[item_sort]),
            "price": int_array(items.price[item_sort]),
            "freight_value": int_array(items.freight[item_sort]),
        }
    )
    return table, item_sort


def payments_table(rng: np.random.Generator, ids: Ids, payments: Payments) -> pa.Table:
    """olist_order_payments_dataset: one row per payment, in random order."""
    perm = rng.permutation(payments.n)
    return pa.table(
        {
            "order_id": ids_to_arrow(ids.order[payments.order[perm]]),
            "payment_sequential": int_array(payments.seq[perm]),
            "payment_type": lookup(PAYMENT_NAMES, payments.type[perm]),
            "payment_installments": int_array(payments.installments[perm]),
            "payment_value": int_array(payments.value[perm]),
        }
    )


def reviews_table(rng: np.random.Generator, ids: Ids, reviews: Reviews, n_orders: int) -> pa.Table:
    """olist_order_reviews_dataset: one row per review, in random order."""
    perm = np.argsort(rng.random(n_orders)[reviews.order], kind="stable")
    return pa.table(
        {
            "review_id": ids_to_arrow(reviews.id[perm]),
            "order_id": ids_to_arrow(ids.order[reviews.order[perm]]),
            "review_score": int_array(reviews.score[perm]),
            "review_comment_title": lookup(TITLE_NAMES, reviews.title[perm]),
            "review_comment_message": lookup(MESSAGE_NAMES, reviews.message[perm]),
            "review_creation_date": ts_array(reviews.creation[perm]),
            "review_answer_timestamp": ts_array(reviews.answer[perm]),
        }
    )


def listed_subset(key: np.ndarray, sold: np.ndarray, minimum: int) -> np.ndarray:
    """Indices written to a file: every entity that sold, topped up with unsold ones
    (in the random order of ``key``) until there are ``minimum`` of them (or none are left)."""
    listed = np.flatnonzero(sold)
    unsold = np.flatnonzero(~sold)
    need = min(max(0, minimum - listed.size), unsold.size)
    if need:
        extra = unsold[np.argsort(key[unsold], kind="stable")[:need]]
        listed = np.sort(np.concatenate([listed, extra]))
    return listed


@dataclass
class Listing:
    """Which latent products and sellers the files list, and the products' random file order."""

    product_key: np.ndarray  # per latent product: its random sort key
    products: np.ndarray  # listed product rows, ascending
    sellers: np.ndarray  # listed seller rows, ascending


def list_catalogue(
    rng: np.random.Generator,
    cfg: GeneratorConfig,
    items: Items,
    sold_items: np.ndarray,
    n_products: int,
    n_sellers: int,
) -> Listing:
    """The products and sellers with a written sale, topped up with unsold ones to the minimum sizes."""
    product_key = rng.random(n_products)
    # A configured catalogue (or seller count) is listed whole, like a shop's catalogue export.
    listed_products = listed_subset(
        product_key,
        np.bincount(items.product[sold_items], minlength=n_products) > 0,
        MIN_PRODUCTS if cfg.products is None else n_products,
    )
    listed_sellers = listed_subset(
        rng.random(n_sellers),
        np.bincount(items.seller[sold_items], minlength=n_sellers) > 0,
        MIN_SELLERS if cfg.sellers is None else n_sellers,
    )
    return Listing(product_key, listed_products, listed_sellers)


def products_table(
    mrng: np.random.Generator,
    messy: float,
    ids: Ids,
    products: Products,
    categories: tuple[cat.Category, ...],
    listing: Listing,
) -> pa.Table:
    """olist_products_dataset: the listed products in random order; some lack a category or dimensions."""
    listed_products = listing.products
    n_products = products.n
    null_cat = np.zeros(n_products, dtype=bool)
    null_cat[messy_rows(mrng, listed_products, MESSY_NULL_CATEGORY * messy)] = True
    null_dim = np.zeros(n_products, dtype=bool)
    null_dim[messy_rows(mrng, listed_products, MESSY_NULL_DIMENSIONS * messy, at_least_one=True)] = True
    perm = listed_products[np.argsort(listing.product_key[listed_products], kind="stable")]
    cat_names = [c.name for c in categories]
    return pa.table(
        {
            "product_id": ids_to_arrow(ids.product[perm]),
            "product_category_name": lookup(cat_names, np.where(null_cat, -1, products.cat)[perm]),
            "product_name_lenght": int_array(products.name_len[perm], ~null_cat[perm]),
            "product_description_lenght": int_array(products.desc_len[perm], ~null_cat[perm]),
            "product_photos_qty": int_array(products.photos[perm], ~null_cat[perm]),
            "product_weight_g": int_array(products.weight_g[perm], ~null_dim[perm]),
            "product_length_cm": int_array(products.length[perm], ~null_dim[perm]),
            "product_height_cm": int_array(products.height[perm], ~null_dim[perm]),
            "product_width_cm": int_array(products.width[perm], ~null_dim[perm]),
        }
    )


def sellers_table(
    mrng: np.random.Generator, messy: float, ids: Ids, sellers: Sellers, geo: Geo, listing: Listing
) -> pa.Table:
    """olist_sellers_dataset: the listed sellers, in seller order."""
    ls = listing.sellers
    seller_city = city_variants(mrng, geo.zip_city[sellers.zip[ls]], MESSY_CITY_VARIANT * messy)
    return pa.table(
        {
            "seller_id": ids_to_arrow(ids.seller[ls]),
            "seller_zip_code_prefix": pa.array(geo.zip_code[sellers.zip[ls]].astype(str)),
            "seller_city": lookup(geo.city_names, seller_city),
            "seller_state": lookup(STATE_CODES, sellers.state[ls]),
        }
    )


def translation_table() -> pa.Table:
    """product_category_name_translation: reference data, the same for every configuration."""
    translated = [c for c in cat.CATEGORIES if c.english is not None]
    return pa.table(
        {
            "product_category_name": pa.array([c.name for c in translated]),
            "product_category_name_english": pa.array([c.english for c in translated]),
        }
    )


def geolocation_table(
    rng: np.random.Generator,
    mrng: np.random.Generator,
    messy: float,
    geo: Geo,
    customer_zips: np.ndarray,
    seller_zips: np.ndarray,
) -> pa.Table:
    """olist_geolocation_dataset, sorted by zip prefix: every zip prefix in use (by a customer or a listed
    seller) plus some unused ones, 3-10 jittered points each."""
    used = np.zeros(geo.zip_code.size, dtype=bool)
    used[customer_zips] = True
    used[seller_zips] = True
    used_rows = np.flatnonzero(used)
    n_pool = geo.zip_code.size
    extra = rng.random(n_pool) < 0.15
    reps_all = rng.integers(3, 11, n_pool)
    jitter = rng.normal(0.0, 0.01, (2, n_pool, 10))
    missing = messy_rows(mrng, used_rows, MESSY_GEO_MISSING_ZIP * messy)
    listed = used | extra
    listed[missing] = False
    geo_zip = np.flatnonzero(listed)
    geo_zip = geo_zip[np.argsort(geo.zip_code[geo_zip], kind="stable")]
    reps = reps_all[geo_zip]
    g_zip = np.repeat(geo_zip, reps)
    n_geo = g_zip.size
    g_first = np.repeat(np.cumsum(reps) - reps, reps)
    g_rep = np.arange(n_geo) - g_first
    g_lat = geo.zip_lat[g_zip] + jitter[0, g_zip, g_rep]
    g_lng = geo.zip_lng[g_zip] + jitter[1, g_zip, g_rep]
    # Messy: exact duplicate points within a zip (Olist repeats many rows verbatim).
    dup = (g_rep > 0) & (mrng.random(n_geo) < min(0.9, MESSY_GEO_DUPLICATE * messy))
    src = np.where(dup, np.maximum.accumulate(np.where(dup, 0, np.arange(n_geo))), np.arange(n_geo))
    g_lat = np.round(g_lat[src], 14)
    g_lng = np.round(g_lng[src], 14)
    g_city = city_variants(mrng, geo.zip_city[g_zip], MESSY_GEO_CITY_VARIANT * messy)
    return pa.table(
        {
            "geolocation_zip_code_prefix": pa.array(geo.zip_code[g_zip].astype(str)),
            "geolocation_lat": pa.array(g_lat),
            "geolocation_lng": pa.array(g_lng),
            "geolocation_city": lookup(geo.city_names, g_city),
            "geolocation_state": lookup(STATE_CODES, geo.zip_state[g_zip]),
        }
    )
