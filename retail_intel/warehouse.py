"""Build, then publish: readers see the previous tables or the new ones, never a mix.

What is published together: the raw tables on their own, once their quality gate passed
(the graph's raw asset, ``publish_raw``); then staging, intermediate and marts together,
once every dbt test passed (the dbt asset, ``BuildWorkspace``); then each score table
(``write_table``). A failure at any step leaves what that step would have published exactly
as it was; earlier steps stay published (raw files that pass their gate but fail a dbt test
are published raw tables under the previous marts until the next good run).

DuckDB: each step changes a private copy of the published file, which replaces it by an
atomic rename. PostgreSQL: the dbt layers are built in ``<layer>__next`` schemas, swapped
with the published schemas in one transaction (PostgreSQL views bind to tables, not names,
so the staging views follow the rename); raw and score tables are replaced in one
transaction each.
"""

from __future__ import annotations

import fcntl
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd

from retail_intel.raw.contract import RAW_FILES
from retail_intel.raw.loader import POSTGRES_TYPES
from retail_intel.settings import LAYERS, Settings

BUILD_SUFFIX = "__next"
MART_TABLES = ("orders", "customers", "products", "daily_revenue", "customer_rfm", "user_item_interactions")


class WarehouseBusyError(Exception):
    """Another run holds this tenant's warehouse."""


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


# ---- build workspaces ----------------------------------------------------------------------
class BuildWorkspace:
    """Where a build happens before readers may see it; ``publish()`` swaps it in atomically.

    DuckDB: a copy of the published file in ``settings.build_dir`` (same file name, since
    DuckDB names its catalog after the file and views refer to it), renamed over the
    published file. PostgreSQL: ``<layer>__next`` schemas for the given layers, swapped
    with the published schemas in one transaction. Leaving the ``with`` block without
    ``publish()`` publishes nothing; the workspace is kept for inspection until the next run.

    ``layers`` are the layers built here; raw is read from the published warehouse (the raw
    asset publishes it after its quality gate).
    """

    def __init__(self, settings: Settings, layers: tuple[str, ...]) -> None:
        self.settings = settings
        self.layers = layers
        self.duckdb_path: Path | None = None
        self.published = False

    def __enter__(self) -> BuildWorkspace:
        settings = self.settings
        if settings.target == "duckdb":
            published = settings.warehouse_path
            _refuse_if_open_for_writing(published)
            shutil.rmtree(settings.build_dir, ignore_errors=True)
            settings.build_dir.mkdir(parents=True)
            self.duckdb_path = settings.build_dir / published.name
            if published.exists():
                # Start from the published file so that tables this build does not touch
                # (score tables, serving events) carry over.
                shutil.copy2(published, self.duckdb_path)
            else:
                duckdb.connect(str(self.duckdb_path)).close()
        else:
            with closing(postgres_connect(settings)) as connection, connection.cursor() as cursor:
                for layer in self.layers:
                    cursor.execute(f"DROP SCHEMA IF EXISTS {_pg_ident(settings.schema(layer) + BUILD_SUFFIX)} CASCADE")
                connection.commit()
        return self

    def __exit__(self, *exc_info) -> None:
        if self.published and self.settings.target == "duckdb":
            shutil.rmtree(self.settings.build_dir, ignore_errors=True)

    def publish(self) -> None:
        settings = self.settings
        if settings.target == "duckdb":
            with duckdb.connect(str(self.duckdb_path)) as con:
                con.execute("CHECKPOINT")
            settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
            self.duckdb_path.replace(settings.warehouse_path)
        else:
            with closing(postgres_connect(settings)) as connection:
                _swap_build_schemas(connection, settings, self.layers)
        self.published = True


