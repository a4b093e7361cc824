"""Bad raw input: one clear message naming file, column and row; published tables survive."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import duckdb
import pytest

from retail_intel.raw.contract import RAW_FILES, RAW_FILES_BY_NAME
from retail_intel.raw.loader import RawInputError, load_raw_dir
from tests.support import build_warehouse, built_warehouse, make_settings

ORDERS = "olist_orders_dataset.csv"
ITEMS = "olist_order_items_dataset.csv"


def rewrite_csv(path: Path, edit) -> None:
    """Apply ``edit(header, rows)`` to a CSV file in place, keeping RFC 4180 quoting."""
    with path.open(newline="", encoding="utf-8") as handle:
        header, *rows = list(csv.reader(handle))
    header, rows = edit(header, rows)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def set_value(file_name: str, column: str, row: int, value: str):
    def edit(header, rows):
        rows[row - 1][header.index(column)] = value
        return header, rows

    return edit


def load(raw_dir: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    load_raw_dir(con, raw_dir)
    return con


def test_loads_every_file_typed(generated_raw_dir):
    con = load(generated_raw_dir)
    for raw_file in RAW_FILES:
        with (generated_raw_dir / raw_file.file_name).open(newline="", encoding="utf-8") as handle:
            expected_rows = sum(1 for _ in csv.reader(handle)) - 1
        assert con.execute(f"select count(*) from raw.{raw_file.table_name}").fetchone()[0] == expected_rows
    types = dict(
        con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'raw' and table_name = 'olist_order_items_dataset'"
        ).fetchall()
    )
    assert types["price"] == "DECIMAL(14,2)"
    assert types["shipping_limit_date"] == "TIMESTAMP"
    assert types["order_item_id"] == "BIGINT"


def test_missing_file(raw_copy):
    (raw_copy / ORDERS).unlink()
    with pytest.raises(RawInputError, match=rf"^{ORDERS}: file not found in {raw_copy}"):
        load(raw_copy)


def test_missing_column(raw_copy):
    rewrite_csv(raw_copy / ORDERS, lambda header, rows: (header[:2] + header[3:], [r[:2] + r[3:] for r in rows]))
    with pytest.raises(RawInputError, match=rf"^{ORDERS}: missing column\(s\) 'order_status' \(expected"):
        load(raw_copy)


def test_renamed_column_names_both(raw_copy):
    rewrite_csv(raw_copy / ITEMS, lambda header, rows: ([("prices" if c == "price" else c) for c in header], rows))
    with pytest.raises(
        RawInputError, match=rf"^{ITEMS}: missing column\(s\) 'price'; found unexpected column\(s\) 'prices'"
    ):
        load(raw_copy)


def test_unparseable_timestamp_names_row(raw_copy):
    rewrite_csv(raw_copy / ORDERS, set_value(ORDERS, "order_purchase_timestamp", 17, "2017-13-45 25:00:00"))
    with pytest.raises(
        RawInputError,
        match=rf"^{ORDERS}: column 'order_purchase_timestamp', row 17: "
        r"cannot parse '2017-13-45 25:00:00' as a timestamp",
    ):
        load(raw_copy)


@pytest.mark.parametrize(
    ("column", "value", "words"),
    [
        ("price", "12,50", "a finite amount"),
        ("price", "nan", "a finite amount"),
        ("order_item_id", "1.5", "a whole number"),
    ],
)
def test_unparseable_number_names_row(raw_copy, column, value, words):
    rewrite_csv(raw_copy / ITEMS, set_value(ITEMS, column, 5, value))
    with pytest.raises(RawInputError, match=rf"^{ITEMS}: column '{column}', row 5: cannot parse '{value}' as {words}"):
        load(raw_copy)


def test_header_only_optional_files_load(raw_copy):
    for name in ("olist_order_reviews_dataset.csv", "olist_geolocation_dataset.csv"):
        assert RAW_FILES_BY_NAME[name].may_be_empty
        rewrite_csv(raw_copy / name, lambda header, rows: (header, []))
    con = load(raw_copy)
    assert con.execute("select count(*) from raw.olist_order_reviews_dataset").fetchone()[0] == 0


def test_header_only_orders_is_an_error(raw_copy):
    rewrite_csv(raw_copy / ORDERS, lambda header, rows: (header, []))
    with pytest.raises(RawInputError, match=rf"^{ORDERS}: the file has a header but no data rows"):
        load(raw_copy)


def test_quoted_newlines_and_commas_survive(raw_copy):
    reviews = raw_copy / "olist_order_reviews_dataset.csv"
    message = 'Chegou antes do prazo, "ótimo"\nrecomendo'
    rewrite_csv(reviews, set_value(reviews.name, "review_comment_message", 3, message))
    con = load(raw_copy)
    assert message in {
        row[0] for row in con.execute("select review_comment_message from raw.olist_order_reviews_dataset").fetchall()
    }


# ---- the published warehouse survives a failed run ------------------------------------------
def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def mart_snapshot(warehouse: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {
            table: con.execute(f"select * from marts.{table} order by all").fetchall()
            for table in ("daily_revenue", "customer_rfm")
        }


@pytest.fixture(scope="module")
def published(tmp_path_factory, generated_raw_dir):
    """A tenant whose warehouse was built once from the good folder; shared, since every test
    here asserts that its failed run left it exactly as it was."""
    settings = make_settings(tmp_path_factory.mktemp("published"), raw_dir_override=generated_raw_dir)
    built_warehouse(settings)
    return settings


@pytest.mark.parametrize(
    ("corrupt", "named"),
    [
        (lambda raw: (raw / ITEMS).unlink(), f"{ITEMS}: file not found"),
        (
            lambda raw: rewrite_csv(raw / ITEMS, lambda h, r: ([("prices" if c == "price" else c) for c in h], r)),
            "price",
        ),
        (lambda raw: rewrite_csv(raw / ORDERS, set_value(ORDERS, "order_approved_at", 3, "yesterday")), "row"),
    ],
    ids=["missing-file", "renamed-column", "bad-timestamp"],
)
def test_bad_input_leaves_published_marts_intact(published, raw_copy, corrupt, named):
    before_digest = file_digest(published.warehouse_path)
    before = mart_snapshot(published.warehouse_path)
    corrupt(raw_copy)
    report = build_warehouse(published.with_(raw_dir_override=raw_copy))
    assert not report.success and report.bad_input
    assert any(failure.startswith("raw_olist_files") and named in failure for failure in report.failures)
    assert file_digest(published.warehouse_path) == before_digest
    assert mart_snapshot(published.warehouse_path) == before


def test_failed_data_test_leaves_published_marts_intact(published, raw_copy):
    """Parses fine but breaks a key: a uniqueness check fails, and no mart is published."""

    def duplicate_first_order(header, rows):
        return header, rows + [rows[0]]

    rewrite_csv(raw_copy / ORDERS, duplicate_first_order)
    before = mart_snapshot(published.warehouse_path)
    report = build_warehouse(published.with_(raw_dir_override=raw_copy))
    assert not report.success
    assert "unique" in "\n".join(report.failures + report.failed_checks)
    assert not any(name.startswith("marts/") for name in report.materialized)
    assert mart_snapshot(published.warehouse_path) == before
