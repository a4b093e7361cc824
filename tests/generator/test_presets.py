"""The generator's presets: each loads through the raw loader, keeps the keys, and has its shape.

Every preset is generated once (at a small size where its shape allows), loaded with
``retail_intel.raw.loader`` into DuckDB, and its defining property is asserted with SQL
on the loaded tables, so the assertions read the files as the platform does.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import date
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from apps.cli import main
from retail_intel.generator import GeneratorConfig, generate
from retail_intel.generator.presets import PRESETS, preset_config
from retail_intel.raw.contract import ORDER_STATUSES, PAYMENT_TYPES, RAW_FILES
from retail_intel.raw.loader import load_raw_dir

# Orders per preset in these tests: small where the shape survives it. long_history's
# shape is its size (about 1,000 people with 50+ orders each) and huge_catalog's
# catalogue does not shrink with the orders.
TEST_ORDERS = {
    "small_shop": None,
    "subscription": 5_000,
    "long_history": None,
    "decaying": 6_000,
    "growing": 6_000,
    "short_history": 3_000,
    "huge_catalog": 5_000,
}
SEED = 7

# One row per order with its person, purchase time, item count and item revenue.
ORDER_FACTS = """
    create or replace table order_facts as
    select o.order_id, c.customer_unique_id as person, o.order_purchase_timestamp as purchased_at,
           count(i.order_id) as items, coalesce(sum(i.price), 0) as revenue
    from raw.olist_orders_dataset o
    join raw.olist_customers_dataset c using (customer_id)
    left join raw.olist_order_items_dataset i using (order_id)
    group by all