def discard_unpublished(settings: Settings) -> None:
    """Remove what a killed run was building and had not published: the DuckDB build and
    publish copies, the PostgreSQL ``__next`` schemas. Published tables are not touched."""
    if settings.target == "duckdb":
        shutil.rmtree(settings.build_dir, ignore_errors=True)
        shutil.rmtree(settings.publish_dir, ignore_errors=True)
        return
    with closing(postgres_connect(settings)) as connection, connection.cursor() as cursor:
        for layer in LAYERS:
            cursor.execute(f"DROP SCHEMA IF EXISTS {_pg_ident(settings.schema(layer) + BUILD_SUFFIX)} CASCADE")
        connection.commit()


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


@contextmanager
def _bounded_lock_wait(connection, settings: Settings, schemas: list[str], what: str) -> Iterator[None]:
    """Inside the connection's current transaction: wait for locks at most
    ``settings.publish_lock_timeout_seconds``, then roll back (the published schemas stay as
    they were) and raise WarehouseBusyError naming the sessions that hold locks there.

    A BI session that read a table and stayed idle in its transaction holds a lock that the
    swap must wait for; without a bound one left open overnight held the nightly run all night.
    """
    import psycopg2.errors

    timeout = settings.publish_lock_timeout_seconds
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", (f"{round(timeout * 1000)}ms",))
    try:
        yield
    except psycopg2.errors.LockNotAvailable:
        connection.rollback()
        raise WarehouseBusyError(
            f"{what} waited {timeout:g} s for locks on {', '.join(schemas)} and gave up; nothing was published. "
            f"Held by: {_lock_holders(connection, schemas)}. Give BI roles an idle_in_transaction_session_timeout "
            "(see the README), or raise RETAIL_INTEL_PG_LOCK_TIMEOUT."
        ) from None


def _lock_holders(connection, schemas: list[str]) -> str:
    """Other sessions holding locks on tables of ``schemas``: pid, user, application, state and since when."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT DISTINCT a.pid, a.usename, a.application_name, a.state,
                   coalesce(a.state_change, a.xact_start, a.backend_start)
            FROM pg_locks l
            JOIN pg_class c ON c.oid = l.relation
            JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.granted AND a.pid <> pg_backend_pid() AND n.nspname = ANY(%s)
            ORDER BY a.pid
            """,
            (list(schemas),),
        )
        rows = cursor.fetchall()
    connection.rollback()
    if not rows:
        return "no session holds them any more"
    return "; ".join(
        f"pid {pid} (user {user}, application {application or '-'!r}, "
        f"{state or 'unknown state'} since {since:%Y-%m-%d %H:%M:%S %Z})"
        for pid, user, application, state, since in rows
    )


def _pg_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _copy_raw_to_postgres(settings: Settings, staging: duckdb.DuckDBPyConnection, raw_files) -> None:
    """Copy validated tables from a DuckDB ``raw`` schema into PostgreSQL's published raw schema.

    All tables are replaced in one transaction, their rows in place, so the staging views
    that PostgreSQL binds to these tables stay valid.
    """
    raw_schema = settings.schema("raw")
    with closing(postgres_connect(settings)) as connection, tempfile.TemporaryDirectory() as scratch:
        with (
            _bounded_lock_wait(connection, settings, [raw_schema], "publishing the raw tables"),
            connection.cursor() as cursor,
        ):
            cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {_pg_ident(raw_schema)}")
            for raw_file in raw_files:
                columns = ", ".join(f"{_pg_ident(name)} {POSTGRES_TYPES[kind]}" for name, kind in raw_file.columns)
                target = f"{_pg_ident(raw_schema)}.{_pg_ident(raw_file.table_name)}"
                cursor.execute(f"CREATE TABLE IF NOT EXISTS {target} ({columns})")
                cursor.execute(f"TRUNCATE {target}")
                csv_path = Path(scratch) / raw_file.file_name
                staging.execute(f"COPY raw.{_pg_ident(raw_file.table_name)} TO '{csv_path}' (HEADER false)")
                with csv_path.open() as handle:
                    cursor.copy_expert(f"COPY {target} FROM STDIN WITH (FORMAT csv)", handle)
        connection.commit()
        # Fresh tables have no statistics; without them PostgreSQL guesses tiny row counts
        # and picks nested loops that make the dbt tests quadratic. (ANALYZE outside the
        # copy transaction so readers are not held up by it.)
        with connection.cursor() as cursor:
            for raw_file in raw_files:
                cursor.execute(f"ANALYZE {_pg_ident(raw_schema)}.{_pg_ident(raw_file.table_name)}")
        connection.commit()


