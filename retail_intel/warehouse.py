"""Load, build, test, then publish: readers see the previous tables or the new ones, never a mix.

DuckDB: the build happens in a copy of the published file, which replaces the published
file by an atomic rename once every dbt test passed. PostgreSQL: the build happens in
``<layer>__next`` schemas, swapped with the published schemas in one transaction
(PostgreSQL views bind to tables, not names, so the staging views follow the rename).
A failure at any step leaves the published warehouse exactly as it was.
"""

from __future__ import annotations

import fcntl
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from retail_intel.dbt_runner import DbtResult, dbt_build
from retail_intel.raw.contract import RAW_FILES
from retail_intel.raw.loader import POSTGRES_TYPES, LoadedTable, load_raw_dir
from retail_intel.settings import LAYERS, Settings

BUILD_SUFFIX = "__next"
MART_TABLES = ("orders", "customers", "products", "daily_revenue", "customer_rfm", "user_item_interactions")

Log = Callable[[str], None]


class WarehouseBusyError(Exception):
    """Another run holds this tenant's warehouse."""


@dataclass(frozen=True)
class RunResult:
    loaded: list[LoadedTable]
    dbt: DbtResult
    summary: WarehouseSummary
    seconds: dict[str, float]


@dataclass(frozen=True)
class WarehouseSummary:
    location: str
    table_rows: dict[str, int]
    first_day: date | None
    last_day: date | None
    revenue: float

    def render(self) -> str:
        width = max(len(name) for name in self.table_rows)
        lines = ["Tables (rows):"]
        lines += [f"  {name:<{width}}  {rows:>10,}" for name, rows in self.table_rows.items()]
        lines.append(f"Purchase days: {self.first_day} to {self.last_day}")
        lines.append(f"Revenue (item prices of orders not canceled/unavailable): R$ {self.revenue:,.2f}")
        lines.append(f"Warehouse: {self.location}")
        return "\n".join(lines)


@contextmanager
def tenant_lock(settings: Settings) -> Iterator[None]:
    settings.tenant_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.tenant_dir / ".run.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise WarehouseBusyError(
                f"another run is building tenant {settings.tenant_id!r} (lock {handle.name}); wait for it to finish"
            ) from None
        yield


def build_and_publish(settings: Settings, *, as_of_date: date | None = None, log: Log = print) -> RunResult:
    dbt_vars: dict[str, object] = {"schema_prefix": settings.schema_prefix}
    if as_of_date is not None:
        dbt_vars["as_of_date"] = as_of_date.isoformat()
    seconds: dict[str, float] = {}
    with tenant_lock(settings):
        build = _build_duckdb if settings.target == "duckdb" else _build_postgres
        loaded, result = build(settings, dbt_vars, log, _Stopwatch(seconds))
    return RunResult(loaded, result, summarize(settings), seconds)


class _Stopwatch:
    """Records how long each phase took, for the run's summary and the benchmark."""

    def __init__(self, seconds: dict[str, float]) -> None:
        self.seconds = seconds

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started


# ---- DuckDB ------------------------------------------------------------------------------
def _build_duckdb(
    settings: Settings, dbt_vars: dict[str, object], log: Log, clock: _Stopwatch
) -> tuple[list[LoadedTable], DbtResult]:
    published = settings.warehouse_path
    published_wal = published.with_name(published.name + ".wal")
    if published_wal.exists():
        # A WAL means a writer has the file open; replacing the file under it would lose
        # its writes, or replay them onto the new file.
        raise WarehouseBusyError(f"{published} is open for writing by another process ({published_wal.name} exists)")

    build_dir = settings.build_dir
    shutil.rmtree(build_dir, ignore_errors=True)
    build_dir.mkdir(parents=True)
    building = build_dir / published.name
    log(f"Loading raw files from {settings.raw_dir}")
    with clock.phase("load"):
        if published.exists():
            # Start from the published file so that tables this run does not rebuild (model
            # scores, serving events) carry over.
            shutil.copy2(published, building)
        with duckdb.connect(str(building)) as con:
            loaded = load_raw_dir(con, settings.raw_dir, schema=settings.schema("raw"))
    for table in loaded:
        log(f"  loaded {table.raw_file.file_name}: {table.rows:,} rows")

    log("Building and testing the dbt models")
    with clock.phase("dbt"):
        result = dbt_build(settings, {**dbt_vars, "schema_suffix": ""}, duckdb_path=building, log=log)

    with clock.phase("publish"):
        with duckdb.connect(str(building)) as con:
            con.execute("CHECKPOINT")
        published.parent.mkdir(parents=True, exist_ok=True)
        building.replace(published)
    shutil.rmtree(build_dir, ignore_errors=True)
    log(f"Published {published}")
    return loaded, result


# ---- PostgreSQL --------------------------------------------------------------------------
def postgres_connect(settings: Settings):
    import psycopg2

    env = settings.env
    return psycopg2.connect(
        host=env.get("PGHOST", "localhost"),
        port=int(env.get("PGPORT", "5432")),
        user=env.get("PGUSER", "postgres"),
        password=env.get("PGPASSWORD", ""),
        dbname=env.get("PGDATABASE", "retail_intel"),
        connect_timeout=10,
    )


