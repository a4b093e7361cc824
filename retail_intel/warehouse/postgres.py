"""The warehouse in PostgreSQL, every tenant in one database (tenants other than the default
have their schemas prefixed), for BI tools that connect to a server.

The dbt layers are built in ``<layer>__next`` schemas, swapped with the published schemas in
one transaction (PostgreSQL views bind to tables, not names, so the staging views follow the
rename); raw and score tables are replaced in one transaction each. Every publish waits for
readers' locks at most ``settings.publish_lock_timeout_seconds`` and then names them.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from pathlib import Path

import duckdb
import pandas as pd

from retail_intel.raw.contract import RawFile
from retail_intel.settings import LAYERS, Settings
from retail_intel.warehouse.base import (
    AppendTable,
    BuildWorkspace,
    ReaderLogin,
    TableMissing,
    Warehouse,
    WarehouseBusyError,
    quote_ident,
    sql_literal,
    typed_like_duckdb,
)

BUILD_SUFFIX = "__next"

# The raw contract's column types (retail_intel.raw.contract) in PostgreSQL.
POSTGRES_TYPES = {
    "text": "text",
    "integer": "bigint",
    "double": "double precision",
    "money": "numeric(14,2)",
    "timestamp": "timestamp",
}

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


def _server(settings: Settings) -> dict[str, object]:
    """Host, port and database from the environment's PG* variables (never from code)."""
    env = settings.env
    return {
        "host": env.get("PGHOST", "localhost"),
        "port": int(env.get("PGPORT", "5432")),
        "dbname": env.get("PGDATABASE", "retail_intel"),
    }


def connect(settings: Settings):
    """A connection as the platform's own user, from the environment's PG* variables."""
    import psycopg2

    env = settings.env
    return psycopg2.connect(
        **_server(settings), user=env.get("PGUSER", "postgres"), password=env.get("PGPASSWORD", ""), connect_timeout=10
    )


def _bind(sql: str) -> str:
    # The interface writes parameters as "?" (DuckDB's style); psycopg2 wants "%s", and reads
    # every other "%" as the start of one. (A "?" inside a string literal is not supported.)
    return sql.replace("%", "%%").replace("?", "%s")