def publish_raw(settings: Settings, staging: duckdb.DuckDBPyConnection, raw_files) -> None:
    """Replace the published raw tables by validated ones from ``staging``'s ``raw`` schema, atomically."""
    if settings.target == "postgres":
        _copy_raw_to_postgres(settings, staging, raw_files)
        return
    raw_schema = _pg_ident(settings.schema("raw"))
    with _replacing_published_duckdb(settings) as copy:
        staging.execute(f"ATTACH {_sql_literal(str(copy))} AS published")
        try:
            staging.execute("BEGIN TRANSACTION")
            staging.execute(f"CREATE SCHEMA IF NOT EXISTS published.{raw_schema}")
            for raw_file in raw_files:
                table = _pg_ident(raw_file.table_name)
                staging.execute(f"CREATE OR REPLACE TABLE published.{raw_schema}.{table} AS SELECT * FROM raw.{table}")
            staging.execute("COMMIT")
        finally:
            staging.execute("DETACH published")


def _refuse_if_open_for_writing(published: Path) -> None:
    """A WAL beside the published file means a writer has it open; replacing the file under it
    would lose its writes, or replay them onto the new file."""
    wal = published.with_name(published.name + ".wal")
    if wal.exists():
        raise WarehouseBusyError(f"{published} is open for writing by another process ({wal.name} exists)")


@contextmanager
def _replacing_published_duckdb(settings: Settings) -> Iterator[Path]:
    """A private copy of the published DuckDB file to change; it replaces the published file by
    a rename when the block succeeds, and is removed when it fails.

    Why not write the published file in place: DuckDB lets no process open a file for writing
    while any other holds it, even read-only, so a BI tool, a notebook or the HTTP service
    keeping a session open would stop every run. With the rename, a session opened before
    keeps reading the version it opened and a new one sees the new version. The copy keeps
    the published file's name (DuckDB names its catalog after the file; views refer to it).
    """
    published = settings.warehouse_path
    _refuse_if_open_for_writing(published)
    shutil.rmtree(settings.publish_dir, ignore_errors=True)
    settings.publish_dir.mkdir(parents=True)
    copy = settings.publish_dir / published.name
    try:
        if published.exists():
            shutil.copy2(published, copy)
        yield copy
        with duckdb.connect(str(copy)) as con:
            con.execute("CHECKPOINT")
        copy.replace(published)
    finally:
        shutil.rmtree(settings.publish_dir, ignore_errors=True)


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _swap_build_schemas(connection, settings: Settings, layers: tuple[str, ...]) -> None:
    """Replace each published schema by its build in one transaction: readers see either."""
    schemas = [settings.schema(layer) for layer in layers]
    with _bounded_lock_wait(connection, settings, schemas, "publishing the build"), connection.cursor() as cursor:
        for layer in layers:
            live, nxt, old = (settings.schema(layer) + suffix for suffix in ("", BUILD_SUFFIX, "__old"))
            cursor.execute(f"DROP SCHEMA IF EXISTS {_pg_ident(old)} CASCADE")
            cursor.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (live,))
            if cursor.fetchone():
                cursor.execute(f"ALTER SCHEMA {_pg_ident(live)} RENAME TO {_pg_ident(old)}")
            cursor.execute(f"ALTER SCHEMA {_pg_ident(nxt)} RENAME TO {_pg_ident(live)}")
            cursor.execute(f"DROP SCHEMA IF EXISTS {_pg_ident(old)} CASCADE")
    connection.commit()


# ---- tables written by Python (score tables, serving tables) -------------------------------
_DUCKDB_TO_POSTGRES = {
    "VARCHAR": "text",
    "BIGINT": "bigint",
    "INTEGER": "integer",
    "DOUBLE": "double precision",
    "FLOAT": "real",
    "BOOLEAN": "boolean",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP_NS": "timestamp",
}


