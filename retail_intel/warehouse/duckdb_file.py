"""The warehouse as one DuckDB file per tenant.

Each publish changes a private copy of the published file, which then replaces it by an
atomic rename. Why not write the published file in place: DuckDB lets no process open a file
for writing while any other holds it, even read-only, so a BI tool, a notebook or the HTTP
service keeping a session open would stop every run. With the rename, a session opened
before keeps reading the version it opened and a new one sees the new version. The copy
keeps the published file's name (DuckDB names its catalog after the file; views refer to it).
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd

from retail_intel.raw.contract import RawFile
from retail_intel.warehouse.base import (
    AppendTable,
    BuildWorkspace,
    TableMissing,
    Warehouse,
    WarehouseBusyError,
    quote_ident,
    sql_literal,
)


class DuckDBWarehouse(Warehouse):
    target = "duckdb"
    tenants_share_database = False  # each tenant has its own file
    build_schema_suffix = ""  # the workspace is a file of its own

    @property
    def path(self) -> Path:
        return self.settings.warehouse_path

    @property
    def description(self) -> str:
        return str(self.path)

    # ---- reading ---------------------------------------------------------------------------
    @contextmanager
    def _reading(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if not self.path.exists():
            raise TableMissing(f"no warehouse at {self.path}")
        with duckdb.connect(str(self.path), read_only=True) as connection:
            yield connection

    def exists(self, layer: str, table: str) -> bool:
        return self.path.exists() and super().exists(layer, table)

    def read_consistent(self, tables: Mapping[str, tuple[str, str]]) -> dict[str, pd.DataFrame]:
        # One connection sees one file: the published version it opened, whatever is renamed over it.
        frames = {}
        if not self.path.exists() and tables:
            layer, table = next(iter(tables.values()))
            raise TableMissing(f"{layer}.{table} is missing: no warehouse at {self.path}")
        with self._reading() as connection:
            for name, (layer, table) in tables.items():
                try:
                    frames[name] = connection.execute(f"SELECT * FROM {self.relation(layer, table)}").df()
                except duckdb.CatalogException as error:
                    raise TableMissing(f"{layer}.{table} is missing from {self.path}") from error
        return frames

    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        with self._reading() as connection:
            return connection.execute(sql, list(params)).fetchall()

    def signature(self, tables: Sequence[tuple[str, str]]) -> str:
        # Every publish replaces the file by a rename, so its inode and times change.
        if not self.path.exists():
            return "missing"
        stat = self.path.stat()
        return f"{stat.st_ino}:{stat.st_mtime_ns}:{stat.st_size}"

    # ---- writing ---------------------------------------------------------------------------
    def write_many(self, frames: Mapping[tuple[str, str], pd.DataFrame]) -> dict[tuple[str, str], int]:
        with self._replacing_published() as copy, duckdb.connect(str(copy)) as connection:
            connection.execute("BEGIN TRANSACTION")
            for (layer, table), frame in frames.items():
                connection.register("incoming", frame)
                connection.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(self.schema(layer))}")
                connection.execute(f"CREATE OR REPLACE TABLE {self.relation(layer, table)} AS SELECT * FROM incoming")
                connection.unregister("incoming")
            connection.execute("COMMIT")
        return {key: len(frame) for key, frame in frames.items()}

    def publish_raw(self, staging: duckdb.DuckDBPyConnection, raw_files: Sequence[RawFile]) -> None:
        raw_schema = quote_ident(self.schema("raw"))
        with self._replacing_published() as copy:
            staging.execute(f"ATTACH {sql_literal(str(copy))} AS published")
            try:
                staging.execute("BEGIN TRANSACTION")
                staging.execute(f"CREATE SCHEMA IF NOT EXISTS published.{raw_schema}")
                for raw_file in raw_files:
                    table = quote_ident(raw_file.table_name)
                    staging.execute(
                        f"CREATE OR REPLACE TABLE published.{raw_schema}.{table} AS SELECT * FROM raw.{table}"
                    )
                staging.execute("COMMIT")
            except BaseException:
                # Roll back first: DETACH in an aborted transaction would raise and hide the cause.
                staging.execute("ROLLBACK")
                raise
            finally:
                staging.execute("DETACH published")

    def build_workspace(self, layers: Sequence[str]) -> DuckDBBuildWorkspace:
        return DuckDBBuildWorkspace(self)

    def destroy(self) -> None:
        self.discard_unpublished()
        for path in (self.path, self.path.with_name(self.path.name + ".wal"), self.settings.events_path):
            path.unlink(missing_ok=True)

    def discard_unpublished(self) -> None:
        shutil.rmtree(self.settings.build_dir, ignore_errors=True)
        shutil.rmtree(self.settings.publish_dir, ignore_errors=True)

    def dbt_environment(self) -> dict[str, str]:
        return {"RETAIL_INTEL_DUCKDB_PATH": str(self.build_path)}

    @property
    def build_path(self) -> Path:
        """The build workspace's copy: the same name as the published file, in ``settings.build_dir``."""
        return self.settings.build_dir / self.path.name

    def append_table(self, layer: str, table: str, ddl: str) -> AppendTable:
        # Not in the published file: every run replaces it, and the service holds it read-only.
        return _DuckDBAppendTable(self.settings.events_path, self.schema(layer), table, ddl)

    # ---- the publish copy ------------------------------------------------------------------
    def refuse_if_open_for_writing(self) -> None:
        """A WAL beside the published file means a writer has it open; replacing the file under it
        would lose its writes, or replay them onto the new file."""
        wal = self.path.with_name(self.path.name + ".wal")
        if wal.exists():
            raise WarehouseBusyError(f"{self.path} is open for writing by another process ({wal.name} exists)")

    def fresh_copy(self, folder: Path) -> Path:
        """A copy of the published file (or a new empty one) in ``folder``, under the same name."""
        self.refuse_if_open_for_writing()
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        copy = folder / self.path.name
        if self.path.exists():
            # From the published file, so that tables this step does not touch carry over.
            shutil.copy2(self.path, copy)
        else:
            duckdb.connect(str(copy)).close()
        return copy

    def replace_published(self, copy: Path) -> None:
        with duckdb.connect(str(copy)) as connection:
            connection.execute("CHECKPOINT")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        copy.replace(self.path)

    @contextmanager
    def _replacing_published(self) -> Iterator[Path]:
        """A private copy to change; it replaces the published file when the block succeeds and
        is removed when it fails."""
        folder = self.settings.publish_dir
        try:
            copy = self.fresh_copy(folder)
            yield copy
            self.replace_published(copy)
        finally:
            shutil.rmtree(folder, ignore_errors=True)