class PostgresWarehouse(Warehouse):
    target = "postgres"
    tenants_share_database = True
    build_schema_suffix = BUILD_SUFFIX

    @property
    def description(self) -> str:
        settings = self.settings
        return f"{settings.postgres_dsn_description} (schemas {', '.join(self.schema(layer) for layer in LAYERS)})"

    # ---- reading ---------------------------------------------------------------------------
    def read_consistent(self, tables: Mapping[str, tuple[str, str]]) -> dict[str, pd.DataFrame]:
        import psycopg2

        frames = {}
        with closing(connect(self.settings)) as connection:
            # One read-only snapshot transaction: a run publishing meanwhile cannot mix old and new tables.
            connection.set_session(isolation_level="REPEATABLE READ", readonly=True)
            with connection.cursor() as cursor:
                for name, (layer, table) in tables.items():
                    try:
                        cursor.execute(f"SELECT * FROM {self.relation(layer, table)}")
                    except (psycopg2.errors.UndefinedTable, psycopg2.errors.InvalidSchemaName) as error:
                        raise TableMissing(f"{layer}.{table} is missing from {self.description}") from error
                    frames[name] = _typed(cursor.fetchall(), cursor.description)
            connection.rollback()
        return frames

    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        with closing(connect(self.settings)) as connection:
            # Read-only, as DuckDB's reads are: a write sent here is refused, not rolled back unseen.
            connection.set_session(readonly=True)
            cursor = connection.cursor()
            cursor.execute(_bind(sql), list(params))
            rows = cursor.fetchall()
            connection.rollback()
            return rows

    def signature(self, tables: Sequence[tuple[str, str]]) -> str:
        # Every publish creates these tables afresh (schema swap or table rename), so their
        # object ids change even when their contents have the same size.
        relations = [self.relation(layer, table) for layer, table in tables]
        row = self.query("SELECT " + ", ".join("to_regclass(?)::oid" for _ in relations), relations)[0]
        return ":".join("missing" if oid is None else str(oid) for oid in row)

    # ---- writing ---------------------------------------------------------------------------
    def write_many(self, frames: Mapping[tuple[str, str], pd.DataFrame]) -> dict[tuple[str, str], int]:
        settings = self.settings
        schemas = sorted({self.schema(layer) for layer, _ in frames})
        names = ", ".join(f"{layer}.{table}" for layer, table in frames)
        with duckdb.connect() as staging, tempfile.TemporaryDirectory() as scratch:
            staged = [
                (key, *self._as_csv(staging, frame, Path(scratch) / f"{index}.csv"))
                for index, (key, frame) in enumerate(frames.items())
            ]
            with (
                closing(connect(settings)) as connection,
                self._bounded_lock_wait(connection, schemas, f"writing {names}"),
                connection.cursor() as cursor,
            ):
                for (layer, table), definition, csv_path in staged:
                    schema = quote_ident(self.schema(layer))
                    incoming = f"{schema}.{quote_ident(table + '__incoming')}"
                    cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
                    cursor.execute(f"DROP TABLE IF EXISTS {incoming}")
                    cursor.execute(f"CREATE TABLE {incoming} ({definition})")
                    with csv_path.open() as handle:
                        cursor.copy_expert(f"COPY {incoming} FROM STDIN WITH (FORMAT csv)", handle)
                    cursor.execute(f"DROP TABLE IF EXISTS {self.relation(layer, table)} CASCADE")
                    cursor.execute(f"ALTER TABLE {incoming} RENAME TO {quote_ident(table)}")
                self._grant_reader(cursor, schemas)
                connection.commit()
        return {key: len(frame) for key, frame in frames.items()}

    @staticmethod
    def _as_csv(staging: duckdb.DuckDBPyConnection, frame: pd.DataFrame, csv_path: Path) -> tuple[str, Path]:
        """The frame as a headerless CSV and its PostgreSQL column definitions, typed by DuckDB's
        reading of the frame (the same types the DuckDB warehouse would store)."""
        staging.register("incoming", frame)
        staging.execute("CREATE OR REPLACE TABLE typed AS SELECT * FROM incoming")
        staging.unregister("incoming")
        columns = staging.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'typed' ORDER BY ordinal_position"
        ).fetchall()
        definition = ", ".join(
            f"{quote_ident(name)} {_DUCKDB_TO_POSTGRES.get(kind, 'numeric' if kind.startswith('DECIMAL') else 'text')}"
            for name, kind in columns
        )
        staging.execute(f"COPY typed TO {sql_literal(str(csv_path))} (HEADER false)")
        return definition, csv_path

    def publish_raw(self, staging: duckdb.DuckDBPyConnection, raw_files: Sequence[RawFile]) -> None:
        """All raw tables are replaced in one transaction, their rows in place, so the staging
        views that PostgreSQL binds to these tables stay valid."""
        settings = self.settings
        raw_schema = self.schema("raw")
        with closing(connect(settings)) as connection, tempfile.TemporaryDirectory() as scratch:
            with (
                self._bounded_lock_wait(connection, [raw_schema], "publishing the raw tables"),
                connection.cursor() as cursor,
            ):
                cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(raw_schema)}")
                for raw_file in raw_files:
                    columns = ", ".join(
                        f"{quote_ident(name)} {POSTGRES_TYPES[kind]}" for name, kind in raw_file.columns
                    )
                    target = self.relation("raw", raw_file.table_name)
                    cursor.execute(f"CREATE TABLE IF NOT EXISTS {target} ({columns})")
                    cursor.execute(f"TRUNCATE {target}")
                    csv_path = Path(scratch) / raw_file.file_name
                    staging.execute(
                        f"COPY raw.{quote_ident(raw_file.table_name)} TO {sql_literal(str(csv_path))} (HEADER false)"
                    )
                    with csv_path.open() as handle:
                        cursor.copy_expert(f"COPY {target} FROM STDIN WITH (FORMAT csv)", handle)
                self._grant_reader(cursor, [raw_schema])
            connection.commit()
            # Fresh tables have no statistics; without them PostgreSQL guesses tiny row counts
            # and picks nested loops that make the dbt tests quadratic. (ANALYZE outside the
            # copy transaction so readers are not held up by it.)
            with connection.cursor() as cursor:
                for raw_file in raw_files:
                    cursor.execute(f"ANALYZE {self.relation('raw', raw_file.table_name)}")
            connection.commit()

    def build_workspace(self, layers: Sequence[str]) -> PostgresBuildWorkspace:
        return PostgresBuildWorkspace(self, tuple(layers))

    # ---- the tenant's BI login ---------------------------------------------------------------
    @property
    def reader_role(self) -> str:
        return f"retail_intel_{self.settings.tenant_id}_reader"

    def create_reader(self, password: str) -> str:
        """A LOGIN role with USAGE on the tenant's schemas and SELECT on their tables; every
        publish grants the same on what it creates (the swap replaces whole schemas)."""
        from psycopg2.extensions import encrypt_password

        role = quote_ident(self.reader_role)
        with closing(connect(self.settings)) as connection, connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (self.reader_role,))
            verb = "ALTER" if cursor.fetchone() else "CREATE"
            # Hashed here, in the server's own scheme (SCRAM-SHA-256 by default): the statement,
            # which the server may log, never carries the password itself.
            hashed = encrypt_password(password, self.reader_role, connection)
            # NOINHERIT: were it ever made a member of another role, it would not use that role's
            # privileges. It does not shield it from grants to PUBLIC, hence the revoke below.
            cursor.execute(f"{verb} ROLE {role} LOGIN NOINHERIT PASSWORD %s", (hashed,))
            if connection.server_version < 150000:
                # PostgreSQL 15 stopped letting every role create tables in schema public; older
                # servers still do, so a tenant's login could write there. Revoked for all, as 15 does.
                cursor.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
            cursor.execute(
                "SELECT schema_name FROM information_schema.schemata WHERE schema_name = ANY(%s)",
                ([self.schema(layer) for layer in self._reader_layers()],),
            )
            self._grant_reader(cursor, [schema for (schema,) in cursor.fetchall()])
            connection.commit()
        return self.reader_role

    def reader_login(self) -> ReaderLogin:
        with closing(connect(self.settings)) as connection, connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (self.reader_role,))
            exists = cursor.fetchone() is not None
        server = _server(self.settings)
        return ReaderLogin(
            engine="postgres",
            host=str(server["host"]),
            port=int(server["port"]),  # type: ignore[arg-type]
            database=str(server["dbname"]),
            username=self.reader_role,
            exists=exists,
        )

    def drop_reader(self) -> None:
        with closing(connect(self.settings)) as connection, connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (self.reader_role,))
            if cursor.fetchone():
                role = quote_ident(self.reader_role)
                cursor.execute(f"DROP OWNED BY {role}")  # its privileges; it owns nothing
                cursor.execute(f"DROP ROLE {role}")
            connection.commit()

    @staticmethod
    def _reader_layers() -> tuple[str, ...]:
        return (*LAYERS, "ml", "serving", "events", "ops", "monitoring")

    def _grant_reader(self, cursor, schemas: Sequence[str]) -> None:
        """Inside a publish's transaction: the tenant's reader (if it has one) reads what it publishes."""
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (self.reader_role,))
        if not cursor.fetchone():
            return
        role = quote_ident(self.reader_role)
        for schema in schemas:
            cursor.execute(f"GRANT USAGE ON SCHEMA {quote_ident(schema)} TO {role}")
            cursor.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA {quote_ident(schema)} TO {role}")

    def destroy(self) -> None:
        if not self.schema_prefix:
            raise ValueError("the default tenant's schemas are unprefixed: they are not dropped wholesale")
        # Exact names, not a prefix match: another tenant's schemas may start with this prefix
        # (tenant "marts" has "marts__raw"; the default tenant has "marts__next").
        schemas = [
            self.schema(layer) + suffix for layer in self._reader_layers() for suffix in ("", BUILD_SUFFIX, "__old")
        ]
        with closing(connect(self.settings)) as connection, connection.cursor() as cursor:
            for schema in schemas:
                cursor.execute(f"DROP SCHEMA IF EXISTS {quote_ident(schema)} CASCADE")
            connection.commit()

    def discard_unpublished(self) -> None:
        self.drop_build_schemas(LAYERS)

    def drop_build_schemas(self, layers: Sequence[str]) -> None:
        with closing(connect(self.settings)) as connection, connection.cursor() as cursor:
            for layer in layers:
                cursor.execute(f"DROP SCHEMA IF EXISTS {quote_ident(self.schema(layer) + BUILD_SUFFIX)} CASCADE")
            connection.commit()

    def dbt_environment(self) -> dict[str, str]:
        # The profile reads the PG* variables: those this warehouse connects with, so dbt builds
        # in the database that the swap then publishes.
        return {key: value for key, value in self.settings.env.items() if key.startswith("PG")}

    def append_table(self, layer: str, table: str, ddl: str) -> AppendTable:
        return _PostgresAppendTable(self, self.relation(layer, table), self.schema(layer), ddl)

    # ---- publishing ------------------------------------------------------------------------
    @contextmanager
    def _bounded_lock_wait(self, connection, schemas: list[str], what: str) -> Iterator[None]:
        """Inside the connection's current transaction: wait for locks at most
        ``settings.publish_lock_timeout_seconds``, then roll back (the published schemas stay as
        they were) and raise WarehouseBusyError naming the sessions that hold locks there.

        A BI session that read a table and stayed idle in its transaction holds a lock that the
        swap must wait for; without a bound one left open overnight held the nightly run all night.
        """
        import psycopg2.errors

        timeout = self.settings.publish_lock_timeout_seconds
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

    def swap_build_schemas(self, layers: Sequence[str]) -> None:
        """Replace each published schema by its build in one transaction: readers see either."""
        settings = self.settings
        schemas = [self.schema(layer) for layer in layers]
        with (
            closing(connect(settings)) as connection,
            self._bounded_lock_wait(connection, schemas, "publishing the build"),
            connection.cursor() as cursor,
        ):
            for layer in layers:
                live, nxt, old = (self.schema(layer) + suffix for suffix in ("", BUILD_SUFFIX, "__old"))
                cursor.execute(f"DROP SCHEMA IF EXISTS {quote_ident(old)} CASCADE")
                cursor.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (live,))
                if cursor.fetchone():
                    cursor.execute(f"ALTER SCHEMA {quote_ident(live)} RENAME TO {quote_ident(old)}")
                cursor.execute(f"ALTER SCHEMA {quote_ident(nxt)} RENAME TO {quote_ident(live)}")
                cursor.execute(f"DROP SCHEMA IF EXISTS {quote_ident(old)} CASCADE")
            self._grant_reader(cursor, schemas)
            connection.commit()