def read_table(settings: Settings, layer: str, table: str) -> pd.DataFrame:
    relation = f"{_pg_ident(settings.schema(layer))}.{_pg_ident(table)}"
    if settings.target == "duckdb":
        with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
            return con.execute(f"SELECT * FROM {relation}").df()
    with closing(postgres_connect(settings)) as connection, connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {relation}")
        frame = pd.DataFrame(cursor.fetchall(), columns=[column[0] for column in cursor.description])
    return _like_duckdb(frame)


def _like_duckdb(frame: pd.DataFrame) -> pd.DataFrame:
    """psycopg2 gives Decimal and datetime.date objects; DuckDB gives floats and datetime64.
    Code downstream (quality suites, models) sees one shape, whichever the warehouse."""
    for column in frame.columns:
        values = frame[column].dropna()
        if values.empty:
            continue
        first = values.iloc[0]
        if isinstance(first, Decimal):
            frame[column] = frame[column].astype(float)
        elif isinstance(first, date) and not isinstance(first, datetime):
            frame[column] = pd.to_datetime(frame[column])
    return frame


def table_exists(settings: Settings, layer: str, table: str) -> bool:
    query = "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?"
    params = [settings.schema(layer), table]
    if settings.target == "duckdb":
        if not settings.warehouse_path.exists():
            return False
        with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
            return con.execute(query, params).fetchone()[0] > 0
    with closing(postgres_connect(settings)) as connection, connection.cursor() as cursor:
        cursor.execute(query.replace("?", "%s"), params)
        return cursor.fetchone()[0] > 0


def write_table(settings: Settings, layer: str, table: str, frame: pd.DataFrame) -> int:
    """Replace ``<layer>.<table>`` by ``frame`` in one transaction: readers see the old or the new table."""
    schema = _pg_ident(settings.schema(layer))
    relation = f"{schema}.{_pg_ident(table)}"
    if settings.target == "duckdb":
        with _replacing_published_duckdb(settings) as copy, duckdb.connect(str(copy)) as con:
            con.register("incoming", frame)
            con.execute("BEGIN TRANSACTION")
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            con.execute(f"CREATE OR REPLACE TABLE {relation} AS SELECT * FROM incoming")
            con.execute("COMMIT")
        return len(frame)
    with duckdb.connect() as staging, tempfile.TemporaryDirectory() as scratch:
        staging.register("incoming", frame)
        staging.execute("CREATE TABLE typed AS SELECT * FROM incoming")
        columns = staging.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'typed' ORDER BY ordinal_position"
        ).fetchall()
        definition = ", ".join(
            f"{_pg_ident(name)} {_DUCKDB_TO_POSTGRES.get(kind, 'numeric' if kind.startswith('DECIMAL') else 'text')}"
            for name, kind in columns
        )
        csv_path = Path(scratch) / "table.csv"
        staging.execute(f"COPY typed TO {_sql_literal(str(csv_path))} (HEADER false)")
        incoming = _pg_ident(f"{table}__incoming")
        with (
            closing(postgres_connect(settings)) as connection,
            _bounded_lock_wait(connection, settings, [settings.schema(layer)], f"writing {layer}.{table}"),
            connection.cursor() as cursor,
        ):
            cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            cursor.execute(f"DROP TABLE IF EXISTS {schema}.{incoming}")
            cursor.execute(f"CREATE TABLE {schema}.{incoming} ({definition})")
            with csv_path.open() as handle:
                cursor.copy_expert(f"COPY {schema}.{incoming} FROM STDIN WITH (FORMAT csv)", handle)
            cursor.execute(f"DROP TABLE IF EXISTS {relation} CASCADE")
            cursor.execute(f"ALTER TABLE {schema}.{incoming} RENAME TO {_pg_ident(table)}")
            connection.commit()
    return len(frame)


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
