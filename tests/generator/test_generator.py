"""Tests of the synthetic Olist generator: format, keys, calibration and learnable signal."""

from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import replace
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from retail_intel.generator import GeneratorConfig, generate
from retail_intel.raw.contract import ORDER_STATUSES, PAYMENT_TYPES, RAW_FILES

ORDERS = "olist_orders_dataset.csv"
CUSTOMERS = "olist_customers_dataset.csv"
ITEMS = "olist_order_items_dataset.csv"
PAYMENTS = "olist_order_payments_dataset.csv"
REVIEWS = "olist_order_reviews_dataset.csv"
PRODUCTS = "olist_products_dataset.csv"
SELLERS = "olist_sellers_dataset.csv"
TRANSLATION = "product_category_name_translation.csv"
GEOLOCATION = "olist_geolocation_dataset.csv"

HEX_ID = re.compile(r"^[0-9a-f]{32}$")
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
MONEY = re.compile(r"^\d+\.\d{2}$")
TS_COLUMNS = {
    ORDERS: [
        "order_purchase_timestamp",
        "order_approved_at",
        "order_delivered_carrier_date",
        "order_delivered_customer_date",
        "order_estimated_delivery_date",
    ],
    ITEMS: ["shipping_limit_date"],
    REVIEWS: ["review_creation_date", "review_answer_timestamp"],
}


def read(directory: Path, file_name: str) -> pd.DataFrame:
    """Every column as text; only empty fields are NULL."""
    return pd.read_csv(directory / file_name, dtype=str, keep_default_na=False, na_values=[""])


def to_cents(values: pd.Series) -> pd.Series:
    return (values.astype(float) * 100).round().astype("int64")


class Dataset:
    def __init__(self, directory: Path, counts: dict[str, int]):
        self.dir = directory
        self.counts = counts
        self._frames: dict[str, pd.DataFrame] = {}

    def __getitem__(self, file_name: str) -> pd.DataFrame:
        if file_name not in self._frames:
            frame = read(self.dir, file_name)
            for column in TS_COLUMNS.get(file_name, []):
                frame[column] = pd.to_datetime(frame[column], format="%Y-%m-%d %H:%M:%S")
            self._frames[file_name] = frame
        return self._frames[file_name]


def make(tmp_path_factory, name: str, **kwargs) -> Dataset:
    directory = tmp_path_factory.mktemp(name)
    counts = generate(GeneratorConfig(**kwargs), directory)
    return Dataset(directory, counts)


@pytest.fixture(scope="module")
def olist(tmp_path_factory) -> Dataset:
    return make(tmp_path_factory, "olist", orders=20_000, seed=7)


@pytest.fixture(scope="module")
def loyal(tmp_path_factory) -> Dataset:
    return make(tmp_path_factory, "loyal", orders=20_000, seed=11, repeat_rate=0.2)


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Dataset:
    return make(tmp_path_factory, "clean", orders=10_000, seed=3, messy_rate=0.0)


@pytest.fixture(scope="module")
def messy(tmp_path_factory) -> Dataset:
    return make(tmp_path_factory, "messy", orders=10_000, seed=3, messy_rate=3.0)


# ------------------------------------------------------------------ determinism, format


def digests(directory: Path) -> dict[str, str]:
    return {raw.file_name: hashlib.sha256((directory / raw.file_name).read_bytes()).hexdigest() for raw in RAW_FILES}


def test_same_seed_gives_byte_identical_files_and_other_seed_differs(tmp_path):
    config = GeneratorConfig(orders=3_000, seed=123)
    generate(config, tmp_path / "a")
    generate(config, tmp_path / "b" / "nested")  # created if missing
    generate(replace(config, seed=124), tmp_path / "c")
    first = digests(tmp_path / "a")
    assert first == digests(tmp_path / "b" / "nested")
    other = digests(tmp_path / "c")
    for name in (ORDERS, CUSTOMERS, ITEMS, PAYMENTS, REVIEWS, PRODUCTS, SELLERS, GEOLOCATION):
        assert first[name] != other[name], name
    # The translation table is reference data: identical for every seed.
    assert first[TRANSLATION] == other[TRANSLATION]


