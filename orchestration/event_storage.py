"""Dagster's SQLite event log, keeping its database connections open between events.

Dagster's ``SqliteEventLogStorage`` creates a SQLAlchemy engine, opens the SQLite file and
disposes of both for every statement it stores: three to four times per event (the run's
own database, the cross-run index, the asset-check table). A run of this graph stores about
1,200 events (every dbt test is an asset check, planned and evaluated), so that alone took
4-10 s of a 100K-order run on 2 cores (bench/bench_graph.py, measured with and without).

This subclass keeps one engine per database file, the most recently used few, and is
otherwise Dagster's own storage: the same files, schema and migrations, so a Dagster home
can switch between the two. A write to a run's database is checkpointed at once, as closing
the connection did, so that the UI's file watcher sees it. ``prepare_dagster_home`` names it in the ``dagster.yaml`` it
writes. It overrides a private method of Dagster's (``_connect``);
tests/orchestration/test_event_storage.py fails if a release renames it, so the saving
cannot vanish unnoticed.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME, SqliteEventLogStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS, create_db_conn_string
from dagster._serdes import ConfigurableClassData
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection, Engine

# Open databases kept per process: the index and the few runs a process writes or reads at
# once. The UI reads many runs; the least recently used are closed beyond this.
OPEN_DATABASES = 8


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        # has_table runs inside and outside the parent's lock: the engines have their own.
        self._engines_lock = threading.RLock()
        super().__init__(base_dir, inst_data)

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None, config_value) -> PooledSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        # Dagster's lock is held for the whole statement, as in the parent; SQLAlchemy's pool hands
        # a connection to one user at a time, so connections may move between threads.
        with self._db_lock:
            engine = self._engine(shard)
            with engine.connect() as connection:
                with connection.begin():
                    yield connection
                if shard != INDEX_SHARD_NAME:
                    # The UI follows a run by watching its database file; in WAL mode a write
                    # reaches that file only at a checkpoint, which Dagster's storage gets by
                    # closing its connection after every statement. Without this the live
                    # event log stalls until SQLite's automatic checkpoint, ~1,000 pages later.
                    connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    def has_table(self, table_name: str) -> bool:
        # The parent opens a database for this on every asset check it stores.
        with self._engine(INDEX_SHARD_NAME).connect() as connection:
            return bool(connection.dialect.has_table(connection, table_name))

    def _engine(self, shard: str) -> Engine:
        with self._engines_lock:
            return self._open_engine(shard)

    def _open_engine(self, shard: str) -> Engine:
        engine = self._engines.get(shard)
        if engine is not None and not os.path.exists(self.path_for_shard(shard)):
            # Removed by another process (``dagster instance wipe``): start a new file, as the parent would.
            self._engines.pop(shard).dispose()
            self._initialized_dbs.discard(shard)
            engine = None
        if engine is None:
            engine = create_engine(
                create_db_conn_string(self._base_dir, shard),
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
            )
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            self._engines[shard] = engine
            while len(self._engines) > OPEN_DATABASES:
                self._engines.popitem(last=False)[1].dispose()
        self._engines.move_to_end(shard)
        return engine

    def _close_all(self) -> None:
        with self._db_lock, self._engines_lock:
            while self._engines:
                self._engines.popitem()[1].dispose()

    def wipe(self) -> None:
        self._close_all()  # before the parent deletes the files they are open on
        super().wipe()

    def dispose(self) -> None:
        self._close_all()
        super().dispose()
