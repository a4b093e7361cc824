"""Every Warehouse implementation keeps the same promises: what it writes it reads back with the
same types, several tables read together come from one published version, a missing table is
named, a publish changes the signature, and a failed batch publishes nothing.

The DuckDB case is in the fast tier; the PostgreSQL case needs the server (slow tier).
"""

from __future__ import annotations

from contextlib import closing
from datetime import date, datetime

import duckdb
import pandas as pd
import pytest

from retail_intel.events import EventStore
from retail_intel.raw.contract import RAW_FILES
from retail_intel.settings import Settings
from retail_intel.warehouse import TableMissing, Warehouse, warehouse_for
from tests.support import make_settings


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=[pytest.mark.slow, pytest.mark.postgres])])
def warehouse(request, tmp_path) -> Warehouse:
    if request.param == "duckdb":
        yield warehouse_for(make_settings(tmp_path / "home"))
        return
    env = request.getfixturevalue("postgres_env")
    settings = Settings.from_env(env).with_(home=tmp_path / "home", tenant_id="contract", target="postgres")
    yield warehouse_for(settings)
    from retail_intel.warehouse.postgres import connect

    with closing(connect(settings)) as connection, connection, connection.cursor() as cursor:
        cursor.execute("select schema_name from information_schema.schemata where schema_name like 'contract\\_\\_%'")
        for (schema,) in cursor.fetchall():
            cursor.execute(f'drop schema "{schema}" cascade')


def sample() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_unique_id": ["a", "b", "c"],
            "score": [0.5, 0.25, 1.0],
            "orders": [1, 2, 3],
            "first_day": pd.to_datetime(["2018-01-01", "2018-02-01", "2018-03-01"]),
            "active": [True, False, True],
        }
    )


def test_what_is_written_reads_back_alike(warehouse):
    assert not warehouse.exists("ml", "scores")
    assert warehouse.write("ml", "scores", sample()) == 3
    assert warehouse.exists("ml", "scores")
    back = warehouse.read("ml", "scores").sort_values("customer_unique_id", ignore_index=True)
    assert back["score"].tolist() == [0.5, 0.25, 1.0]
    assert back["orders"].tolist() == [1, 2, 3]
    assert pd.api.types.is_datetime64_any_dtype(back["first_day"])
    assert back["first_day"].dt.date.tolist() == [date(2018, 1, 1), date(2018, 2, 1), date(2018, 3, 1)]
    assert back["active"].tolist() == [True, False, True]


def test_queries_bind_their_parameters(warehouse):
    warehouse.write("ml", "scores", sample())
    hostile = "a' or '1'='1"
    relation = warehouse.relation("ml", "scores")
    assert warehouse.query(f"select count(*) from {relation} where customer_unique_id = ?", [hostile]) == [(0,)]
    assert warehouse.query(f"select orders from {relation} where customer_unique_id = ?", ["b"]) == [(2,)]


def test_a_batch_is_published_together_and_changes_the_signature(warehouse):
    before = warehouse.signature([("ml", "left"), ("ml", "right")])
    counts = warehouse.write_many({("ml", "left"): sample(), ("ml", "right"): sample().head(1)})
    assert counts == {("ml", "left"): 3, ("ml", "right"): 1}
    after = warehouse.signature([("ml", "left"), ("ml", "right")])
    assert after != before
    frames = warehouse.read_consistent({"left": ("ml", "left"), "right": ("ml", "right")})
    assert (len(frames["left"]), len(frames["right"])) == (3, 1)


def test_a_failing_batch_publishes_none_of_its_tables(warehouse):
    warehouse.write("ml", "left", sample())
    unstorable = pd.DataFrame({"value": [1 + 2j]})  # no engine here stores complex numbers
    with pytest.raises(Exception):  # noqa: B017 - each engine raises its own driver's error
        warehouse.write_many({("ml", "left"): sample().head(1), ("ml", "broken"): unstorable})
    assert len(warehouse.read("ml", "left")) == 3
    assert not warehouse.exists("ml", "broken")


def test_tables_are_described_by_their_columns_and_rows(warehouse):
    warehouse.write_many({("ml", "scores"): sample(), ("marts", "other"): sample().head(2)})
    described = warehouse.describe([("ml", "scores"), ("marts", "other")])
    assert described[("ml", "scores")].rows == 3 and described[("marts", "other")].rows == 2
    assert [name for name, _ in described[("ml", "scores")].columns] == list(sample().columns)


def test_a_missing_table_is_named(warehouse):
    warehouse.write("ml", "scores", sample())
    with pytest.raises(TableMissing, match="ml.absent"):
        warehouse.read_consistent({"scores": ("ml", "scores"), "absent": ("ml", "absent")})


def test_raw_tables_publish_from_a_staging_connection(warehouse):
    orders = next(raw_file for raw_file in RAW_FILES if raw_file.table_name == "olist_orders_dataset")
    with duckdb.connect() as staging:
        staging.execute("create schema raw")
        columns = ", ".join(f'"{name}" varchar' for name, _ in orders.columns)
        staging.execute(f"create table raw.olist_orders_dataset ({columns})")
        staging.execute("insert into raw.olist_orders_dataset (order_id) values ('o1'), ('o2')")
        warehouse.publish_raw(staging, [orders])
    assert warehouse.query(f"select count(*) from {warehouse.relation('raw', 'olist_orders_dataset')}") == [(2,)]