# sha256 of each file of `retail-intel generate --orders 2000 --seed 7`, computed before the
# shape options and presets were added: at the defaults they must not change a byte. (A new
# numpy or DuckDB release that changed a random stream or the CSV writer would show here too.)
GOLDEN_2000_SEED_7 = {
    "olist_customers_dataset.csv": "4b4b266420a6169aba64be22f05ef13ee3a3cf1a09bd7b84341b052e4a28cf16",
    "olist_geolocation_dataset.csv": "5d94ffb911376264c567091059873eb1497d8ec54c5f4cb8e065936d0e0345e3",
    "olist_order_items_dataset.csv": "54298c42c35c49077a30235203602c487d2e6c6a10d797255f0edc3e084e0f15",
    "olist_order_payments_dataset.csv": "716cf98c532689fb6b86116e6ff1d956157a1190257259dd98b5746b564ec977",
    "olist_order_reviews_dataset.csv": "d447f14948540ac4389c82089a46776ff9b0bd4847e5ae37725467ac05988f9a",
    "olist_orders_dataset.csv": "857bc32207d31907d49e31524f2890417b25a858237feb34fb0ae5bbe3ca046f",
    "olist_products_dataset.csv": "4f0857495d4666ab456cce89cf5098c714f6f4a740ba9c389eb439e7448ce3e2",
    "olist_sellers_dataset.csv": "41ccc74da707c1376bed3d2a5f903ada7a76593f5ef2b94fb8fe77f0be84281e",
    "product_category_name_translation.csv": "1fe1e2f4a52437212928c67eea43471c8065ae4698b609a80ce005fd509e1f55",
}


def test_default_configuration_keeps_its_golden_bytes(tmp_path):
    generate(GeneratorConfig(orders=2_000, seed=7), tmp_path)
    assert digests(tmp_path) == GOLDEN_2000_SEED_7


def test_counts_headers_and_parsing(olist):
    assert set(olist.counts) == {raw.file_name for raw in RAW_FILES}
    assert olist.counts[ORDERS] == 20_000
    con = duckdb.connect()
    for raw in RAW_FILES:
        path = olist.dir / raw.file_name
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
        assert rows[0] == raw.column_names, raw.file_name
        assert all(len(row) == len(raw.column_names) for row in rows), raw.file_name
        assert len(rows) - 1 == olist.counts[raw.file_name], raw.file_name
        relation = con.sql(f"SELECT * FROM read_csv('{path.as_posix()}', header=true, all_varchar=true)")
        assert relation.columns == raw.column_names
        assert con.sql(
            f"SELECT count(*) FROM read_csv('{path.as_posix()}', header=true, all_varchar=true)"
        ).fetchall() == [(olist.counts[raw.file_name],)]
        assert olist.counts[raw.file_name] > 0, raw.file_name


def test_value_formats(olist):
    for name, columns in {
        ORDERS: ["order_id", "customer_id"],
        CUSTOMERS: ["customer_id", "customer_unique_id"],
        ITEMS: ["order_id", "product_id", "seller_id"],
        REVIEWS: ["review_id", "order_id"],
        PRODUCTS: ["product_id"],
        SELLERS: ["seller_id"],
    }.items():
        frame = read(olist.dir, name)
        for column in columns:
            assert frame[column].str.fullmatch(HEX_ID).all(), (name, column)
    raw_orders = read(olist.dir, ORDERS)
    for column in TS_COLUMNS[ORDERS]:
        present = raw_orders[column].dropna()
        assert present.str.fullmatch(TIMESTAMP).all(), column
    raw_items = read(olist.dir, ITEMS)
    assert raw_items["price"].str.fullmatch(MONEY).all()
    assert raw_items["freight_value"].str.fullmatch(MONEY).all()
    assert read(olist.dir, PAYMENTS)["payment_value"].str.fullmatch(MONEY).all()
    zips = read(olist.dir, CUSTOMERS)["customer_zip_code_prefix"]
    assert zips.str.fullmatch(r"[1-9]\d{3,4}").all()  # integer text, leading zeros lost
    assert (zips.str.len() == 4).any()  # São Paulo's 0xxxx prefixes
    assert set(olist[ORDERS]["order_status"]) <= set(ORDER_STATUSES)
    assert set(olist[PAYMENTS]["payment_type"]) <= set(PAYMENT_TYPES)


