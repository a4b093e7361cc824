"""The Great Expectations suites (expectations/*.yml) and their runner, retail_intel.quality.

Raw frames come from the generator through the real loader; mart frames are either the
shared DuckDB build of conftest or a few hand-made rows where a test needs one defect.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import duckdb
import great_expectations.expectations as gxe
import pandas as pd
import pytest
import yaml
from great_expectations.expectations.expectation import Expectation

from retail_intel.generator import GeneratorConfig, generate
from retail_intel.quality import (
    CheckResult,
    QualityConfig,
    QualityError,
    SuiteResult,
    context_tables,
    load_checks,
    load_suite,
    tables_in_suite,
    validate_table,
    validate_tables,
)
from retail_intel.raw.contract import RAW_FILES
from retail_intel.raw.loader import load_raw_dir
from retail_intel.settings import resource_dir

ORDERS = "olist_orders_dataset"
ITEMS = "olist_order_items_dataset"
PRODUCTS = "olist_products_dataset"


def _raw_frames(raw_dir: Path) -> dict[str, pd.DataFrame]:
    con = duckdb.connect()
    load_raw_dir(con, raw_dir)
    return {raw.table_name: con.execute(f'select * from raw."{raw.table_name}"').df() for raw in RAW_FILES}


@pytest.fixture(scope="session")
def raw_frames(generated_raw_dir) -> dict[str, pd.DataFrame]:
    """conftest's messy (messy_rate 2) generated folder, loaded; tests copy before changing."""
    return _raw_frames(generated_raw_dir)


def _result(suite: SuiteResult, name: str) -> CheckResult:
    [result] = [result for result in suite.results if result.name == name]
    return result


def _validate_raw(table: str, frame: pd.DataFrame, frames: dict[str, pd.DataFrame], **kwargs) -> SuiteResult:
    return validate_table("raw", table, frame, context_frames=frames, **kwargs)


# ---- the suites as files ---------------------------------------------------------------------


@pytest.mark.parametrize("layer", ["raw", "marts"])
def test_every_check_names_a_gx_expectation_a_severity_and_a_reason(layer):
    names = []
    for table in tables_in_suite(layer):
        for check in load_checks(layer, table):
            expectation_class = getattr(gxe, check.expectation, None)
            assert isinstance(expectation_class, type) and issubclass(expectation_class, Expectation), check.name
            assert check.severity in ("error", "warn"), check.name
            assert check.why.strip() and "\n" not in check.why, check.name
            names.append(check.name)
    assert len(names) == len(set(names)), "check names must be unique within a suite"


def test_raw_suite_declares_exactly_the_contract_columns_and_types():
    suite = load_suite("raw")
    assert tables_in_suite("raw") == [raw.table_name for raw in RAW_FILES]
    for raw in RAW_FILES:
        assert list(suite["tables"][raw.table_name]["columns"].items()) == list(raw.columns), raw.table_name


def test_marts_suite_checks_only_documented_mart_columns():
    models_file = resource_dir("dbt_project") / "models" / "marts" / "_marts__models.yml"
    documented = {
        model["name"]: {column["name"] for column in model.get("columns", [])}
        for model in yaml.safe_load(models_file.read_text())["models"]
    }
    assert set(tables_in_suite("marts")) == {
        "orders",
        "customers",
        "products",
        "daily_revenue",
        "customer_rfm",
        "user_item_interactions",
    }
    for table in tables_in_suite("marts"):
        for check in load_checks("marts", table):
            assert set(check.columns) <= documented[table], check.name


def test_context_tables_name_what_the_resolvers_read():
    assert context_tables("raw", ITEMS) == [ORDERS, PRODUCTS]
    assert context_tables("raw", ORDERS) == []
    assert context_tables("marts", "orders") == ["customer_rfm"]


def test_quality_config_rejects_impossible_ages():
    with pytest.raises(ValueError, match="max_age_days"):
        QualityConfig(max_age_days=-1)
    with pytest.raises(ValueError, match="max_age_days"):
        QualityConfig(max_age_days=1.5)


# ---- raw -------------------------------------------------------------------------------------