class PostgresBuildWorkspace(BuildWorkspace):
    """``<layer>__next`` schemas, dropped on entry (what a failed build left is kept until then)
    and swapped with the published schemas by ``publish()``."""

    def __init__(self, warehouse: PostgresWarehouse, layers: tuple[str, ...]) -> None:
        self.warehouse = warehouse
        self.layers = layers

    def __enter__(self) -> PostgresBuildWorkspace:
        self.warehouse.drop_build_schemas(self.layers)
        return self

    def dbt_environment(self) -> dict[str, str]:
        return {}

    def publish(self) -> None:
        self.warehouse.swap_build_schemas(self.layers)


class _PostgresAppendTable(AppendTable):
    """A connection per call: the service's threads insert at once, and PostgreSQL serialises them."""

    def __init__(self, warehouse: PostgresWarehouse, relation: str, schema: str, ddl: str) -> None:
        self.settings = warehouse.settings
        self._relation = relation
        with closing(connect(self.settings)) as connection, connection, connection.cursor() as cursor:
            cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}")
            cursor.execute(ddl.format(table=relation))
            warehouse._grant_reader(cursor, [schema])

    def insert(self, rows: Sequence[tuple]) -> int:
        if not rows:
            return 0
        placeholders = ", ".join("%s" for _ in rows[0])
        with closing(connect(self.settings)) as connection, connection, connection.cursor() as cursor:
            cursor.executemany(f"INSERT INTO {self._relation} VALUES ({placeholders})", list(rows))
        return len(rows)

    def count(self) -> int:
        with closing(connect(self.settings)) as connection, connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {self._relation}")
            return int(cursor.fetchone()[0])

    def since(self, column: str, moment: object, before: object | None = None) -> pd.DataFrame:
        query = f"SELECT * FROM {self._relation} WHERE {quote_ident(column)} >= %s"
        parameters = [moment]
        if before is not None:
            query += f" AND {quote_ident(column)} < %s"
            parameters.append(before)
        with closing(connect(self.settings)) as connection, connection.cursor() as cursor:
            cursor.execute(query, parameters)
            return _typed(cursor.fetchall(), cursor.description)

    def earliest(self, column: str, key: str, where: str, value: object) -> object | None:
        query = (
            f"SELECT min({quote_ident(column)}) FROM {self._relation} WHERE {quote_ident(key)} IN "
            f"(SELECT {quote_ident(key)} FROM {self._relation} WHERE {quote_ident(where)} = %s)"
        )
        with closing(connect(self.settings)) as connection, connection.cursor() as cursor:
            cursor.execute(query, [value])
            return cursor.fetchone()[0]