def test_review_texts_need_and_survive_csv_quoting(olist):
    text = (olist.dir / REVIEWS).read_text(encoding="utf-8")
    messages = olist[REVIEWS]["review_comment_message"].dropna()
    assert messages.str.contains(",").any()
    assert messages.str.contains('"').any()
    assert messages.str.contains("\n").any()
    assert '""' in text  # embedded quotes doubled (RFC 4180)
    assert 0.25 < olist[REVIEWS]["review_comment_message"].notna().mean() < 0.55
    assert olist[REVIEWS]["review_comment_title"].notna().mean() < 0.25


# ------------------------------------------------------------------ keys and references


def assert_keys(data: Dataset) -> None:
    orders, customers, items = data[ORDERS], data[CUSTOMERS], data[ITEMS]
    payments, reviews, products, sellers = data[PAYMENTS], data[REVIEWS], data[PRODUCTS], data[SELLERS]
    translation = data[TRANSLATION]
    assert orders["order_id"].is_unique
    assert customers["customer_id"].is_unique
    assert set(orders["customer_id"]) == set(customers["customer_id"])  # one customer row per order
    assert products["product_id"].is_unique
    assert sellers["seller_id"].is_unique
    assert translation["product_category_name"].is_unique
    assert not items.duplicated(["order_id", "order_item_id"]).any()
    assert not payments.duplicated(["order_id", "payment_sequential"]).any()
    assert not reviews.duplicated(["review_id", "order_id"]).any()
    order_ids = set(orders["order_id"])
    assert set(items["order_id"]) <= order_ids
    assert set(payments["order_id"]) <= order_ids
    assert set(reviews["order_id"]) <= order_ids
    assert set(items["product_id"]) <= set(products["product_id"])
    assert set(items["seller_id"]) <= set(sellers["seller_id"])
    # Items are numbered 1..n and payments 1..n inside each order.
    for frame, column in ((items, "order_item_id"), (payments, "payment_sequential")):
        numbers = frame[column].astype(int)
        per_order = numbers.groupby(frame["order_id"])
        assert (per_order.max() == per_order.size()).all()
        assert (per_order.min() == 1).all()
    # A person keeps state and zip across orders.
    assert (customers.groupby("customer_unique_id")["customer_state"].nunique() == 1).all()


def test_keys_and_references_hold(olist, clean, messy, loyal):
    for data in (olist, clean, messy, loyal):
        assert_keys(data)


def test_catalogue(olist):
    translation, products = olist[TRANSLATION], olist[PRODUCTS]
    assert len(translation) == 71
    assert {"beleza_saude", "cama_mesa_banho", "informatica_acessorios"} <= set(translation["product_category_name"])
    english = translation.set_index("product_category_name")["product_category_name_english"]
    assert english["cama_mesa_banho"] == "bed_bath_table"
    assert english["beleza_saude"] == "health_beauty"
    assert {"pc_gamer", "portateis_cozinha_e_preparadores_de_alimentos"}.isdisjoint(
        translation["product_category_name"]
    )
    categories = set(products["product_category_name"].dropna())
    assert categories - set(translation["product_category_name"]) <= {
        "pc_gamer",
        "portateis_cozinha_e_preparadores_de_alimentos",
    }
    assert len(categories) >= 60
    sold = olist[ITEMS].merge(products, on="product_id")["product_category_name"].value_counts()
    assert set(sold.index[:5]) & {"cama_mesa_banho", "beleza_saude", "esporte_lazer", "moveis_decoracao"}
    assert 0.25 * 20_000 < len(products) < 0.45 * 20_000
    assert 0.02 * 20_000 < len(olist[SELLERS]) < 0.045 * 20_000