def build_in(workspace, warehouse: Warehouse, table: str) -> None:
    """What dbt does in a workspace: create a mart where the workspace builds."""
    if warehouse.target == "duckdb":
        with duckdb.connect(workspace.dbt_environment()["RETAIL_INTEL_DUCKDB_PATH"]) as connection:
            connection.execute(f"create schema if not exists marts; create table marts.{table} as select 1 as one")
        return
    from retail_intel.warehouse.postgres import BUILD_SUFFIX, connect

    schema = warehouse.schema("marts") + BUILD_SUFFIX
    with closing(connect(warehouse.settings)) as connection, connection, connection.cursor() as cursor:
        cursor.execute(f'create schema if not exists "{schema}"')
        cursor.execute(f'create table "{schema}".{table} as select 1 as one')


def test_a_build_workspace_publishes_only_when_told(warehouse):
    warehouse.write("marts", "kept", sample())
    with warehouse.build_workspace(["marts"]) as workspace:
        build_in(workspace, warehouse, "abandoned")
    assert not warehouse.exists("marts", "abandoned")
    warehouse.discard_unpublished()

    with warehouse.build_workspace(["marts"]) as workspace:
        build_in(workspace, warehouse, "built")
        assert not warehouse.exists("marts", "built")
        workspace.publish()
    assert warehouse.exists("marts", "built") and not warehouse.exists("marts", "abandoned")


def test_frames_come_back_with_the_same_dtypes_on_every_engine(warehouse, tmp_path):
    """The DuckDB reader's dtypes are the reference; an empty table keeps its column types."""
    reference = warehouse_for(make_settings(tmp_path / "reference"))
    for frame in (sample(), sample().head(0)):
        reference.write("ml", "scores", frame)
        warehouse.write("ml", "scores", frame)
        expected, actual = reference.read("ml", "scores").dtypes, warehouse.read("ml", "scores").dtypes
        assert actual.to_dict() == expected.to_dict()


def test_an_append_table_grows_and_counts(warehouse):
    table = warehouse.append_table("events", "log", "create table if not exists {table} (id varchar, happened date)")
    try:
        assert table.count() == 0
        assert table.insert([("x", date(2018, 1, 1)), ("y", date(2018, 1, 2))]) == 2
        assert table.insert([]) == 0
        assert table.count() == 2
        assert table.since("happened", date(2018, 1, 2))["id"].tolist() == ["y"]
    finally:
        table.close()


def test_an_append_table_finds_the_earliest_row_related_to_a_marked_one(warehouse):
    ddl = "create table if not exists {table} (request varchar, mark varchar, happened date)"
    table = warehouse.append_table("events", "related", ddl)
    try:
        assert table.earliest("happened", "request", "mark", "x") is None
        table.insert([("r1", None, date(2018, 1, 1)), ("r1", "x", date(2018, 3, 1)), ("r2", None, date(2017, 1, 1))])
        # r1's unmarked row counts (it shares the request); r2 shares nothing with a marked row.
        assert pd.Timestamp(table.earliest("happened", "request", "mark", "x")) == pd.Timestamp(2018, 1, 1)
    finally:
        table.close()


def test_the_event_store_adds_the_value_column_to_a_table_made_before_it(warehouse):
    old = "create table if not exists {table} (event_id varchar primary key, event_type varchar not null, "
    old += "customer_unique_id varchar, product_id varchar, model_version varchar, request_id varchar, "
    old += "occurred_at timestamp not null, received_at timestamp not null)"
    table = warehouse.append_table("events", "serving_events", old)
    moment = datetime(2018, 1, 1, 12)
    table.insert([("e1", "click", "c", "p", "v1", "r", moment, moment)])
    table.close()
    store = EventStore(warehouse.settings)
    try:
        store.add(
            [{"event_id": "e2", "event_type": "purchase", "occurred_at": moment, "received_at": moment, "value": 9.5}]
        )
        events = store.since(moment).sort_values("event_id")
        assert events["value"].isna().tolist() == [True, False] and events["value"].iloc[1] == 9.5
        # The experiment columns came later still: an exposure and the client's impression of its
        # request (reported earlier than the service's clock) read back from the impression on.
        shown, seen = datetime(2018, 1, 3), datetime(2018, 1, 2)
        store.add(
            [
                {"event_id": "e3", "event_type": "exposure", "request_id": "q", "occurred_at": shown,
                 "received_at": shown, "experiment": "exp", "arm": "random"},
                {"event_id": "e4", "event_type": "impression", "request_id": "q", "occurred_at": seen,
                 "received_at": seen},
            ]
        )  # fmt: skip
        logged = store.of_experiment("exp").sort_values("event_id")
        assert logged["event_id"].tolist() == ["e3", "e4"] and logged["arm"].tolist()[0] == "random"
        assert store.of_experiment("other").empty
    finally:
        store.close()


def test_tenants_sharing_a_database_get_their_own_schemas(tmp_path):
    acme = make_settings(tmp_path / "home").with_(tenant_id="acme", target="postgres")
    globex, default = acme.with_(tenant_id="globex"), acme.with_(tenant_id="default")
    assert warehouse_for(acme).schema("marts") == "acme__marts" != warehouse_for(globex).schema("marts")
    assert warehouse_for(default).schema("marts") == "marts"
    # A DuckDB tenant has a file of its own: plain names.
    assert warehouse_for(acme.with_(target="duckdb")).schema("marts") == "marts"


def test_destroy_removes_this_tenants_tables_and_no_other(warehouse):
    neighbour = warehouse_for(warehouse.settings.with_(tenant_id="contract_n"))
    warehouse.write("ml", "scores", sample())
    neighbour.write("ml", "scores", sample())
    try:
        warehouse.destroy()
        assert not warehouse.exists("ml", "scores")
        assert len(neighbour.read("ml", "scores")) == 3
    finally:
        neighbour.destroy()
