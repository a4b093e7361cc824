"""The marts reconcile with the raw files, computed independently here with pandas."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from retail_intel.raw.contract import NON_REVENUE_STATUSES
from retail_intel.warehouse import MART_TABLES, warehouse_for
from tests.support import built_warehouse


def read_raw(raw_dir: Path, stem: str) -> pd.DataFrame:
    return pd.read_csv(raw_dir / f"{stem}.csv", dtype=str, keep_default_na=False, na_values=[""])


@pytest.fixture(scope="module")
def raw(generated_raw_dir):
    orders = read_raw(generated_raw_dir, "olist_orders_dataset")
    customers = read_raw(generated_raw_dir, "olist_customers_dataset")
    items = read_raw(generated_raw_dir, "olist_order_items_dataset")
    items["price"] = items["price"].astype(float)
    items["freight_value"] = items["freight_value"].astype(float)
    orders = orders.merge(customers[["customer_id", "customer_unique_id"]], on="customer_id", how="left")
    orders["purchased_at"] = pd.to_datetime(orders["order_purchase_timestamp"])
    orders["is_revenue"] = ~orders["order_status"].isin(NON_REVENUE_STATUSES)
    revenue_items = items.merge(orders[orders["is_revenue"]], on="order_id")
    return {"orders": orders, "items": items, "revenue_items": revenue_items}


@pytest.fixture(scope="module")
def marts(built_duckdb):
    settings, _ = built_duckdb
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return {table: con.execute(f"select * from marts.{table}").df() for table in MART_TABLES}


def test_orders_mart_has_every_raw_order(marts, raw):
    assert len(marts["orders"]) == len(raw["orders"])
    assert marts["orders"]["order_id"].is_unique


def test_daily_revenue_reconciles_with_item_prices(marts, raw):
    daily = marts["daily_revenue"]
    assert float(daily["revenue"].sum()) == pytest.approx(raw["revenue_items"]["price"].sum(), abs=0.01)
    revenue_orders = raw["orders"][raw["orders"]["is_revenue"]]
    assert int(daily["orders"].sum()) == len(revenue_orders)
    assert int(daily["items"].sum()) == len(raw["revenue_items"])

    by_day = raw["revenue_items"].groupby(raw["revenue_items"]["purchased_at"].dt.date)["price"].sum()
    daily_by_day = daily.set_index(pd.to_datetime(daily["date"]).dt.date)["revenue"].astype(float)
    pd.testing.assert_series_equal(
        daily_by_day[by_day.index].rename(None), by_day.rename(None), check_names=False, atol=0.01, rtol=0
    )


def test_daily_revenue_has_every_calendar_day(marts, raw):
    days = pd.to_datetime(marts["daily_revenue"]["date"]).sort_values()
    first, last = raw["orders"]["purchased_at"].min().normalize(), raw["orders"]["purchased_at"].max().normalize()
    assert list(days) == list(pd.date_range(first, last, freq="D"))
    assert (marts["daily_revenue"]["revenue"] == 0).any(), "the generated history has days without sales"


def test_customers_are_people_not_order_ids(marts, raw):
    customers = marts["customers"]
    assert customers["customer_unique_id"].is_unique
    assert len(customers) == raw["orders"]["customer_unique_id"].nunique()


def test_customer_rfm_reconciles(marts, raw):
    rfm = marts["customer_rfm"].set_index("customer_unique_id")
    revenue_orders = raw["orders"][raw["orders"]["is_revenue"]]
    assert set(rfm.index) == set(revenue_orders["customer_unique_id"])
    assert rfm["frequency"].to_dict() == revenue_orders.groupby("customer_unique_id").size().to_dict()
    spend = raw["revenue_items"].assign(value=lambda f: f["price"] + f["freight_value"])
    expected_monetary = spend.groupby("customer_unique_id")["value"].sum()
    monetary = rfm["monetary"].astype(float)
    pd.testing.assert_series_equal(
        monetary[expected_monetary.index], expected_monetary, check_names=False, atol=0.01, rtol=0
    )
    for score in ("r_score", "f_score", "m_score"):
        assert rfm[score].between(1, 5).all()
    last_day = raw["orders"]["purchased_at"].max().normalize()
    last_purchase = revenue_orders.groupby("customer_unique_id")["purchased_at"].max().dt.normalize()
    assert rfm["recency_days"].to_dict() == (last_day - last_purchase).dt.days.to_dict()


def test_user_item_interactions_reconcile(marts, raw):
    interactions = marts["user_item_interactions"]
    assert not interactions.duplicated(["customer_unique_id", "product_id"]).any()
    expected = raw["revenue_items"].groupby(["customer_unique_id", "product_id"])["order_id"].nunique()
    actual = interactions.set_index(["customer_unique_id", "product_id"])["purchase_count"]
    assert actual.sort_index().to_dict() == expected.sort_index().to_dict()
    assert float(interactions["spend"].sum()) == pytest.approx(raw["revenue_items"]["price"].sum(), abs=0.01)


def test_products_carry_english_category(marts):
    products = marts["products"]
    assert products["product_id"].is_unique
    translated = products[products["category_english"].notna()]
    assert len(translated) > 0.9 * len(products)
    assert (products["category"].notna()).all()


def test_an_orders_main_category_is_the_one_it_spent_most_on(marts, raw):
    items = raw["items"].merge(marts["products"][["product_id", "category"]], on="product_id")
    spend = items.groupby(["order_id", "category"], as_index=False)["price"].sum()
    # Most spend first; of equal spend, the first category by name.
    spend = spend.sort_values(["order_id", "price", "category"], ascending=[True, False, True])
    expected = spend.drop_duplicates("order_id").set_index("order_id")["category"]
    orders = marts["orders"].set_index("order_id")
    assert orders.loc[expected.index, "main_category"].tolist() == expected.tolist()
    assert orders.loc[orders["items_count"] == 0, "main_category"].isna().all()


def test_run_is_repeatable(settings, generated_raw_dir):
    """Running twice gives the same tables, not duplicates."""
    settings = settings.with_(raw_dir_override=generated_raw_dir)

    def snapshot():
        with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
            return {t: con.execute(f"select * from marts.{t} order by all").fetchall() for t in MART_TABLES}

    built_warehouse(settings)
    first, tables_after_first = warehouse_for(settings).summarize(), snapshot()
    built_warehouse(settings)
    assert first.table_rows == warehouse_for(settings).summarize().table_rows
    assert snapshot() == tables_after_first


def test_as_of_date_rebuilds_the_past(settings, generated_raw_dir, raw):
    as_of = date(2018, 3, 31)
    settings = settings.with_(raw_dir_override=generated_raw_dir)
    built_warehouse(settings, as_of_date=as_of)
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        last_day = con.execute("select max(date) from marts.daily_revenue").fetchone()[0]
        rfm_as_of = con.execute("select distinct as_of_date from marts.customer_rfm").fetchall()
        orders = con.execute("select count(*) from marts.orders").fetchone()[0]
    assert last_day == as_of
    assert rfm_as_of == [(as_of,)]
    assert orders == int((raw["orders"]["purchased_at"].dt.date <= as_of).sum())

    # Point in time: an order bought before the as-of day but delivered after it was
    # still on its way then, and its delivery date is not yet known.
    delivered_later = raw["orders"][
        (raw["orders"]["purchased_at"].dt.date <= as_of)
        & (pd.to_datetime(raw["orders"]["order_delivered_customer_date"]).dt.date > as_of)
        & (raw["orders"]["order_status"] == "delivered")
    ]["order_id"]
    assert len(delivered_later) > 0
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        seen = con.execute(
            "select order_status, delivered_to_customer_at from marts.orders where order_id in "
            "(select unnest(?::varchar[]))",
            [list(delivered_later)],
        ).fetchall()
    assert len(seen) == len(delivered_later)
    assert {status for status, _ in seen} <= {"shipped", "approved", "created"}
    assert all(delivered_at is None for _, delivered_at in seen)


def test_an_events_file_another_process_holds_is_busy_not_a_crash(tmp_path):
    import subprocess
    import sys

    from retail_intel.warehouse import WarehouseBusyError
    from retail_intel.warehouse.duckdb_file import _DuckDBAppendTable

    path = tmp_path / "events.duckdb"
    hold = f"import duckdb, time; c = duckdb.connect({str(path)!r}); print('held', flush=True); time.sleep(60)"
    holder = subprocess.Popen([sys.executable, "-c", hold], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(WarehouseBusyError, match="open in another process"):
            _DuckDBAppendTable(path, "events", "serving_events", "create table if not exists {table} (a int)")
    finally:
        holder.kill()
        holder.wait()