# ------------------------------------------------------------------ calendar


def test_calendar_shape(olist):
    purchase = olist[ORDERS]["order_purchase_timestamp"]
    day = purchase.dt.normalize()
    per_day = day.value_counts().sort_index()
    all_days = pd.date_range("2016-09-04", "2018-10-17", freq="D")
    per_day = per_day.reindex(all_days, fill_value=0)
    assert purchase.min() >= pd.Timestamp("2016-09-04")
    assert purchase.max() < pd.Timestamp("2018-10-18")
    assert (purchase < pd.Timestamp("2017-01-01")).mean() < 0.01  # almost nothing in 2016
    monthly = per_day.resample("MS").sum()
    assert monthly["2017-01-01"] < monthly["2017-06-01"] < monthly["2017-10-01"]
    plateau = monthly["2018-01-01":"2018-09-01"]
    assert plateau.max() / plateau.min() < 1.35
    november = per_day["2017-11-01":"2017-11-30"]
    assert per_day[pd.Timestamp("2017-11-24")] >= 2.5 * november.median()
    assert per_day[pd.Timestamp("2017-11-24")] == per_day["2017-11-01":"2018-10-17"].max()
    recent = per_day["2017-06-01":"2018-10-17"]
    weekday = recent[recent.index.day_of_week < 5].mean()
    weekend = recent[recent.index.day_of_week >= 5].mean()
    assert weekday > 1.15 * weekend
    by_dow = recent.groupby(recent.index.day_of_week).mean()
    assert by_dow.idxmax() in (0, 1)
    hours = purchase.dt.hour.value_counts(normalize=True)
    assert hours.reindex(range(2, 6), fill_value=0).sum() < 0.03
    assert hours.reindex(range(10, 22), fill_value=0).sum() > 0.6


# ------------------------------------------------------------------ customers


@pytest.mark.parametrize("fixture, rate", [("olist", 0.03), ("loyal", 0.2)])
def test_repeat_rate(request, fixture, rate):
    data = request.getfixturevalue(fixture)
    per_person = data[CUSTOMERS]["customer_unique_id"].value_counts()
    assert abs((per_person > 1).mean() - rate) < max(0.005, 0.1 * rate)
    repeaters = per_person[per_person > 1]
    assert (repeaters == 2).mean() > 0.7  # most repeaters order twice
    assert (repeaters >= 3).any()


def test_geography(olist):
    customers = olist[CUSTOMERS]
    shares = customers["customer_state"].value_counts(normalize=True)
    assert 0.38 < shares["SP"] < 0.46
    assert 0.10 < shares["RJ"] < 0.16
    assert 0.09 < shares["MG"] < 0.15
    assert customers["customer_state"].nunique() >= 24
    seller_sp = (olist[SELLERS]["seller_state"] == "SP").mean()
    assert seller_sp > shares["SP"] + 0.05
    geo = olist[GEOLOCATION]
    prefixes = set(customers["customer_zip_code_prefix"]) | set(olist[SELLERS]["seller_zip_code_prefix"])
    covered = prefixes & set(geo["geolocation_zip_code_prefix"])
    assert len(covered) >= 0.97 * len(prefixes)
    rows_per_prefix = geo["geolocation_zip_code_prefix"].value_counts()
    assert 3 <= rows_per_prefix.min() and rows_per_prefix.max() <= 10
    assert geo.duplicated().any()  # Olist repeats points verbatim
    lat = geo["geolocation_lat"].astype(float)
    lng = geo["geolocation_lng"].astype(float)
    assert lat.between(-34, 6).all() and lng.between(-74, -34).all()
    sp = geo["geolocation_state"] == "SP"
    assert lat[sp].between(-26, -19).all()


# ------------------------------------------------------------------ orders, items, payments