"""


class Loaded:
    def __init__(self, directory: Path, counts: dict[str, int]):
        self.dir = directory
        self.counts = counts
        self.con = duckdb.connect()
        load_raw_dir(self.con, directory)
        self.con.execute(ORDER_FACTS)

    def value(self, sql: str):
        [(value,)] = self.con.execute(sql).fetchall()
        return value

    def column(self, sql: str) -> set:
        return {row[0] for row in self.con.execute(sql).fetchall()}


@pytest.fixture(scope="module")
def presets(tmp_path_factory):
    cache: dict[str, Loaded] = {}

    def get(name: str) -> Loaded:
        if name not in cache:
            directory = tmp_path_factory.mktemp(name)
            counts = generate(preset_config(name, orders=TEST_ORDERS[name], seed=SEED), directory)
            cache[name] = Loaded(directory, counts)
        return cache[name]

    yield get
    for loaded in cache.values():
        loaded.con.close()


def test_every_preset_has_a_test_size():
    assert set(TEST_ORDERS) == set(PRESETS)


@pytest.mark.parametrize("name", list(TEST_ORDERS))
def test_preset_loads_and_keeps_keys_statuses_payments_and_reviews(presets, name):
    data = presets(name)
    orders = TEST_ORDERS[name] or PRESETS[name].orders
    assert data.counts["olist_orders_dataset.csv"] == orders
    for raw in RAW_FILES:
        assert data.value(f"select count(*) from raw.{raw.table_name}") == data.counts[raw.file_name], raw.file_name
    value = data.value
    assert value("select count(distinct order_id) = count(*) from raw.olist_orders_dataset")
    assert value("select count(distinct product_id) = count(*) from raw.olist_products_dataset")
    assert value("select count(distinct seller_id) = count(*) from raw.olist_sellers_dataset")
    for child, key, parent in (
        ("olist_order_items_dataset", "order_id", "olist_orders_dataset"),
        ("olist_order_items_dataset", "product_id", "olist_products_dataset"),
        ("olist_order_items_dataset", "seller_id", "olist_sellers_dataset"),
        ("olist_order_payments_dataset", "order_id", "olist_orders_dataset"),
        ("olist_order_reviews_dataset", "order_id", "olist_orders_dataset"),
        ("olist_orders_dataset", "customer_id", "olist_customers_dataset"),
    ):
        orphans = value(f"select count(*) from raw.{child} where {key} not in (select {key} from raw.{parent})")
        assert orphans == 0, (child, key)
    statuses = data.column("select distinct order_status from raw.olist_orders_dataset")
    assert statuses <= set(ORDER_STATUSES) and "delivered" in statuses
    assert value("select avg((order_status = 'delivered')::int) from raw.olist_orders_dataset") > 0.6
    assert data.column("select distinct payment_type from raw.olist_order_payments_dataset") <= set(PAYMENT_TYPES)
    # Every order is paid, and the payments of an order with items sum to its price + freight.
    assert value("select count(distinct order_id) from raw.olist_order_payments_dataset") == orders
    mismatched = value(
        """
        with due as (select order_id, sum(price + freight_value) as due from raw.olist_order_items_dataset group by 1),
             paid as (select order_id, sum(payment_value) as paid from raw.olist_order_payments_dataset group by 1)
        select count(*) from due join paid using (order_id) where due <> paid
        """
    )
    assert mismatched == 0
    assert value("select min(review_score) >= 1 and max(review_score) <= 5 from raw.olist_order_reviews_dataset")
    assert value("select count(*) from raw.olist_order_reviews_dataset") > 0.6 * orders
    # A person keeps one state over all their orders.
    assert (
        value(
            "select max(n) from (select count(distinct customer_state) n from raw.olist_customers_dataset group by "
            "customer_unique_id)"
        )
        == 1
    )


def test_small_shop_sells_ten_products_of_few_categories_from_one_seller(presets):
    data = presets("small_shop")
    assert data.value("select count(*) from raw.olist_products_dataset") == 10
    assert data.value("select count(distinct product_category_name) from raw.olist_products_dataset") <= 2
    assert data.value("select count(*) from raw.olist_sellers_dataset") == 1
    assert data.value("select count(distinct product_id) from raw.olist_order_items_dataset") <= 10
    assert 2_000 <= data.value("select count(*) from raw.olist_orders_dataset") <= 5_000


def test_subscription_people_come_back_at_regular_intervals(presets):
    data = presets("subscription")
    repeat_share, median_orders = data.con.execute(
        "select avg((n >= 2)::int), median(n) from (select count(*) n from order_facts group by person)"
    ).fetchone()
    assert repeat_share >= 0.6
    assert median_orders >= 3
    # Regular cadence: a person's intervals vary little (memoryless purchasing gives a CV near 1).
    median_cv, median_gap = data.con.execute(
        """
        with gaps as (
            select person, date_diff('second', lag(purchased_at) over (partition by person order by purchased_at),
                                     purchased_at) / 86400 as gap
            from order_facts
        )
        select median(cv), median(mean_gap)
        from (select stddev(gap) / avg(gap) as cv, avg(gap) as mean_gap from gaps where gap is not null
              group by person having count(gap) >= 3)
        """
    ).fetchone()
    assert median_cv < 0.3
    assert 20 < median_gap < 45


def test_long_history_has_a_thousand_people_with_long_single_item_histories(presets):
    data = presets("long_history")
    people, median_orders, p90 = data.con.execute(
        "select count(*), median(n), quantile_cont(n, 0.9) from (select count(*) n from order_facts group by person)"
    ).fetchone()
    assert 800 <= people <= 1_300
    assert median_orders >= 50
    assert p90 >= 100  # dozens to hundreds
    assert data.value("select max(items) from order_facts") == 1
    assert data.value("select count(*) from raw.olist_products_dataset") < 2_000
    # Tastes persist: a person's last order is mostly in one of their own three favourite
    # categories so far, far more often than in the three most popular categories overall.
    own, overall = data.con.execute(
        """
        with ordered as (
            select f.person, p.product_category_name as category,
                   row_number() over (partition by f.person order by f.purchased_at desc, f.order_id) as back
            from order_facts f
            join raw.olist_order_items_dataset i using (order_id)
            join raw.olist_products_dataset p using (product_id)
            where p.product_category_name is not null
        ),
        history as (select person, category, count(*) as n from ordered where back > 1 group by all),
        favourite as (
            select person, category from (
                select *, row_number() over (partition by person order by n desc, category) as rank from history
            ) where rank <= 3
        ),
        popular as (select category from ordered group by 1 order by count(*) desc, category limit 3),
        last_order as (select person, category from ordered where back = 1)
        select avg((exists (select 1 from favourite f where f.person = l.person and f.category = l.category))::int),
               avg((l.category in (select category from popular))::int)
        from last_order l
        """
    ).fetchone()
    assert own > 0.7
    assert own > overall + 0.3


def test_decaying_shop_acquires_early_then_fades_with_a_weekly_pattern(presets):
    data = presets("decaying")
    first_day, last_day = data.con.execute(
        "select min(purchased_at)::date, max(purchased_at)::date from order_facts"
    ).fetchone()
    quarter_end = first_day + (last_day - first_day) / 4
    after_quarter, last_90 = data.con.execute(
        f"""
        select sum(revenue) filter (where purchased_at >= '{quarter_end}'
                                      and purchased_at < date '{quarter_end}' + interval 90 day),
               sum(revenue) filter (where purchased_at >= date '{last_day}' - interval 89 day)
        from order_facts
        """
    ).fetchone()
    assert last_90 < after_quarter / 2
    acquired_early = data.value(
        f"select avg((first < '{quarter_end}')::int) from (select min(purchased_at) first from order_facts group by "
        "person)"
    )
    assert acquired_early > 0.7
    weekday, weekend = data.con.execute(
        """
        select avg(n) filter (where isodow(day) <= 5), avg(n) filter (where isodow(day) > 5)
        from (select purchased_at::date as day, count(*) as n from order_facts group by 1)
        """
    ).fetchone()
    assert weekday > 1.15 * weekend


def test_growing_shop_ends_with_several_times_its_first_quarter(presets):
    data = presets("growing")
    first_day, last_day = data.con.execute(
        "select min(purchased_at)::date, max(purchased_at)::date from order_facts"
    ).fetchone()
    quarter = (last_day - first_day) / 4
    first_quarter, last_quarter = data.con.execute(
        f"""
        select count(*) filter (where purchased_at < date '{first_day + quarter}'),
               count(*) filter (where purchased_at >= date '{last_day - quarter}')
        from order_facts
        """
    ).fetchone()
    assert last_quarter >= 3 * first_quarter


def test_short_history_spans_sixty_days(presets):
    data = presets("short_history")
    span_days = data.value("select date_diff('second', min(purchased_at), max(purchased_at)) / 86400 from order_facts")
    assert 50 < span_days <= 60


def test_huge_catalog_lists_three_hundred_thousand_products(presets):
    data = presets("huge_catalog")
    assert data.value("select count(*) from raw.olist_products_dataset") >= 300_000
    sold = data.value("select count(distinct product_id) from raw.olist_order_items_dataset")
    assert sold < 0.05 * 300_000  # listed whole, mostly unsold
    assert data.value("select count(distinct product_category_name) from raw.olist_products_dataset") >= 70


# ------------------------------------------------------------------ determinism and scaling


def digests(directory: Path) -> dict[str, str]:
    return {raw.file_name: hashlib.sha256((directory / raw.file_name).read_bytes()).hexdigest() for raw in RAW_FILES}


@pytest.mark.parametrize("name, orders", [("small_shop", 800), ("subscription", 1_500), ("long_history", 3_000)])
def test_one_seed_gives_the_same_bytes(tmp_path, name, orders):
    generate(preset_config(name, orders=orders, seed=3), tmp_path / "a")
    generate(preset_config(name, orders=orders, seed=3), tmp_path / "b")
    generate(preset_config(name, orders=orders, seed=4), tmp_path / "c")
    assert digests(tmp_path / "a") == digests(tmp_path / "b")
    assert digests(tmp_path / "a")["olist_orders_dataset.csv"] != digests(tmp_path / "c")["olist_orders_dataset.csv"]


def test_orders_scale_the_people_not_the_fixed_catalogue(tmp_path):
    counts = generate(preset_config("small_shop", orders=8_000, seed=1), tmp_path / "shop")
    assert counts["olist_orders_dataset.csv"] == 8_000
    assert counts["olist_products_dataset.csv"] == 10 and counts["olist_sellers_dataset.csv"] == 1
    small = Loaded(tmp_path / "shop", counts)
    assert small.value("select avg((n >= 2)::int) from (select count(*) n from order_facts group by person)") > 0.15
    small.con.close()
    counts = generate(preset_config("long_history", orders=7_000, seed=1), tmp_path / "long")
    long = Loaded(tmp_path / "long", counts)
    people, median_orders = long.con.execute(
        "select count(*), median(n) from (select count(*) n from order_facts group by person)"
    ).fetchone()
    long.con.close()
    assert 70 <= people <= 140  # a tenth of the orders, a tenth of the people
    assert median_orders >= 50


def test_unknown_preset_names_the_presets():
    with pytest.raises(ValueError, match="small_shop"):
        preset_config("big_shop")


# ------------------------------------------------------------------ the shape options


@pytest.mark.parametrize(
    "kwargs, parameter",
    [
        ({"products": 0}, "products"),
        ({"products": 50}, "products"),  # fewer than the 73 categories
        ({"products": 5, "categories": 6}, "products"),
        ({"categories": 0}, "categories"),
        ({"categories": 74}, "categories"),
        ({"sellers": 0}, "sellers"),
        ({"max_items_per_order": 0}, "max_items_per_order"),
        ({"max_items_per_order": 7}, "max_items_per_order"),
        ({"orders_per_repeater": 1.5}, "orders_per_repeater"),
        ({"growth": 0.0}, "growth"),
        ({"growth": float("inf")}, "growth"),
        ({"order_interval_days": 0.0}, "order_interval_days"),
        ({"order_interval_days": 30, "interval_cv": 0.0}, "interval_cv"),
        ({"interval_cv": 0.5}, "interval_cv"),  # without order_interval_days
        ({"acquisition_mean_days": 10}, "acquisition_mean_days"),  # without order_interval_days
        ({"order_interval_days": 30, "acquisition_mean_days": -1}, "acquisition_mean_days"),
        ({"order_interval_days": 30, "growth": 2.0}, "growth"),
        ({"repurchase_rate": 1.0}, "repurchase_rate"),
        ({"repurchase_rate": float("nan")}, "repurchase_rate"),
    ],
)
def test_bad_shape_option_raises_value_error_naming_it(kwargs, parameter):
    with pytest.raises(ValueError, match=parameter):
        GeneratorConfig(**kwargs)


def test_tiny_shapes_generate(tmp_path):
    one_product = GeneratorConfig(orders=40, seed=1, products=1, categories=1, sellers=1, messy_rate=0)
    counts = generate(one_product, tmp_path / "one_product")
    assert counts["olist_products_dataset.csv"] == 1 and counts["olist_sellers_dataset.csv"] == 1
    two_days = GeneratorConfig(
        orders=300,
        seed=2,
        repeat_rate=0.9,
        order_interval_days=1,
        acquisition_mean_days=1,
        start_date=date(2021, 1, 1),
        end_date=date(2021, 1, 2),
    )
    counts = generate(two_days, tmp_path / "two_days")
    assert counts["olist_orders_dataset.csv"] == 300
    data = Loaded(tmp_path / "two_days", counts)
    assert data.value("select max(purchased_at) < timestamp '2021-01-03' from order_facts")
    data.con.close()
    assert generate(replace(two_days, orders=1), tmp_path / "single")["olist_orders_dataset.csv"] == 1


# ------------------------------------------------------------------ command line


def test_cli_generates_a_preset_and_lists_them_in_help(tmp_path):
    runner = CliRunner()
    help_text = runner.invoke(main, ["generate", "--help"]).output
    for name in PRESETS:
        assert name in help_text
    out = tmp_path / "cli"
    result = runner.invoke(main, ["generate", "--preset", "small_shop", "--orders", "600", "--seed", "5", "--out", out])
    assert result.exit_code == 0, result.output
    generate(preset_config("small_shop", orders=600, seed=5), tmp_path / "api")
    assert digests(out) == digests(tmp_path / "api")
    unknown = runner.invoke(main, ["generate", "--preset", "big_shop", "--out", tmp_path / "x"])
    assert unknown.exit_code == 2 and "small_shop" in unknown.output
    clash = runner.invoke(
        main, ["generate", "--preset", "subscription", "--repeat-rate", "0.1", "--out", tmp_path / "y"]
    )
    assert clash.exit_code == 2 and "--repeat-rate" in clash.output
