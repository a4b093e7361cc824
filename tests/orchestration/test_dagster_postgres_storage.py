"""With RETAIL_INTEL_DAGSTER_STORAGE=postgres the one Dagster instance keeps its runs, events and
tenant partitions in PostgreSQL (what many tenants need), read from libpq's variables: the
dagster.yaml holds no password."""

import os
import uuid

import dagster as dg
import psycopg2
import pytest

from orchestration.partitions import PARTITIONED, TENANT_PARTITIONS, ensure_partition
from orchestration.runner import prepare_dagster_home
from tests.support import make_settings


@dg.asset(**PARTITIONED)
def scores(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"tenant": context.partition_key})


@pytest.fixture
def database(postgres_env, monkeypatch):
    name = f"dagster_test_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect()
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'create database "{name}"')  # a fresh name, not input: identifiers cannot be parameters
    monkeypatch.setenv("PGDATABASE", name)
    monkeypatch.setenv("RETAIL_INTEL_DAGSTER_STORAGE", "postgres")
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    yield name
    with admin.cursor() as cursor:
        cursor.execute(f'drop database "{name}" with (force)')
    admin.close()


def test_runs_and_partitions_live_in_postgres(database, tmp_path):
    settings = make_settings(tmp_path / "home").with_(env=dict(os.environ))
    prepare_dagster_home(settings)
    config = (settings.dagster_home / "dagster.yaml").read_text()
    assert "postgres_db" in config and "env: PGPASSWORD" in config
    assert os.environ["PGPASSWORD"] not in config

    with dg.DagsterInstance.get() as instance:
        for tenant in ("acme", "bravo"):
            ensure_partition(instance, tenant)
            assert dg.materialize([scores], instance=instance, partition_key=tenant).success
        run_partitions = sorted(run.tags["dagster/partition"] for run in instance.get_runs())

    assert run_partitions == ["acme", "bravo"]
    with psycopg2.connect(dbname=database) as connection, connection.cursor() as cursor:
        cursor.execute("select partition from dynamic_partitions where partitions_def_name = %s", (TENANT_PARTITIONS,))
        assert sorted(row[0] for row in cursor.fetchall()) == ["acme", "bravo"]
        cursor.execute("select count(*) from runs")
        assert cursor.fetchone()[0] == 2
    assert not (settings.dagster_home / "history").exists(), "nothing went to SQLite"
