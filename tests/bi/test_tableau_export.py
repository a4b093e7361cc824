"""``export tableau``: every Hyper extract read back with Tableau's Hyper API holds what the
warehouse holds (rows, column types, a checksum of every value), on DuckDB and PostgreSQL; the
live data sources connect as the tenant's read-only login, without a password."""

from __future__ import annotations

import hashlib
import shutil
import xml.etree.ElementTree as ElementTree

import pandas as pd
import psycopg2
import pytest

from apps.activation import run_campaign
from apps.bi.hyper import hyper_process, hyper_type_name, read_extract
from apps.bi.tableau import export_tableau
from apps.bi.tables import EXTRACTS, LIVE_TABLES, revenue_and_forecast
from apps.rules import parse_rules
from retail_intel.warehouse import warehouse_for

# Types a Tableau user relies on, written out rather than derived: a money column must stay a
# number, a day a date, a count a whole number.
EXPECTED_TYPES = {
    "customer_rfm": {
        "customer_unique_id": "text",
        "as_of_date": "date",
        "recency_days": "int",
        "frequency": "big_int",
        "monetary": "double",
    },
    "revenue_and_forecast": {
        "date": "date",
        "revenue": "double",
        "orders": "big_int",
        "forecast": "double",
        "forecast_lower": "double",
        "forecast_upper": "double",
    },
    "customer_segments": {"segment": "text", "cluster": "big_int", "monetary": "double"},
    "coupon_targets": {"customer_unique_id": "text", "probability": "double", "band": "text"},
}


def checksum(frame: pd.DataFrame, types: dict[str, str]) -> str:
    """Every value written canonically by its type, rows in sorted order: equal for two tables
    that hold the same values, whatever their engine's Python types."""

    def cell(value, kind: str) -> str:
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            return "<null>"
        if kind == "date":
            return pd.Timestamp(value).date().isoformat()
        if kind == "timestamp":
            return pd.Timestamp(value).isoformat()
        if kind == "double":
            return repr(float(value))
        if kind in ("int", "big_int"):
            return str(int(value))
        if kind == "bool":
            return str(bool(value))
        return str(value)

    columns = list(frame.columns)
    rows = sorted(
        "\x1f".join(cell(value, types[column]) for column, value in zip(columns, row, strict=True))
        for row in frame.itertuples(index=False, name=None)
    )
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()


def assert_extracts_hold_the_warehouse(settings, report, skipped: set[str] = frozenset()):
    warehouse = warehouse_for(settings)
    assert {name for name, _ in report.skipped} == skipped
    assert {name for name, _, _ in report.extracts} == {extract.name for extract in EXTRACTS} - skipped
    with hyper_process() as process:
        for extract in (extract for extract in EXTRACTS if extract.name not in skipped):
            sources = {source: warehouse.read(*source) for source in extract.sources}
            expected = extract.rows(sources)
            described = {source: dict(warehouse.describe([source])[source].columns) for source in extract.sources}
            table, types, rows = read_extract(process, report.folder / f"{extract.name}.hyper")

            assert table == extract.name
            assert list(types) == list(expected.columns)
            for column in expected.columns:
                source, source_column = extract.origin(column)
                assert types[column] == hyper_type_name(described[source][source_column], column), column
            assert EXPECTED_TYPES.get(extract.name, {}).items() <= types.items()
            assert len(rows) == len(expected) > 0, extract.name
            assert checksum(rows, types) == checksum(expected, types), extract.name


def test_extracts_on_duckdb_hold_the_warehouse_and_a_skipped_one_leaves_no_stale_file(graph_run, tmp_path):
    settings, report = graph_run
    assert report.success, report.failures
    # A private copy: the campaign writes ml.coupon_targets, which the shared run must not get.
    warehouse_file = tmp_path / "warehouse.duckdb"
    shutil.copy(settings.warehouse_path, warehouse_file)
    own = settings.with_(warehouse_override=warehouse_file)
    run_campaign(warehouse_for(own), parse_rules({}), tmp_path / "campaign.csv")

    exported = export_tableau(own, tmp_path / "tableau")
    assert_extracts_hold_the_warehouse(own, exported)
    assert "DuckDB file" in exported.no_datasources and not exported.datasources

    # The shared run never scored a campaign: its coupon targets are skipped, and the file an
    # earlier export left is removed rather than shown as current.
    stale = tmp_path / "tableau" / "coupon_targets.hyper"
    assert stale.exists()
    again = export_tableau(settings, tmp_path / "tableau")
    reason = dict(again.skipped)["coupon_targets"]
    assert reason == "ml.coupon_targets is not published (`retail-intel score` writes it)"
    assert not stale.exists()