def _pg_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _drop_build_schemas(cursor, settings: Settings) -> None:
    for layer in LAYERS:
        cursor.execute(f"DROP SCHEMA IF EXISTS {_pg_ident(settings.schema(layer) + BUILD_SUFFIX)} CASCADE")


def _copy_raw_to_postgres(settings: Settings, connection, log: Log) -> list[LoadedTable]:
    raw_schema = settings.schema("raw") + BUILD_SUFFIX
    log(f"Loading raw files from {settings.raw_dir}")
    with duckdb.connect() as staging, tempfile.TemporaryDirectory() as scratch:
        # Validation and typing are the DuckDB loader's: one set of rules for both warehouses.
        loaded = load_raw_dir(staging, settings.raw_dir, schema="raw")
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE SCHEMA {_pg_ident(raw_schema)}")
            for table in loaded:
                raw_file = table.raw_file
                columns = ", ".join(f"{_pg_ident(name)} {POSTGRES_TYPES[kind]}" for name, kind in raw_file.columns)
                target = f"{_pg_ident(raw_schema)}.{_pg_ident(raw_file.table_name)}"
                cursor.execute(f"CREATE TABLE {target} ({columns})")
                csv_path = Path(scratch) / raw_file.file_name
                staging.execute(f"COPY raw.{_pg_ident(raw_file.table_name)} TO '{csv_path}' (HEADER false)")
                with csv_path.open() as handle:
                    cursor.copy_expert(f"COPY {target} FROM STDIN WITH (FORMAT csv)", handle)
                # Fresh tables have no statistics; without them PostgreSQL guesses tiny row
                # counts and picks nested loops that make the dbt tests quadratic.
                cursor.execute(f"ANALYZE {target}")
                log(f"  loaded {raw_file.file_name}: {table.rows:,} rows")
        connection.commit()
    return loaded


def _build_postgres(
    settings: Settings, dbt_vars: dict[str, object], log: Log, clock: _Stopwatch
) -> tuple[list[LoadedTable], DbtResult]:
    connection = postgres_connect(settings)
    try:
        with clock.phase("load"):
            with connection.cursor() as cursor:
                _drop_build_schemas(cursor, settings)
            connection.commit()
            loaded = _copy_raw_to_postgres(settings, connection, log)

        log("Building and testing the dbt models")
        with clock.phase("dbt"):
            result = dbt_build(settings, {**dbt_vars, "schema_suffix": BUILD_SUFFIX}, log=log)

        with clock.phase("publish"):
            _swap_build_schemas(connection, settings)
        published = ", ".join(settings.schema(layer) for layer in LAYERS)
        log(f"Published schemas {published} on {settings.postgres_dsn_description}")
        return loaded, result
    finally:
        connection.close()


def _swap_build_schemas(connection, settings: Settings) -> None:
    """Replace each published schema by its build in one transaction: readers see either."""
    with connection.cursor() as cursor:
        for layer in LAYERS:
            live, nxt, old = (settings.schema(layer) + suffix for suffix in ("", BUILD_SUFFIX, "__old"))
            cursor.execute(f"DROP SCHEMA IF EXISTS {_pg_ident(old)} CASCADE")
            cursor.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (live,))
            if cursor.fetchone():
                cursor.execute(f"ALTER SCHEMA {_pg_ident(live)} RENAME TO {_pg_ident(old)}")
            cursor.execute(f"ALTER SCHEMA {_pg_ident(nxt)} RENAME TO {_pg_ident(live)}")
            cursor.execute(f"DROP SCHEMA IF EXISTS {_pg_ident(old)} CASCADE")
    connection.commit()


# ---- summary -----------------------------------------------------------------------------
def summarize(settings: Settings) -> WarehouseSummary:
    raw_tables = [f"{settings.schema('raw')}.{raw.table_name}" for raw in RAW_FILES]
    mart_tables = [f"{settings.schema('marts')}.{name}" for name in MART_TABLES]
    range_query = (
        f"SELECT min(date), max(date), coalesce(sum(revenue), 0) FROM {settings.schema('marts')}.daily_revenue"
    )
    count_query = "SELECT count(*) FROM {table}"
    if settings.target == "duckdb":
        with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
            counts = {t: con.execute(count_query.format(table=t)).fetchone()[0] for t in raw_tables + mart_tables}
            first_day, last_day, revenue = con.execute(range_query).fetchone()
    else:
        connection = postgres_connect(settings)
        try:
            with connection.cursor() as cursor:
                counts = {}
                for table in raw_tables + mart_tables:
                    cursor.execute(count_query.format(table=table))
                    counts[table] = cursor.fetchone()[0]
                cursor.execute(range_query)
                first_day, last_day, revenue = cursor.fetchone()
        finally:
            connection.close()
    return WarehouseSummary(settings.warehouse_description, counts, first_day, last_day, float(revenue))