def test_status_mix_and_timeline(olist):
    orders = olist[ORDERS]
    shares = orders["order_status"].value_counts(normalize=True)
    assert 0.92 < shares["delivered"] < 0.99
    for status in ("shipped", "canceled", "unavailable", "invoiced", "processing"):
        assert 0.001 < shares.get(status, 0) < 0.04, status
    assert shares.get("created", 0) + shares.get("approved", 0) < 0.01
    purchase = orders["order_purchase_timestamp"]
    approved = orders["order_approved_at"]
    carrier = orders["order_delivered_carrier_date"]
    delivered = orders["order_delivered_customer_date"]
    assert (approved.dropna() >= purchase[approved.notna()]).all()
    both = approved.notna() & carrier.notna()
    assert (carrier[both] >= approved[both]).all()
    both = carrier.notna() & delivered.notna()
    assert (delivered[both] >= carrier[both]).all()
    snapshot = pd.Timestamp("2018-10-18")
    for column in ("order_approved_at", "order_delivered_carrier_date", "order_delivered_customer_date"):
        assert (orders[column].dropna() <= snapshot).all(), column
    undelivered = ~orders["order_status"].isin(["delivered", "canceled"])
    assert delivered[undelivered].isna().all()
    assert carrier[orders["order_status"].isin(["created", "approved", "invoiced", "processing"])].isna().all()
    assert approved[orders["order_status"] == "created"].isna().all()
    ok = orders["order_status"].eq("delivered") & delivered.notna()
    days = (delivered[ok] - purchase[ok]).dt.total_seconds() / 86_400
    assert 9 < days.mean() < 16
    late = delivered[ok] > orders["order_estimated_delivery_date"][ok]
    assert 0.03 < late.mean() < 0.13
    estimate = (orders["order_estimated_delivery_date"] - purchase).dt.days
    assert 15 < estimate.mean() < 32
    # Recent orders are more often still on their way.
    recent = purchase >= pd.Timestamp("2018-10-01")
    assert (
        orders["order_status"][recent].ne("delivered").mean()
        > 3 * orders["order_status"][~recent].ne("delivered").mean()
    )
    # Far states wait longer than São Paulo.
    state = orders.merge(olist[CUSTOMERS], on="customer_id")["customer_state"]
    assert days[state[ok].isin(["SP"])].mean() + 4 < days[~state[ok].isin(["SP", "RJ", "MG", "PR", "SC"])].mean()


def test_items_prices_and_freight(olist):
    items = olist[ITEMS]
    per_order = items.groupby("order_id").size()
    assert 1.08 < per_order.mean() < 1.22
    assert 0.85 < (per_order == 1).mean() < 0.94
    price = items["price"].astype(float)
    assert 95 < price.mean() < 150
    assert 60 < price.median() < 90
    assert price.max() > 1_000
    freight = items["freight_value"].astype(float)
    assert 15 < freight.mean() < 26
    multi = items[items["order_id"].isin(per_order[per_order > 1].index)]
    same_product = multi.groupby("order_id")["product_id"].nunique().eq(1).mean()
    assert same_product > 0.3  # multi-item orders often repeat the product
    orders = olist[ORDERS].set_index("order_id")
    limit = items["shipping_limit_date"]
    purchase = orders.loc[items["order_id"], "order_purchase_timestamp"].to_numpy()
    gap = (limit.to_numpy() - purchase) / np.timedelta64(1, "D")
    assert (gap > 1).all() and (gap < 16).all() and 3 < gap.mean() < 8
    # Freight grows with weight and with distance.
    merged = items.merge(olist[PRODUCTS], on="product_id").merge(olist[SELLERS], on="seller_id")
    merged = merged.merge(olist[ORDERS][["order_id", "customer_id"]], on="order_id").merge(
        olist[CUSTOMERS], on="customer_id"
    )
    merged = merged[merged["product_weight_g"].notna()]
    fv = merged["freight_value"].astype(float)
    heavy = merged["product_weight_g"].astype(float) > 5_000
    assert fv[heavy].mean() > 1.3 * fv[~heavy].mean()
    local = merged["seller_state"] == merged["customer_state"]
    assert fv[~local].mean() > fv[local].mean()