class DuckDBBuildWorkspace(BuildWorkspace):
    """A copy of the published file in ``settings.build_dir``, renamed over the published file by
    ``publish()``; a failed build's copy is kept for inspection until the next run."""

    def __init__(self, warehouse: DuckDBWarehouse) -> None:
        self.warehouse = warehouse
        self.path: Path | None = None
        self.published = False

    def __enter__(self) -> DuckDBBuildWorkspace:
        self.path = self.warehouse.fresh_copy(self.warehouse.settings.build_dir)
        return self

    def __exit__(self, *exc_info) -> None:
        if self.published:
            shutil.rmtree(self.warehouse.settings.build_dir, ignore_errors=True)

    def dbt_environment(self) -> dict[str, str]:
        return self.warehouse.dbt_environment()

    def publish(self) -> None:
        self.warehouse.replace_published(self.path)
        self.published = True


class _DuckDBAppendTable(AppendTable):
    """One connection held for the table's life; DuckDB connections are not safe across
    threads at once, so inserts and counts take turns."""

    def __init__(self, path: Path, schema: str, table: str, ddl: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._relation = f"{quote_ident(schema)}.{quote_ident(table)}"
        try:
            self._connection = duckdb.connect(str(path))
        except duckdb.IOException as error:  # DuckDB lets one process at a time open a file to write
            raise WarehouseBusyError(f"{path} is open in another process (the running service?): {error}") from None
        self._connection.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}")
        self._connection.execute(ddl.format(table=self._relation))

    def insert(self, rows: Sequence[tuple]) -> int:
        if not rows:
            return 0
        placeholders = ", ".join("?" for _ in rows[0])
        with self._lock:
            self._connection.executemany(f"INSERT INTO {self._relation} VALUES ({placeholders})", list(rows))
        return len(rows)

    def count(self) -> int:
        with self._lock:
            return int(self._connection.execute(f"SELECT count(*) FROM {self._relation}").fetchone()[0])

    def since(self, column: str, moment: object, before: object | None = None) -> pd.DataFrame:
        query = f"SELECT * FROM {self._relation} WHERE {quote_ident(column)} >= ?"
        parameters = [moment]
        if before is not None:
            query += f" AND {quote_ident(column)} < ?"
            parameters.append(before)
        with self._lock:
            return self._connection.execute(query, parameters).df()

    def earliest(self, column: str, key: str, where: str, value: object) -> object | None:
        query = (
            f"SELECT min({quote_ident(column)}) FROM {self._relation} WHERE {quote_ident(key)} IN "
            f"(SELECT {quote_ident(key)} FROM {self._relation} WHERE {quote_ident(where)} = ?)"
        )
        with self._lock:
            return self._connection.execute(query, [value]).fetchone()[0]

    def close(self) -> None:
        self._connection.close()