@pytest.mark.parametrize("messy_rate", [0.0, 1.0, 3.0])
def test_generated_raw_data_passes_every_error_check(tmp_path, messy_rate):
    raw_dir = tmp_path / "raw"
    generate(GeneratorConfig(orders=1_500, seed=11, messy_rate=messy_rate), raw_dir)
    frames = _raw_frames(raw_dir)
    for table in tables_in_suite("raw"):
        result = _validate_raw(table, frames[table], frames)
        assert result.blocking_failures == [], f"{table}: {result.blocking_failures}"
        assert [check.name for check in result.results] == [check.name for check in load_checks("raw", table)]


def test_duplicate_order_id_fails_the_unique_check(raw_frames):
    orders = raw_frames[ORDERS]
    duplicated_id = orders.loc[5, "order_id"]
    orders = pd.concat([orders, orders.iloc[[5]]], ignore_index=True)

    result = _validate_raw(ORDERS, orders, raw_frames)

    unique = _result(result, "orders_order_id_unique")
    assert not unique.passed
    assert unique.severity == "error" and unique in result.blocking_failures
    assert unique.column == "order_id"
    assert unique.unexpected_count == 2  # both rows carrying the id
    assert [row["order_id"] for row in unique.sample_rows] == [duplicated_id, duplicated_id]
    assert set(unique.sample_rows[0]) == set(orders.columns)
    assert [failure.name for failure in result.blocking_failures] == ["orders_order_id_unique"]


def test_negative_price_fails_with_the_offending_row(raw_frames):
    items = raw_frames[ITEMS].copy()
    items.loc[3, "price"] = -12.5

    result = _validate_raw(ITEMS, items, raw_frames)

    negative = _result(result, "order_items_price_non_negative")
    assert negative in result.blocking_failures
    assert negative.unexpected_count == 1 and negative.observed == 1
    assert negative.unexpected_percent == pytest.approx(100 / len(items))
    [row] = negative.sample_rows
    assert row["price"] == -12.5
    assert row["order_id"] == items.loc[3, "order_id"]


def test_sample_rows_are_the_offending_rows_whatever_the_frame_index(raw_frames):
    items = raw_frames[ITEMS].iloc[::2].copy()  # index 0, 2, 4, ...
    items.index = ["same"] * len(items)
    items.iloc[4, items.columns.get_loc("freight_value")] = -1.0

    result = _validate_raw(ITEMS, items, raw_frames)

    [failure] = result.blocking_failures
    assert failure.name == "order_items_freight_value_non_negative"
    [row] = failure.sample_rows
    assert (row["order_id"], row["order_item_id"], row["freight_value"]) == (
        items.iloc[4]["order_id"],
        items.iloc[4]["order_item_id"],
        -1.0,
    )


def test_item_of_an_unknown_product_fails_the_reference_check(raw_frames):
    items = raw_frames[ITEMS].copy()
    items.loc[7, "product_id"] = "no-such-product"

    result = _validate_raw(ITEMS, items, raw_frames)

    reference = _result(result, "order_items_product_id_references_products")
    assert reference in result.blocking_failures
    assert [row["product_id"] for row in reference.sample_rows] == ["no-such-product"]
    assert _result(result, "order_items_order_id_references_orders").passed


def test_reference_check_needs_the_referenced_table(raw_frames):
    with pytest.raises(QualityError, match=r"order_items_order_id_references_orders.*context_frames"):
        validate_table("raw", ITEMS, raw_frames[ITEMS])


def test_delivery_before_purchase_fails(raw_frames):
    orders = raw_frames[ORDERS].copy()
    delivered = orders["order_delivered_customer_date"].notna().idxmax()
    orders.loc[delivered, "order_delivered_customer_date"] = orders.loc[
        delivered, "order_purchase_timestamp"
    ] - pd.Timedelta(days=1)

    result = _validate_raw(ORDERS, orders, raw_frames)

    assert [failure.name for failure in result.blocking_failures] == ["orders_delivered_not_before_purchase"]
    assert result.blocking_failures[0].sample_rows[0]["order_id"] == orders.loc[delivered, "order_id"]


def test_review_score_outside_one_to_five_fails(raw_frames):
    reviews = raw_frames["olist_order_reviews_dataset"].copy()
    reviews.loc[0, "review_score"] = 6

    result = _validate_raw("olist_order_reviews_dataset", reviews, raw_frames)

    assert [failure.name for failure in result.blocking_failures] == ["reviews_review_score_in_range"]


