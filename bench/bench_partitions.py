"""Benchmark: Dagster's own storage with many tenant partitions, SQLite against PostgreSQL.

    python bench/bench_partitions.py                       # SQLite: 1,000 / 4,000 / 20,000 / 40,000
    python bench/bench_partitions.py --storage postgres    # needs the PG* variables (.ci/start-postgres)

For each count: the seconds to register the partitions (in batches of 1,000, as the
partition sensor would over a growing registry), to list them (what every sensor tick
and schedule does), to look one up, to record a materialization for 200 of them, and to
read which partitions are materialized (what the UI's asset page asks). An operation
that fails prints its error instead of a figure: that is the limit this measures.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
import uuid
from functools import partial
from pathlib import Path

import dagster as dg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_pipeline import machine  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from orchestration.partitions import TENANT_PARTITIONS  # noqa: E402
from orchestration.runner import prepare_dagster_home  # noqa: E402
from retail_intel.settings import Settings  # noqa: E402

KEY = dg.AssetKey(["marts", "orders"])


def timed(label: str, action) -> object:
    started = time.perf_counter()
    try:
        result = action()
    except Exception as error:  # noqa: BLE001 - the failure is the figure this benchmark reports
        print(f"    {label:<44} FAILED after {time.perf_counter() - started:.1f} s: {str(error)[:160]}")
        return None
    print(f"    {label:<44} {time.perf_counter() - started:8.3f} s")
    return result


def measure(instance: dg.DagsterInstance, count: int) -> None:
    keys = [f"tenant_{index:06d}" for index in range(count)]
    print(f"  {count:,} tenant partitions")

    def register() -> None:
        for start in range(0, count, 1000):
            instance.add_dynamic_partitions(TENANT_PARTITIONS, keys[start : start + 1000])

    timed("register (batches of 1,000)", register)
    listed = timed(
        "list all (every sensor tick, the schedule)", partial(instance.get_dynamic_partitions, TENANT_PARTITIONS)
    )
    if listed is not None and len(listed) != count:
        print(f"    listed {len(listed):,} partitions, expected {count:,}")
    timed("look one up", lambda: instance.has_dynamic_partition(TENANT_PARTITIONS, keys[-1]))

    def materialize_some() -> None:
        for key in keys[:: max(1, count // 200)][:200]:
            instance.report_runless_asset_event(dg.AssetMaterialization(KEY, partition=key))

    timed("record 200 materializations", materialize_some)
    timed("materialized partitions of one asset", lambda: instance.get_materialized_partitions(KEY))
    timed(
        "latest event of every partition (one query)",
        lambda: instance.event_log_storage.get_latest_storage_id_by_partition(
            KEY, dg.DagsterEventType.ASSET_MATERIALIZATION, set(keys)
        ),
    )


def _writer(home: str, writer: int, events: int) -> tuple[int, str | None]:
    """One run's worth of writes from a process of its own, as concurrent tenant runs do."""
    os.environ["DAGSTER_HOME"] = home
    written = 0
    try:
        with dg.DagsterInstance.get() as instance:
            for index in range(events):
                partition = f"tenant_{writer:06d}_{index}"
                instance.report_runless_asset_event(dg.AssetMaterialization(KEY, partition=partition))
                written += 1
    except Exception as error:  # noqa: BLE001 - the failure is the figure this benchmark reports
        return written, f"{type(error).__name__}: {str(error)[:120]}"
    return written, None


def measure_concurrency(home: Path, writers: int, events: int) -> None:
    """``writers`` processes each recording ``events`` materializations at once."""
    started = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(writers) as pool:
        results = pool.starmap(_writer, [(str(home), writer, events) for writer in range(writers)])
    seconds = time.perf_counter() - started
    written = sum(count for count, _ in results)
    errors = [error for _, error in results if error]
    print(
        f"  {writers} processes writing {events} events each at once: {written:,} written in {seconds:.1f} s "
        f"({written / seconds:.0f} events/s), {len(errors)} failed" + (f": {errors[0]}" if errors else "")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--storage", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--counts", default="1000,4000,20000,40000")
    parser.add_argument("--writers", type=int, default=4, help="processes writing at once, after the last count")
    args = parser.parse_args()
    print(f"Machine: {machine()}; Dagster {dg.__version__}; storage: {args.storage}")
    counts = [int(value) for value in args.counts.split(",")]
    for count in counts:
        with tempfile.TemporaryDirectory() as scratch:
            env = dict(os.environ, RETAIL_INTEL_DAGSTER_STORAGE=args.storage)
            database = None
            if args.storage == "postgres":
                database = _create_database()
                env["PGDATABASE"] = os.environ["PGDATABASE"] = database
            settings = Settings.from_env(env).with_(home=Path(scratch))
            prepare_dagster_home(settings)
            try:
                with dg.DagsterInstance.get() as instance:
                    measure(instance, count)
                if count == counts[-1]:
                    measure_concurrency(settings.dagster_home, args.writers, 300)
            finally:
                if database:
                    _drop_database(database)


def _create_database() -> str:
    import psycopg2

    name = f"dagster_bench_{uuid.uuid4().hex[:8]}"
    connection = psycopg2.connect(dbname="postgres")
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'create database "{name}"')  # a generated name: identifiers cannot be parameters
    connection.close()
    return name


def _drop_database(name: str) -> None:
    import psycopg2

    connection = psycopg2.connect(dbname="postgres")
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'drop database if exists "{name}" with (force)')
    connection.close()


if __name__ == "__main__":
    main()