def test_payments_sum_to_items_plus_freight(olist, messy):
    for data in (olist, messy):
        items, payments = data[ITEMS], data[PAYMENTS]
        due = (to_cents(items["price"]) + to_cents(items["freight_value"])).groupby(items["order_id"]).sum()
        paid = to_cents(payments["payment_value"]).groupby(payments["order_id"]).sum()
        assert (paid.reindex(due.index) == due).all()
        assert set(payments["order_id"]) == set(data[ORDERS]["order_id"])  # every order paid


def test_payment_mix(olist):
    payments = olist[PAYMENTS]
    shares = payments["payment_type"].value_counts(normalize=True)
    assert 0.68 < shares["credit_card"] < 0.80
    assert 0.15 < shares["boleto"] < 0.24
    assert 0.03 < shares["voucher"] < 0.09
    assert 0.005 < shares["debit_card"] < 0.03
    installments = payments["payment_installments"].astype(int)
    assert installments.between(1, 24).all()
    assert (installments[payments["payment_type"] != "credit_card"] == 1).all()
    assert 0.4 < (installments == 1).mean() < 0.6
    assert 2.4 < installments.mean() < 3.4
    rows = payments.groupby("order_id").size()
    multi = payments[payments["order_id"].isin(rows[rows > 1].index)]
    assert (multi["payment_type"] == "voucher").mean() > 0.5  # vouchers split payments
    cc = payments[payments["payment_type"] == "credit_card"]
    value = cc["payment_value"].astype(float)
    cc_inst = cc["payment_installments"].astype(int)
    assert cc_inst[value > 300].mean() > cc_inst[value < 50].mean() + 1.5  # grow with price


def test_reviews(olist):
    reviews = olist[REVIEWS]
    assert 0.9 < len(reviews) / len(olist[ORDERS]) <= 1.0
    shares = reviews["review_score"].astype(int).value_counts(normalize=True)
    assert 0.5 < shares[5] < 0.66
    assert 0.14 < shares[4] < 0.24
    assert 0.08 < shares[1] < 0.17
    assert shares[2] < shares[3] < shares[4]
    merged = reviews.merge(olist[ORDERS], on="order_id")
    merged = merged[merged["review_id"].map(reviews["review_id"].value_counts()) == 1]
    ok = merged["order_status"].eq("delivered") & merged["order_delivered_customer_date"].notna()
    late = merged["order_delivered_customer_date"] > merged["order_estimated_delivery_date"]
    score = merged["review_score"].astype(int)
    assert score[ok & late].mean() < score[ok & ~late].mean() - 1.0
    assert (score[ok & late] <= 2).mean() > 2 * (score[ok & ~late] <= 2).mean()
    assert (merged["review_creation_date"][ok] > merged["order_delivered_customer_date"][ok]).all()
    lag = (merged["review_answer_timestamp"] - merged["review_creation_date"]).dt.total_seconds() / 86_400
    assert lag.between(1, 3).all()
    assert (merged["review_creation_date"].dt.strftime("%H:%M:%S") == "00:00:00").all()


# ------------------------------------------------------------------ messy records


def orders_without_items(data: Dataset) -> pd.Series:
    orders = data[ORDERS]
    return orders[~orders["order_id"].isin(data[ITEMS]["order_id"])]


def test_clean_data_has_no_quirks(clean):
    assert orders_without_items(clean).empty
    assert clean[PRODUCTS]["product_category_name"].notna().all()
    assert clean[PRODUCTS].notna().all().all()
    assert clean[REVIEWS]["review_id"].is_unique
    orders = clean[ORDERS]
    delivered = orders[orders["order_status"] == "delivered"]
    assert (
        delivered[["order_approved_at", "order_delivered_carrier_date", "order_delivered_customer_date"]]
        .notna()
        .all()
        .all()
    )
    cities = pd.concat(
        [clean[CUSTOMERS]["customer_city"], clean[SELLERS]["seller_city"], clean[GEOLOCATION]["geolocation_city"]]
    )
    assert cities.str.fullmatch(r"[a-z \-]+").all()  # lower case, no accents
    geo = clean[GEOLOCATION]
    assert not geo.duplicated().any()
    assert set(clean[CUSTOMERS]["customer_zip_code_prefix"]) <= set(geo["geolocation_zip_code_prefix"])