def test_unparsed_timestamps_and_numeric_zip_codes_fail_the_type_checks(raw_frames, generated_raw_dir):
    # What a plain pandas.read_csv gives: timestamps left as text, zip prefixes as integers.
    orders = pd.read_csv(generated_raw_dir / "olist_orders_dataset.csv")
    customers = pd.read_csv(generated_raw_dir / "olist_customers_dataset.csv")

    orders_result = _validate_raw(ORDERS, orders, raw_frames)
    customers_result = _validate_raw("olist_customers_dataset", customers, raw_frames)

    assert "orders_order_purchase_timestamp_type" in [failure.name for failure in orders_result.blocking_failures]
    assert _result(orders_result, "orders_order_id_type").passed
    zip_type = _result(customers_result, "customers_customer_zip_code_prefix_type")
    assert not zip_type.passed and zip_type.observed == "int64" and zip_type.sample_rows == []


def test_text_columns_pass_on_their_dtype_and_a_number_among_objects_fails():
    sellers = pd.DataFrame(
        {
            "seller_id": pd.Series(["s1", "s2"], dtype="str"),
            "seller_zip_code_prefix": pd.Series(["01001", 1234], dtype=object),
            "seller_city": pd.Series(["sao paulo", None], dtype="str"),
            "seller_state": pd.Series(["SP", "RJ"], dtype=object),
        }
    )
    results = {check.name: check for check in validate_table("raw", "olist_sellers_dataset", sellers).results}
    assert results["sellers_seller_id_type"].passed and results["sellers_seller_city_type"].passed
    assert results["sellers_seller_state_type"].passed  # objects, every one a str
    assert not results["sellers_seller_zip_code_prefix_type"].passed


def test_missing_column_fails_its_checks_without_aborting_the_suite(raw_frames):
    items = raw_frames[ITEMS].drop(columns=["price"])

    result = _validate_raw(ITEMS, items, raw_frames)

    failed = {failure.name for failure in result.blocking_failures}
    assert failed == {"order_items_columns_present", "order_items_price_type", "order_items_price_non_negative"}
    assert _result(result, "order_items_price_type").observed == "missing column(s): price"


def test_header_only_optional_tables_pass(raw_frames):
    for table in ("olist_order_reviews_dataset", "olist_geolocation_dataset"):
        assert _validate_raw(table, raw_frames[table].iloc[0:0], raw_frames).blocking_failures == []


def test_an_error_inside_gx_is_raised_with_the_check_name(raw_frames):
    items = raw_frames[ITEMS].copy()
    items["price"] = items["price"].astype(str)

    with pytest.raises(QualityError, match="order_items_price_non_negative"):
        _validate_raw(ITEMS, items, raw_frames)


def test_warn_failure_is_reported_but_not_blocking(raw_frames):
    items = raw_frames[ITEMS].copy()
    # One item in a hundred at 50,000 BRL: valid prices, each far beyond 3 sigma. (A single
    # huge price would not do: it inflates sigma until it is the only outlier, under 0.1%.)
    items.loc[items.index[::100], "price"] = 50_000.0

    result = _validate_raw(ITEMS, items, raw_frames)

    outliers = _result(result, "order_items_price_outliers")
    assert not outliers.passed and outliers.severity == "warn"
    assert outliers in result.warnings
    assert outliers not in result.blocking_failures
    assert result.blocking_failures == [] and result.passed
    assert outliers.unexpected_count == len(items.index[::100])
    assert [row["price"] for row in outliers.sample_rows] == [50_000.0] * 10


def test_results_are_json_serialisable(raw_frames):
    orders = raw_frames[ORDERS].copy()
    orders.loc[1, "order_id"] = orders.loc[0, "order_id"]

    result = _validate_raw(ORDERS, orders, raw_frames)

    text = json.dumps([dataclasses.asdict(check) for check in result.results])
    assert orders.loc[0, "order_id"] in text


def test_data_docs_page_is_written_and_earlier_pages_survive(raw_frames, tmp_path):
    docs = tmp_path / "docs"

    first = _validate_raw(ORDERS, raw_frames[ORDERS], raw_frames, data_docs_dir=docs)
    second = _validate_raw(ITEMS, raw_frames[ITEMS], raw_frames, data_docs_dir=docs)

    for result in (first, second):
        assert result.data_docs_path is not None and result.data_docs_path.suffix == ".html"
        assert result.data_docs_path.is_file() and docs in result.data_docs_path.parents
    assert "order_items_price_outliers" not in first.data_docs_path.read_text()
    index = (docs / "index.html").read_text()
    assert ORDERS in index and ITEMS in index
    assert _validate_raw(ORDERS, raw_frames[ORDERS], raw_frames).data_docs_path is None