# PostgreSQL type oids -> the dtype DuckDB's reader gives the same column.
_DTYPES = {16: "bool", 21: "int16", 23: "int32", 20: "int64", 700: "float32", 701: "float64", 1700: "float64"}
_TIMES = {1082, 1114, 1184}  # date, timestamp, timestamptz
_TEXT = {18, 19, 25, 1042, 1043}  # char, name, text, bpchar, varchar
_PANDAS_3 = int(pd.__version__.split(".")[0]) >= 3


def _typed(rows: list[tuple], description) -> pd.DataFrame:
    """Rows as DuckDB's reader types them, by the column types PostgreSQL reports, so that an
    empty table and a column of whole numbers come back as they would from DuckDB."""
    frame = pd.DataFrame(rows, columns=[column.name for column in description])
    for column in description:
        values = frame[column.name]
        if column.type_code in _TIMES:
            frame[column.name] = pd.to_datetime(values).astype("datetime64[us]")
        elif column.type_code in _TEXT and _PANDAS_3 and len(frame):  # DuckDB: object when empty
            frame[column.name] = values.astype("str")  # pandas 3's text dtype, as DuckDB gives
        elif column.type_code in _DTYPES and not values.isna().any():
            frame[column.name] = values.astype(_DTYPES[column.type_code])
        elif column.type_code in _DTYPES:
            frame[column.name] = values.astype("float64" if column.type_code != 16 else "object")
    return typed_like_duckdb(frame)


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