def test_revenue_and_forecast_puts_each_day_once_with_what_is_known_of_it():
    daily = pd.DataFrame(
        {"date": pd.to_datetime(["2018-01-01", "2018-01-02"]), "revenue": [10.0, 0.0], "orders": [1, 0]}
    )
    forecast = pd.DataFrame(
        {
            "date": pd.to_datetime(["2018-01-03 00:00", "2018-01-04 00:00"]),
            "yhat": [5.0, 6.0],
            "yhat_lower": [1.0, 2.0],
            "yhat_upper": [9.0, 10.0],
            "model_name": ["ets", "ets"],
            "model_version": ["t.revenue_forecast/1"] * 2,
        }
    )
    joined = revenue_and_forecast({("marts", "daily_revenue"): daily, ("ml", "revenue_forecast"): forecast})
    assert joined["date"].dt.strftime("%Y-%m-%d").tolist() == ["2018-01-01", "2018-01-02", "2018-01-03", "2018-01-04"]
    assert joined["revenue"].tolist()[:2] == [10.0, 0.0] and joined["revenue"].iloc[2:].isna().all()
    assert joined["forecast"].iloc[:2].isna().all() and joined["forecast_upper"].tolist()[2:] == [9.0, 10.0]
    assert joined["forecast_model_version"].iloc[3] == "t.revenue_forecast/1"


@pytest.mark.postgres
def test_extracts_and_live_sources_on_postgres(postgres_graph_run, tmp_path):
    settings, report = postgres_graph_run
    assert report.success, report.failures
    warehouse = warehouse_for(settings)

    before = export_tableau(settings, tmp_path / "no-login")
    assert "no BI login yet" in before.no_datasources and not before.datasources

    role = warehouse.create_reader("tableau-test-password")
    try:
        exported = export_tableau(settings, tmp_path / "tableau")
        # No campaign was scored on the shared PostgreSQL run.
        assert_extracts_hold_the_warehouse(settings, exported, skipped={"coupon_targets"})
        assert exported.login == role
        live = {path.name for path in exported.datasources}
        published = {f"{layer}.{table}.tds" for layer, table in LIVE_TABLES if warehouse.exists(layer, table)}
        assert live == published and "marts.orders.tds" in live
        for path in exported.datasources:
            text = path.read_text()
            assert "password" not in text.lower().replace("username-password", "")
            root = ElementTree.fromstring(text)
            (login,) = [element for element in root.iter("connection") if element.get("class") == "postgres"]
            assert login.get("username") == role
            relation = root.find("connection/relation").get("table")
            schema, table = relation.strip("[]").split("].[")
            declared = [column.get("name").strip("[]") for column in root.findall("column")]
            # What Tableau does with the file: log in as the reader and read the relation.
            with (
                psycopg2.connect(
                    host=login.get("server"),
                    port=int(login.get("port")),
                    dbname=login.get("dbname"),
                    user=login.get("username"),
                    password="tableau-test-password",
                ) as connection,
                connection.cursor() as cursor,
            ):
                cursor.execute(f'SELECT * FROM "{schema}"."{table}" LIMIT 0')
                assert [description.name for description in cursor.description] == declared
                cursor.execute(f'SELECT count(*) FROM "{schema}"."{table}"')
                layer = schema.removeprefix(warehouse.schema_prefix)
                assert cursor.fetchone()[0] == len(warehouse.read(layer, table))
    finally:
        warehouse.drop_reader()


def test_a_forecast_not_made_and_empty_tables_still_export(tmp_path):
    """A first run with too little history publishes an empty forecast and no segments rows:
    the extracts are still written, typed, with the columns no value filled left null."""
    from tests.support import make_settings

    settings = make_settings(tmp_path / "home")
    warehouse = warehouse_for(settings)
    days = pd.date_range("2018-01-01", periods=3, freq="D")
    revenue = pd.DataFrame({"date": days.date, "revenue": [1.0, 2.0, 3.0], "orders": [1, 1, 2]})  # DATE, as the mart
    warehouse.write("marts", "daily_revenue", revenue)
    warehouse.write(
        "ml",
        "revenue_forecast",
        pd.DataFrame(
            {
                "date": pd.Series([], dtype="datetime64[us]"),
                **{column: pd.Series([], dtype=float) for column in ("yhat", "yhat_lower", "yhat_upper")},
                **{column: pd.Series([], dtype="str") for column in ("model_name", "model_version")},
            }
        ),
    )
    warehouse.write(
        "ml",
        "segment_summary",
        pd.DataFrame({"segment": pd.Series([], dtype=object), "customers": pd.Series([], dtype="int64")}),
    )
    exported = export_tableau(settings, tmp_path / "tableau")
    assert {name for name, _, _ in exported.extracts} == {"revenue_and_forecast", "segment_summary"}
    with hyper_process() as process:
        _, types, rows = read_extract(process, tmp_path / "tableau" / "revenue_and_forecast.hyper")
        assert types["forecast_model"] == "text" and types["date"] == "date"
        assert len(rows) == 3 and rows["forecast_model"].isna().all() and rows["revenue"].tolist() == [1.0, 2.0, 3.0]
        _, types, rows = read_extract(process, tmp_path / "tableau" / "segment_summary.hyper")
        assert types == {"segment": "text", "customers": "big_int"} and rows.empty