def test_tables_validated_together_get_their_own_results_and_pages(raw_frames, tmp_path):
    docs = tmp_path / "docs"
    broken = raw_frames[ITEMS].copy()
    broken.loc[0, "price"] = -1.0
    together = validate_tables(
        "raw", {ORDERS: raw_frames[ORDERS], ITEMS: broken}, context_frames=raw_frames, data_docs_dir=docs
    )

    assert list(together) == [ORDERS, ITEMS]
    assert together[ORDERS].passed and not together[ITEMS].passed
    for table, frame in ((ORDERS, raw_frames[ORDERS]), (ITEMS, broken)):
        alone = _validate_raw(table, frame, {**raw_frames, ITEMS: broken})
        assert together[table].results == alone.results
        page = together[table].data_docs_path
        assert page is not None and page.is_file() and docs in page.parents
    assert together[ORDERS].data_docs_path != together[ITEMS].data_docs_path
    items_page, orders_page = (together[table].data_docs_path.read_text() for table in (ITEMS, ORDERS))
    assert "shipping_limit_date" in items_page and "shipping_limit_date" not in orders_page
    index = (docs / "index.html").read_text()
    assert ORDERS in index and ITEMS in index


# ---- marts -----------------------------------------------------------------------------------


def _orders_mart(purchased_at: list[str]) -> pd.DataFrame:
    count = len(purchased_at)
    moments = pd.to_datetime(purchased_at)
    return pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(count)],
            "customer_id": [f"c{i}" for i in range(count)],
            "customer_unique_id": [f"u{i}" for i in range(count)],
            "order_status": ["delivered"] * count,
            "is_revenue": [True] * count,
            "purchased_at": moments,
            "purchase_date": moments.normalize(),
            "items_count": [1] * count,
            "distinct_products": [1] * count,
            "distinct_sellers": [1] * count,
            "items_value": [50.0] * count,
            "freight_value": [5.0] * count,
            "order_value": [55.0] * count,
            "payment_value": [55.0] * count,
            "payment_rows": [1] * count,
            "has_credit_card_payment": [True] * count,
            "review_count": [0] * count,
        }
    )


def _rfm_mart(as_of_date: str, rows: int = 3) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_unique_id": [f"u{i}" for i in range(rows)],
            "as_of_date": pd.to_datetime([as_of_date] * rows),
            "recency_days": list(range(rows)),
            "frequency": [1] * rows,
            "monetary": [55.0] * rows,
            "r_score": [5] * rows,
            "f_score": [1] * rows,
            "m_score": [3] * rows,
            "rfm_score": ["513"] * rows,
            "rfm_total": [9] * rows,
            "first_purchase_date": pd.to_datetime(["2018-01-01"] * rows),
            "last_purchase_date": pd.to_datetime(["2018-01-01"] * rows),
            "days_between_first_and_last_order": [0] * rows,
            "credit_card_order_share": [1.0] * rows,
            "distinct_categories": [1] * rows,
            "items_count": [1] * rows,
        }
    )


def _daily_revenue(days: list[str]) -> pd.DataFrame:
    count = len(days)
    return pd.DataFrame(
        {
            "date": pd.to_datetime(days),
            "orders": [1] * count,
            "items": [1] * count,
            "revenue": [50.0] * count,
            "freight": [5.0] * count,
            "average_order_value": [50.0] * count,
        }
    )


def test_built_marts_pass_every_error_check(built_duckdb):
    settings, _ = built_duckdb
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        frames = {table: con.execute(f"select * from marts.{table}").df() for table in tables_in_suite("marts")}
    for table, frame in frames.items():
        assert len(frame) > 0, table
        result = validate_table("marts", table, frame, context_frames=frames)
        assert result.blocking_failures == [], f"{table}: {result.blocking_failures}"


def test_daily_revenue_gap_fails_the_calendar_check():
    complete = _daily_revenue(["2018-01-01", "2018-01-02", "2018-01-03", "2018-01-04"])
    with_gap = complete.drop(index=2)

    assert validate_table("marts", "daily_revenue", complete).blocking_failures == []
    result = validate_table("marts", "daily_revenue", with_gap)

    calendar = _result(result, "daily_revenue_calendar_complete")
    assert [failure.name for failure in result.blocking_failures] == ["daily_revenue_calendar_complete"]
    assert calendar.observed == 3 and calendar.sample_rows == []


