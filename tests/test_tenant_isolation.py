"""On PostgreSQL every tenant shares one database: a tenant's BI login (a real role, with a
password) reads its own schemas, through every kind of publish, and nothing of another tenant."""

from __future__ import annotations

from contextlib import closing

import pandas as pd
import psycopg2
import pytest

from retail_intel.settings import Settings
from retail_intel.warehouse import warehouse_for

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def tenants(postgres_env, tmp_path):
    warehouses = {
        tenant: warehouse_for(
            Settings.from_env(postgres_env).with_(home=tmp_path / "home", tenant_id=tenant, target="postgres")
        )
        for tenant in ("iso_acme", "iso_globex")
    }
    yield warehouses
    for warehouse in warehouses.values():
        warehouse.destroy()
        warehouse.drop_reader()


def login(env: dict[str, str], user: str | None = None, password: str | None = None):
    """A session as ``user``; by default as the platform's own role (from the PG* variables)."""
    return psycopg2.connect(
        host=env.get("PGHOST", "localhost"),
        port=int(env.get("PGPORT", "5432")),
        dbname=env.get("PGDATABASE", "retail_intel"),
        user=user or env["PGUSER"],
        password=password if user else env.get("PGPASSWORD", ""),
        connect_timeout=10,
    )


def orders(tenant: str) -> pd.DataFrame:
    return pd.DataFrame({"order_id": [f"{tenant}-1", f"{tenant}-2"], "price": [10.0, 20.0]})


def test_a_tenants_login_reads_its_own_tables_and_nothing_of_another(tenants, postgres_env):
    acme, globex = tenants["iso_acme"], tenants["iso_globex"]
    acme.write("marts", "orders", orders("acme"))  # before the login exists: granted on creation
    globex.write("marts", "orders", orders("globex"))
    role = acme.create_reader("first-password")
    globex.create_reader("globex-password")

    with closing(login(postgres_env, role, "first-password")) as connection, connection.cursor() as cursor:
        cursor.execute("select order_id from iso_acme__marts.orders order by 1")
        assert [row[0] for row in cursor.fetchall()] == ["acme-1", "acme-2"]
        cursor.execute(
            "select table_schema from information_schema.tables where table_schema like 'iso\\_%' order by 1"
        )
        assert {row[0] for row in cursor.fetchall()} == {"iso_acme__marts"}
        connection.rollback()
        for statement in (
            "select * from iso_globex__marts.orders",
            "insert into iso_acme__marts.orders values ('x', 1)",
            "create table iso_acme__marts.mine (x int)",
            "drop table iso_acme__marts.orders",
        ):
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cursor.execute(statement)
            connection.rollback()

    # A new publish replaces the table (and a build swap the whole schema): the login still reads it.
    acme.write("marts", "orders", orders("acme").head(1))
    with acme.build_workspace(["marts"]) as workspace:
        with closing(login(postgres_env)) as connection, connection, connection.cursor() as cursor:
            cursor.execute("create schema iso_acme__marts__next")
            cursor.execute("create table iso_acme__marts__next.daily as select 1 as revenue")
        workspace.publish()
    with closing(login(postgres_env, role, "first-password")) as connection, connection.cursor() as cursor:
        cursor.execute("select revenue from iso_acme__marts.daily")
        assert cursor.fetchall() == [(1,)]

    # A new password replaces the old one; a dropped login cannot connect.
    acme.create_reader("second-password")
    with pytest.raises(psycopg2.OperationalError):
        login(postgres_env, role, "first-password")
    login(postgres_env, role, "second-password").close()
    acme.drop_reader()
    with pytest.raises(psycopg2.OperationalError):
        login(postgres_env, role, "second-password")


def test_every_kind_of_publish_is_readable_by_its_own_login_only(tenants, postgres_env, generated_raw_dir, tmp_path):
    """Raw files, score tables (several in one publish) and serving events each grant the
    tenant's login in the publish's own transaction; the other tenant's login reads none of it."""
    import duckdb

    from retail_intel.events import EventStore, now
    from retail_intel.raw.loader import load_raw_dir

    acme, globex = tenants["iso_acme"], tenants["iso_globex"]
    acme_role = acme.create_reader("acme-password")
    globex_role = globex.create_reader("globex-password")
    with duckdb.connect() as staging:
        loaded = load_raw_dir(staging, generated_raw_dir, schema="raw")
        acme.publish_raw(staging, [table.raw_file for table in loaded])
    acme.write_many(
        {("ml", "recommendations"): orders("acme"), ("serving", "customer_recommendations"): orders("acme")}
    )
    events = EventStore(acme.settings)
    stamp = now()
    events.add([{"event_id": "e1", "event_type": "click", "occurred_at": stamp, "received_at": stamp}])
    events.close()

    readable = (
        "select count(*) from iso_acme__raw.olist_orders_dataset",
        "select count(*) from iso_acme__ml.recommendations",
        "select count(*) from iso_acme__serving.customer_recommendations",
        "select count(*) from iso_acme__events.serving_events",
    )
    with closing(login(postgres_env, acme_role, "acme-password")) as connection, connection.cursor() as cursor:
        for statement in readable:
            cursor.execute(statement)
            assert cursor.fetchone()[0] > 0, statement
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cursor.execute(
                "insert into iso_acme__events.serving_events (event_id, event_type, occurred_at, received_at)"
                " values ('forged', 'click', now(), now())"
            )
    with closing(login(postgres_env, globex_role, "globex-password")) as connection, connection.cursor() as cursor:
        for statement in readable:
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cursor.execute(statement)
            connection.rollback()