def test_messy_data_has_olist_quirks(olist, messy):
    for data, scale in ((olist, 1.0), (messy, 3.0)):
        n_orders = len(data[ORDERS])
        itemless = orders_without_items(data)
        assert 0.3 * 0.008 * scale < len(itemless) / n_orders < 2 * 0.008 * scale
        assert itemless["order_status"].isin(["canceled", "unavailable"]).mean() > 0.8
        null_category = data[PRODUCTS]["product_category_name"].isna().mean()
        assert 0.3 * 0.0185 * scale < null_category < 2 * 0.0185 * scale
        reviews = data[REVIEWS]
        duplicated = reviews["review_id"].duplicated(keep=False)
        assert duplicated.any()
        assert (reviews[duplicated].groupby("review_id")["order_id"].nunique() > 1).all()
        cities = data[CUSTOMERS]["customer_city"]
        assert (~cities.str.fullmatch(r"[a-z \-]+")).any()  # varying case / accents
    orders = messy[ORDERS]
    delivered = orders[orders["order_status"] == "delivered"]
    assert delivered["order_delivered_customer_date"].isna().any()
    assert delivered["order_approved_at"].isna().any()
    canceled = orders[orders["order_status"] == "canceled"]
    assert canceled["order_id"].isin(messy[ITEMS]["order_id"]).any()  # canceled yet with items
    assert messy[PRODUCTS]["product_weight_g"].isna().any()


# ------------------------------------------------------------------ learnable signal


def order_categories(data: Dataset) -> pd.DataFrame:
    items = data[ITEMS].merge(data[PRODUCTS][["product_id", "product_category_name"]], on="product_id")
    first = items[items["order_item_id"] == "1"][["order_id", "product_id", "product_category_name"]]
    orders = data[ORDERS][["order_id", "customer_id", "order_purchase_timestamp"]]
    orders = orders.merge(data[CUSTOMERS][["customer_id", "customer_unique_id"]], on="customer_id")
    return orders.merge(first, on="order_id").dropna(subset=["product_category_name"])


def test_repeaters_keep_their_category_preferences(loyal):
    frame = order_categories(loyal).sort_values(["customer_unique_id", "order_purchase_timestamp"])
    nxt = frame.groupby("customer_unique_id").shift(-1)
    pairs = frame.assign(next_category=nxt["product_category_name"]).dropna(subset=["next_category"])
    same_person = (pairs["product_category_name"] == pairs["next_category"]).mean()
    rng = np.random.default_rng(0)
    a = frame["product_category_name"].to_numpy()
    random_pairs = (a[rng.integers(0, a.size, 50_000)] == a[rng.integers(0, a.size, 50_000)]).mean()
    assert len(pairs) > 2_000
    assert same_person > 3 * random_pairs
    # ... and their price level.
    price = loyal[ITEMS].groupby("order_id")["price"].apply(lambda s: np.log(s.astype(float)).mean())
    frame = frame.assign(log_price=frame["order_id"].map(price))
    frame = frame.assign(next_log_price=frame.groupby("customer_unique_id")["log_price"].shift(-1))
    both = frame.dropna(subset=["next_log_price"])
    assert np.corrcoef(both["log_price"], both["next_log_price"])[0, 1] > 0.15


