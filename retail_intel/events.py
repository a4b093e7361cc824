"""Serving events (impressions, clicks, add-to-carts, purchases) stored for monitoring and experiments.

On DuckDB they go to their own file (``Settings.events_path``): the published warehouse file
is replaced by every run and the service holds it read-only. On PostgreSQL they go to the
tenant's ``events`` schema. Inserts are parameterized.
"""

from __future__ import annotations

import threading
from contextlib import closing
from datetime import datetime

import duckdb

from retail_intel.settings import Settings
from retail_intel.warehouse import postgres_connect

EVENT_TYPES = ("impression", "click", "add_to_cart", "purchase")
COLUMNS = (
    "event_id",
    "event_type",
    "customer_unique_id",
    "product_id",
    "model_version",
    "request_id",
    "occurred_at",
    "received_at",
)
_DDL = """create table if not exists {table} (
    event_id varchar primary key,
    event_type varchar not null,
    customer_unique_id varchar,
    product_id varchar,
    model_version varchar,
    request_id varchar,
    occurred_at timestamp not null,
    received_at timestamp not null
)"""


class EventStore:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._connection = None
        if settings.target == "duckdb":
            settings.events_path.parent.mkdir(parents=True, exist_ok=True)
            self._connection = duckdb.connect(str(settings.events_path))
            self._connection.execute("create schema if not exists events")
            self._connection.execute(_DDL.format(table="events.serving_events"))
        else:
            schema = settings.schema("events")
            with closing(postgres_connect(settings)) as connection, connection, connection.cursor() as cursor:
                cursor.execute(f'create schema if not exists "{schema}"')
                cursor.execute(_DDL.format(table=f'"{schema}".serving_events'))

    def add(self, rows: list[dict[str, object]]) -> int:
        values = [tuple(row.get(column) for column in COLUMNS) for row in rows]
        placeholders = ", ".join("?" for _ in COLUMNS)
        if self._connection is not None:
            with self._lock:
                self._connection.executemany(f"insert into events.serving_events values ({placeholders})", values)
            return len(values)
        schema = self.settings.schema("events")
        with closing(postgres_connect(self.settings)) as connection, connection, connection.cursor() as cursor:
            cursor.executemany(
                f'insert into "{schema}".serving_events values ({placeholders.replace("?", "%s")})', values
            )
        return len(values)

    def count(self) -> int:
        if self._connection is not None:
            with self._lock:
                return int(self._connection.execute("select count(*) from events.serving_events").fetchone()[0])
        schema = self.settings.schema("events")
        with closing(postgres_connect(self.settings)) as connection, connection.cursor() as cursor:
            cursor.execute(f'select count(*) from "{schema}".serving_events')
            return int(cursor.fetchone()[0])

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()


def now() -> datetime:
    return datetime.now().replace(microsecond=0)
