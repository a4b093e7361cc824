"""The generative model: latent customers, products, sellers and calendar -> nine tables.

``simulate`` runs the stages in order; each stage is a function in its own module:

1. ``demand``: the calendar's daily order intensity and each order's purchase time;
2. ``people``: who places each order, and each person's latent tastes;
3. ``geography``: the zip pools (and zips drawn from them, distances);
4. ``sellers`` and ``products``: the latent catalogue and its sellers;
5. ``items``: each order's items (the choice model), prices and freight;
6. ``timeline``: approval, shipping and delivery dates, and the status at the snapshot;
7. ``payments``: payment types, rows and installments;
8. ``reviews``: review dates, scores and texts;
9. ``tables``: the nine Olist tables, with the row orders and quirks of the files.

``messy`` holds the quirks' rates and how quirky records are picked, ``sampling`` the
shared helpers and units. Everything is vectorised with numpy; the only Python loops run
over days of the calendar, years, states, categories or the few messy-record kinds, plus
a few passes for the shape options (batches of people, re-purchase chains). All
randomness comes from one ``numpy.random.default_rng(seed)``, drawn in a fixed order, so
one configuration always yields the same tables: the stages must run in the order below,
and tests/generator/test_golden.py pins their bytes.

Units: timestamps are int64 seconds since the Unix epoch (naive local time, as in
Olist), money is int64 cents. See docs/generator.md for the model itself.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa

from .config import GeneratorConfig
from .demand import black_friday, build_calendar, draw_purchases, window_days
from .geography import build_geo
from .items import draw_items
from .payments import draw_payment_choice, draw_payments
from .people import assign_people, draw_people, people_timelines, people_trend
from .products import category_mix, choose_categories, draw_products
from .reviews import draw_reviews
from .sellers import draw_sellers
from .tables import (
    customers_table,
    draw_ids,
    geolocation_table,
    items_table,
    list_catalogue,
    orders_table,
    payments_table,
    products_table,
    reviews_table,
    sellers_table,
    translation_table,
)
from .timeline import draw_timeline, settle_status

# black_friday is the holiday calendar's, re-exported: tests/ml/test_retail_calendar.py checks
# that the generator and the forecast share one definition of it.
__all__ = ["black_friday", "simulate"]


def simulate(cfg: GeneratorConfig, progress: Callable[[str], None] | None = None) -> dict[str, pa.Table]:
    """Run the generative model; returns one arrow table per Olist file name. ``progress``, if
    given, is told each stage as it starts (it draws nothing: the output is the same without it).

    Column order and names follow the raw contract; money columns hold int64 cents
    (the writer formats them with two decimals).
    """
    # Two streams: ``rng`` draws the world, ``mrng`` only the messy quirks. Every draw
    # from ``rng`` has a size that does not depend on the quirks, so the same seed with
    # another messy_rate gives the same orders, people and products, only more or less
    # quirky.
    # A third stream, ``srng``, draws only what the shape options add (a category subset,
    # people-driven timelines, re-purchases); at the defaults it is never used, which is
    # what keeps the default output byte-identical to the generator before the options.
    report = progress or (lambda stage: None)
    rng, mrng, srng = np.random.default_rng(cfg.seed).spawn(3)
    messy = float(cfg.messy_rate)
    n_orders = int(cfg.orders)
    categories = choose_categories(srng, cfg)
    cat_w = category_mix(categories)

    report("calendar and purchase days")
    n_days = window_days(cfg)
    plan_person = None
    if cfg.people_driven:
        # The people plan their purchases first; the calendar's trend is their smoothed
        # volume, and the weekday, holiday and noise factors apply on top as usual.
        plan_person, plan_day = people_timelines(srng, cfg, n_days)
        cal = build_calendar(rng, cfg, trend=people_trend(plan_day, n_days))
    else:
        cal = build_calendar(rng, cfg)
    purchases = draw_purchases(rng, cal, n_orders)

    report("people, places, sellers and products")
    order_person, n_people = assign_people(rng, cfg, plan_person)
    geo = build_geo(rng, n_orders)
    people = draw_people(rng, geo, cat_w, n_people)
    sellers = draw_sellers(rng, cfg, geo, cat_w)
    products = draw_products(rng, cfg, categories, cat_w, cal, sellers)
    report("order items")
    items = draw_items(rng, srng, cfg, purchases.day, n_days, order_person, people, geo, sellers, products)
    report("payments, deliveries and statuses")
    choice = draw_payment_choice(rng, people, order_person)
    timeline = draw_timeline(rng, purchases, cal, choice.type, items, sellers, people, order_person)
    settled = settle_status(mrng, messy, timeline, cal.snapshot)
    payments = draw_payments(rng, choice, items.order_total, order_person, people)
    report("reviews")
    reviews = draw_reviews(
        rng,
        mrng,
        messy,
        timeline,
        settled,
        cal.snapshot,
        mood=people.mood[order_person],
        quality=products.quality[items.product[items.first]],
    )
    ids = draw_ids(rng, n_orders, n_people, products.n, sellers.n)

    # The tables draw their row orders from ``rng`` and their quirks from ``mrng``: keep
    # them in this order.
    report("tables")
    tables: dict[str, pa.Table] = {}
    tables["olist_customers_dataset.csv"] = customers_table(rng, mrng, messy, ids, order_person, people, geo)
    tables["olist_orders_dataset.csv"] = orders_table(rng, ids, purchases, timeline, settled)
    tables["olist_order_items_dataset.csv"], sold_items = items_table(rng, ids, items, purchases, timeline, settled)
    tables["olist_order_payments_dataset.csv"] = payments_table(rng, ids, payments)
    tables["olist_order_reviews_dataset.csv"] = reviews_table(rng, ids, reviews, n_orders)
    listing = list_catalogue(rng, cfg, items, sold_items, products.n, sellers.n)
    tables["olist_products_dataset.csv"] = products_table(mrng, messy, ids, products, categories, listing)
    tables["olist_sellers_dataset.csv"] = sellers_table(mrng, messy, ids, sellers, geo, listing)
    tables["product_category_name_translation.csv"] = translation_table()
    tables["olist_geolocation_dataset.csv"] = geolocation_table(
        rng, mrng, messy, geo, people.zip[order_person], sellers.zip[listing.sellers]
    )
    return tables