def test_recent_popularity_differs_from_all_time(olist):
    frame = order_categories(olist)
    all_time = frame["product_id"].value_counts()
    recent = frame[frame["order_purchase_timestamp"] >= pd.Timestamp("2018-07-01")]["product_id"].value_counts()
    early = frame[frame["order_purchase_timestamp"] < pd.Timestamp("2017-10-01")]["product_id"].value_counts()
    top_recent, top_early = set(recent.index[:50]), set(early.index[:50])
    assert len(top_recent & top_early) < 25
    assert len(top_recent & set(all_time.index[:50])) < 50
    counts = all_time.to_numpy()
    assert counts[: max(1, len(counts) // 10)].sum() > 0.3 * counts.sum()  # long tail


def test_state_and_person_features_leak(olist):
    frame = order_categories(olist).merge(olist[CUSTOMERS][["customer_id", "customer_state"]], on="customer_id")
    mix = pd.crosstab(frame["customer_state"], frame["product_category_name"], normalize="index")
    big = mix.loc[["SP", "RJ", "MG", "RS", "PR"]]
    assert (big.max() - big.min()).max() > 0.01  # state-specific category mix


# ------------------------------------------------------------------ configuration


@pytest.mark.parametrize(
    "kwargs, parameter",
    [
        ({"orders": 0}, "orders"),
        ({"orders": -5}, "orders"),
        ({"orders": 2.5}, "orders"),
        ({"repeat_rate": 1.0}, "repeat_rate"),
        ({"repeat_rate": -0.1}, "repeat_rate"),
        ({"messy_rate": -1.0}, "messy_rate"),
        ({"messy_rate": float("nan")}, "messy_rate"),
        ({"start_date": date(2018, 1, 1), "end_date": date(2018, 1, 1)}, "start_date"),
        ({"start_date": date(2018, 2, 1), "end_date": date(2018, 1, 1)}, "start_date"),
    ],
)
def test_bad_config_raises_value_error_naming_the_parameter(kwargs, parameter):
    with pytest.raises(ValueError, match=parameter):
        GeneratorConfig(**kwargs)


def test_tiny_and_shifted_configs(tmp_path):
    counts = generate(GeneratorConfig(orders=1, seed=1), tmp_path / "one")
    assert counts[ORDERS] == 1 and counts[CUSTOMERS] == 1
    assert counts[PRODUCTS] >= 300 and counts[SELLERS] >= 50
    counts = generate(
        GeneratorConfig(
            orders=500, seed=2, repeat_rate=0.5, messy_rate=0, start_date=date(2021, 3, 1), end_date=date(2021, 6, 30)
        ),
        tmp_path / "shifted",
    )
    assert counts[ORDERS] == 500
    data = Dataset(tmp_path / "shifted", counts)
    assert_keys(data)
    purchase = data[ORDERS]["order_purchase_timestamp"]
    assert purchase.min() >= pd.Timestamp("2021-03-01") and purchase.max() < pd.Timestamp("2021-07-01")


def test_messy_rate_changes_only_the_quirks(tmp_path):
    config = GeneratorConfig(orders=4_000, seed=5, messy_rate=0.0)
    generate(config, tmp_path / "clean")
    generate(replace(config, messy_rate=2.0), tmp_path / "messy")
    clean = Dataset(tmp_path / "clean", {})
    dirty = Dataset(tmp_path / "messy", {})
    a = clean[ORDERS].set_index("order_id").sort_index()
    b = dirty[ORDERS].set_index("order_id").sort_index()
    assert a.index.equals(b.index)
    assert a["order_purchase_timestamp"].equals(b["order_purchase_timestamp"])
    assert a["customer_id"].equals(b["customer_id"])
    assert (a["order_status"] != b["order_status"]).mean() < 0.05
    kept = dirty[ITEMS]
    assert len(kept) < len(clean[ITEMS])
    common = clean[ITEMS][clean[ITEMS]["order_id"].isin(kept["order_id"])].reset_index(drop=True)
    assert common.equals(kept.reset_index(drop=True))
    assert (
        clean[PAYMENTS]
        .sort_values(["order_id", "payment_sequential"])
        .reset_index(drop=True)
        .equals(dirty[PAYMENTS].sort_values(["order_id", "payment_sequential"]).reset_index(drop=True))
    )
