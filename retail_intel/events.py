"""Serving events (impressions, clicks, add-to-carts, purchases) stored for monitoring and experiments.

``value`` is what a purchase was worth (its price); ``experiment`` and ``arm`` say which
online experiment and arm served a list (ml/experiments). They came after the first tables,
which opening the store migrates.

``exposure`` events are written by the serving side itself (the service, the batch scorer, the
simulator's lists), one per item shown to a customer in an experiment, with the arm that
contributed the item: what the experiment's analysis counts customers and attributes clicks
by. Clients cannot post them (POST /v1/events takes the other four kinds).

They go to the warehouse's append-only table ``events.serving_events`` (on DuckDB a file of
its own, ``Settings.events_path``: the published file is replaced by every run and the service
holds it read-only). Inserts are parameterized.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from retail_intel.settings import Settings
from retail_intel.warehouse import warehouse_for

EVENT_TYPES = ("impression", "click", "add_to_cart", "purchase")
EXPOSURE = "exposure"
COLUMNS = (
    "event_id",
    "event_type",
    "customer_unique_id",
    "product_id",
    "model_version",
    "request_id",
    "occurred_at",
    "received_at",
    "value",
    "experiment",
    "arm",
)
_DDL = """create table if not exists {table} (
    event_id varchar primary key,
    event_type varchar not null,
    customer_unique_id varchar,
    product_id varchar,
    model_version varchar,
    request_id varchar,
    occurred_at timestamp not null,
    received_at timestamp not null,
    value double precision,
    experiment varchar,
    arm varchar
);
alter table {table} add column if not exists value double precision;
alter table {table} add column if not exists experiment varchar;
alter table {table} add column if not exists arm varchar"""


class EventStore:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._table = warehouse_for(settings).append_table("events", "serving_events", _DDL)

    def add(self, rows: list[dict[str, object]]) -> int:
        return self._table.insert([tuple(row.get(column) for column in COLUMNS) for row in rows])

    def count(self) -> int:
        return self._table.count()

    def since(self, moment: datetime, before: datetime | None = None) -> pd.DataFrame:
        """The events that occurred at or after ``moment`` (and before ``before``, if given)."""
        return self._table.since("occurred_at", moment, before)

    def of_experiment(self, name: str) -> pd.DataFrame:
        """Every event from the experiment's first list on (its exposures, and the impressions,
        clicks and purchases its readout attributes); empty before any exposure. The first list
        is the earliest event of a request the experiment served: a client's impression can be
        earlier than the service's clock (a replay of past days)."""
        return self.of_experiments([name])

    def of_experiments(self, names: list[str]) -> pd.DataFrame:
        """``of_experiment`` for several at once: one read, from the earliest first list of them."""
        firsts = [self._table.earliest("occurred_at", "request_id", "experiment", name) for name in names]
        firsts = [first for first in firsts if first is not None]
        if not firsts:
            return pd.DataFrame(columns=list(COLUMNS))
        return self._table.since("occurred_at", min(firsts))

    def close(self) -> None:
        self._table.close()


def now() -> datetime:
    return datetime.now().replace(microsecond=0)