def test_repeated_day_fails_uniqueness_even_when_the_count_matches():
    # Four rows over a four-day span, one day twice and one missing: the row count alone passes.
    result = validate_table(
        "marts", "daily_revenue", _daily_revenue(["2018-01-01", "2018-01-02", "2018-01-02", "2018-01-04"])
    )

    assert [failure.name for failure in result.blocking_failures] == ["daily_revenue_date_unique"]


@pytest.mark.parametrize(
    ("as_of_date", "max_age_days", "fresh"),
    [
        ("2018-01-10", 2, True),
        ("2018-01-12", 2, True),
        ("2018-01-13", 2, False),
        ("2018-01-13", 3, True),
        ("2018-01-10", 0, True),
        ("2018-01-11", 0, False),
    ],
)
def test_freshness_compares_latest_purchase_with_the_as_of_date(as_of_date, max_age_days, fresh):
    orders = _orders_mart(["2018-01-03 09:00:00", "2018-01-10 23:30:00", "2018-01-08 12:00:00"])

    result = validate_table(
        "marts",
        "orders",
        orders,
        context_frames={"customer_rfm": _rfm_mart(as_of_date)},
        config=QualityConfig(max_age_days=max_age_days),
    )

    freshness = _result(result, "orders_latest_purchase_fresh")
    assert freshness.passed is fresh
    assert freshness.severity == "error"
    assert freshness.observed == "2018-01-10T23:30:00"
    assert (freshness in result.blocking_failures) is not fresh


def test_freshness_needs_customer_rfm():
    with pytest.raises(QualityError, match=r"orders_latest_purchase_fresh.*customer_rfm"):
        validate_table("marts", "orders", _orders_mart(["2018-01-10 10:00:00"]))


def test_required_columns_tolerate_under_one_percent_missing():
    orders = _orders_mart(["2018-01-10 10:00:00"] * 200)
    context = {"customer_rfm": _rfm_mart("2018-01-10")}
    orders["order_id"] = [f"o{i}" for i in range(200)]

    one_missing = orders.copy()
    one_missing.loc[0, "customer_id"] = None
    three_missing = orders.copy()
    three_missing.loc[[0, 1, 2], "customer_id"] = None

    assert validate_table("marts", "orders", one_missing, context_frames=context).blocking_failures == []
    result = validate_table("marts", "orders", three_missing, context_frames=context)
    [failure] = result.blocking_failures
    assert failure.name == "orders_customer_id_not_null"
    assert failure.unexpected_percent == pytest.approx(1.5)
    assert [row["order_id"] for row in failure.sample_rows] == ["o0", "o1", "o2"]


def test_rfm_values_outside_their_ranges_fail():
    rfm = _rfm_mart("2018-01-10", rows=5)
    rfm.loc[0, "r_score"] = 6
    rfm.loc[1, "recency_days"] = -1
    rfm.loc[2, "frequency"] = 0
    rfm.loc[3, "monetary"] = -0.01

    result = validate_table("marts", "customer_rfm", rfm)

    assert {failure.name for failure in result.blocking_failures} == {
        "customer_rfm_r_score_in_range",
        "customer_rfm_recency_days_non_negative",
        "customer_rfm_frequency_at_least_one",
        "customer_rfm_monetary_non_negative",
    }


def test_repeated_person_product_pair_fails_the_compound_key():
    interactions = pd.DataFrame(
        {
            "customer_unique_id": ["u1", "u1", "u2"],
            "product_id": ["p1", "p1", "p1"],
            "purchase_count": [1, 1, 1],
            "quantity": [1, 1, 1],
            "spend": [10.0, 10.0, 10.0],
            "first_purchased_at": pd.to_datetime(["2018-01-01"] * 3),
            "last_purchased_at": pd.to_datetime(["2018-01-01"] * 3),
        }
    )

    result = validate_table("marts", "user_item_interactions", interactions)

    [failure] = result.blocking_failures
    assert failure.name == "user_item_interactions_key_unique" and failure.column is None
    assert [(row["customer_unique_id"], row["product_id"]) for row in failure.sample_rows] == [("u1", "p1")] * 2
