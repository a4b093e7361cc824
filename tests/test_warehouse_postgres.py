"""The same raw files give the same marts on PostgreSQL as on DuckDB.

Runs against the real server that .ci/run starts; outside CI it is skipped, with the
reason, when no server is reachable.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import duckdb
import numpy as np
import pandas as pd
import psycopg2
import pytest

from retail_intel.settings import Settings
from retail_intel.warehouse import MART_TABLES, WarehouseBusyError, warehouse_for
from retail_intel.warehouse.postgres import connect
from tests.support import build_warehouse, built_warehouse

pytestmark = pytest.mark.postgres


def normalise(frame: pd.DataFrame) -> pd.DataFrame:
    """Bring a mart read by psycopg2 and one read by DuckDB to the same pandas types.

    psycopg2 gives Decimal, datetime.date and nullable booleans as Python objects where
    DuckDB's frames have floats and datetime64; the values themselves must be equal.
    """
    frame = frame.copy()
    for column in frame.columns:
        values = frame[column].dropna()
        first = values.iloc[0] if len(values) else None
        if isinstance(first, Decimal):
            frame[column] = frame[column].astype(float)
        elif isinstance(first, (date, datetime)) or pd.api.types.is_datetime64_any_dtype(frame[column]):
            frame[column] = pd.to_datetime(frame[column]).astype("datetime64[us]")
        elif isinstance(first, (bool, np.bool_)) or pd.api.types.is_bool_dtype(frame[column]):
            frame[column] = frame[column].map({True: 1.0, False: 0.0}).astype(float)
        elif pd.api.types.is_integer_dtype(frame[column]):
            frame[column] = frame[column].astype("float64")
    return frame.sort_values(list(frame.columns[:2])).reset_index(drop=True)


def postgres_mart(settings: Settings, table: str) -> pd.DataFrame:
    connection = connect(settings)
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"select * from {warehouse_for(settings).schema('marts')}.{table}")
            columns = [description[0] for description in cursor.description]
            return pd.DataFrame(cursor.fetchall(), columns=columns)
    finally:
        connection.close()


def drop_tenant_schemas(settings: Settings) -> None:
    connection = connect(settings)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "select schema_name from information_schema.schemata where schema_name like %s",
                (warehouse_for(settings).schema_prefix + "%",),
            )
            for (schema,) in cursor.fetchall():
                cursor.execute(f'drop schema "{schema}" cascade')
        connection.commit()
    finally:
        connection.close()


@pytest.fixture(scope="module")
def postgres_build(postgres_env, built_duckdb, tmp_path_factory):
    duckdb_settings, _ = built_duckdb
    # A non-default tenant: exercises the per-tenant schema prefix at the same time.
    settings = Settings.from_env(postgres_env).with_(
        home=tmp_path_factory.mktemp("pg-home"),
        tenant_id="pgtest",
        target="postgres",
        raw_dir_override=duckdb_settings.raw_dir,
    )
    drop_tenant_schemas(settings)
    report = built_warehouse(settings)
    yield settings, report
    drop_tenant_schemas(settings)


@pytest.mark.parametrize("table", MART_TABLES)
def test_marts_equal_on_duckdb_and_postgres(postgres_build, built_duckdb, table):
    pg_settings, _ = postgres_build
    duckdb_settings, _ = built_duckdb
    with duckdb.connect(str(duckdb_settings.warehouse_path), read_only=True) as con:
        from_duckdb = normalise(con.execute(f"select * from marts.{table}").df())
    from_postgres = normalise(postgres_mart(pg_settings, table))
    assert list(from_postgres.columns) == list(from_duckdb.columns)
    assert len(from_postgres) == len(from_duckdb) > 0
    pd.testing.assert_frame_equal(from_postgres, from_duckdb, check_dtype=False, rtol=1e-9, atol=1e-9)


def test_postgres_schemas_are_tenant_prefixed_and_build_schemas_gone(postgres_build):
    settings, _ = postgres_build
    connection = connect(settings)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "select schema_name from information_schema.schemata where schema_name like 'pgtest%' order by 1"
            )
            schemas = [row[0] for row in cursor.fetchall()]
    finally:
        connection.close()
    assert schemas == ["pgtest__intermediate", "pgtest__marts", "pgtest__raw", "pgtest__staging"]


def test_failed_postgres_run_keeps_published_schemas(postgres_build, raw_copy):
    settings, _ = postgres_build
    before = normalise(postgres_mart(settings, "daily_revenue"))
    (raw_copy / "olist_sellers_dataset.csv").unlink()
    report = build_warehouse(settings.with_(raw_dir_override=raw_copy))
    assert not report.success and report.bad_input
    assert any("olist_sellers_dataset.csv: file not found" in failure for failure in report.failures)
    pd.testing.assert_frame_equal(normalise(postgres_mart(settings, "daily_revenue")), before)


def test_failed_postgres_data_test_keeps_published_schemas(postgres_build, raw_copy):
    """Loads fine but duplicates an order id: a uniqueness check fails and no mart is swapped in."""
    settings, _ = postgres_build
    before = normalise(postgres_mart(settings, "customer_rfm"))
    orders = raw_copy / "olist_orders_dataset.csv"
    lines = orders.read_text(encoding="utf-8").splitlines(keepends=True)
    orders.write_text("".join(lines + [lines[1]]), encoding="utf-8")
    report = build_warehouse(settings.with_(raw_dir_override=raw_copy))
    assert not report.success
    assert "unique" in "\n".join(report.failures + report.failed_checks)
    pd.testing.assert_frame_equal(normalise(postgres_mart(settings, "customer_rfm")), before)


def test_an_idle_bi_transaction_bounds_the_publish_and_is_named(postgres_build, postgres_env, monkeypatch):
    """A BI session that read a mart and stayed idle in its transaction: the publish waits at
    most RETAIL_INTEL_PG_LOCK_TIMEOUT, names the session, and leaves the published schemas as they were."""
    import psycopg2

    settings, _ = postgres_build
    # The graph's resources read the environment, as a scheduled run does.
    monkeypatch.setenv("RETAIL_INTEL_PG_LOCK_TIMEOUT", "2")
    bounded = Settings.from_env({**postgres_env, "RETAIL_INTEL_PG_LOCK_TIMEOUT": "2"}).with_(
        home=settings.home, tenant_id=settings.tenant_id, target="postgres", raw_dir_override=settings.raw_dir
    )
    before = normalise(postgres_mart(settings, "customer_rfm"))
    bi = psycopg2.connect(
        host=postgres_env["PGHOST"],
        port=int(postgres_env["PGPORT"]),
        user=postgres_env["PGUSER"],
        password=postgres_env.get("PGPASSWORD", ""),
        dbname=postgres_env["PGDATABASE"],
        application_name="bi-dashboard",
    )
    try:
        with bi.cursor() as cursor:
            # Should the bound not hold, the server ends this session after a minute and the
            # publish below goes through: the test then fails instead of hanging.
            cursor.execute("set idle_in_transaction_session_timeout = '60s'")
            cursor.execute(f"select count(*) from {warehouse_for(settings).schema('marts')}.customer_rfm")
            cursor.fetchone()
        # Now idle in transaction, holding its lock on marts.customer_rfm.
        report = build_warehouse(bounded)
        assert not report.success
        # Raw tables are published after their own gate (the session holds no lock on them);
        # the marts' swap is what waits.
        [message] = [failure for failure in report.failures if failure.startswith("dbt_models")]
        assert "waited 2 s" in message and "nothing was published" in message
        assert f"pid {bi.get_backend_pid()}" in message
        assert "'bi-dashboard'" in message and "idle in transaction since" in message
        # The score-table writer is bounded the same way.
        with pytest.raises(WarehouseBusyError, match="bi-dashboard"):
            warehouse_for(bounded).write("marts", "customer_rfm", before.head(3))
    finally:
        bi.close()
    pd.testing.assert_frame_equal(normalise(postgres_mart(settings, "customer_rfm")), before)
    # With the session gone the same publish goes through.
    built_warehouse(bounded)


def test_a_batch_that_fails_inside_the_transaction_publishes_none_of_its_tables(postgres_build):
    """DuckDB stages the frames before the transaction; PostgreSQL refuses a NUL character in
    text only during the COPY, after the batch's first table was already replaced in it."""
    settings, _ = postgres_build
    warehouse = warehouse_for(settings)
    warehouse.write("ml", "kept", pd.DataFrame({"value": ["a", "b", "c"]}))
    with pytest.raises(psycopg2.Error, match="0x00"):
        warehouse.write_many(
            {("ml", "kept"): pd.DataFrame({"value": ["new"]}), ("ml", "refused"): pd.DataFrame({"value": ["a\x00b"]})}
        )
    assert warehouse.read("ml", "kept")["value"].tolist() == ["a", "b", "c"]
    assert not warehouse.exists("ml", "refused")
