"""What every warehouse does, whichever engine holds it: the ``Warehouse`` interface.

Build, then publish: readers see the previous tables or the new ones, never a mix.

What is published together: the raw tables on their own, once their quality gate passed
(``publish_raw``, from the graph's raw asset); then staging, intermediate and marts together,
once every dbt test passed (``build_workspace``, from the dbt asset); then each model's score
tables (``write`` / ``write_many``: the recommendations with their embeddings in one publish).
A failure at any step leaves what that step would have published exactly as it
was; earlier steps stay published (raw files that pass their gate but fail a dbt test are
published raw tables under the previous marts until the next good run).

How each engine keeps that promise is its own business (``duckdb_file`` and ``postgres``);
code outside this package never asks which engine it talks to.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import ClassVar

import duckdb
import pandas as pd

from retail_intel.raw.contract import RAW_FILES, RawFile
from retail_intel.settings import DEFAULT_TENANT, Settings

MART_TABLES = ("orders", "customers", "products", "daily_revenue", "customer_rfm", "user_item_interactions")


class WarehouseBusyError(Exception):
    """Something else holds what a run must change: another run, a writer, or readers' locks."""


class TableMissing(LookupError):
    """A table that was asked for is not published (or the warehouse does not exist yet)."""


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


@dataclass(frozen=True)
class TableDescription:
    columns: list[tuple[str, str]]  # (name, type) in table order
    rows: int


@dataclass(frozen=True)
class ReaderLogin:
    """Where a BI tool connects live as the tenant's read-only login. Never holds a password:
    the tool asks for it (``retail-intel tenants reader ID`` sets and prints one)."""

    engine: str
    host: str
    port: int
    database: str
    username: str
    exists: bool  # whether the login has been created (``tenants add`` / ``tenants reader``)


class BuildWorkspace(ABC):
    """Where the dbt layers are built before readers may see them; ``publish()`` swaps them in
    at once. Leaving the ``with`` block without ``publish()`` publishes nothing."""

    def __enter__(self) -> BuildWorkspace:
        return self

    def __exit__(self, *exc_info) -> None:
        return None

    @abstractmethod
    def dbt_environment(self) -> dict[str, str]:
        """Environment variables dbt's profile needs to build into this workspace."""

    @abstractmethod
    def publish(self) -> None:
        """Make every table built here visible to readers, all at once."""


class AppendTable(ABC):
    """A table that only grows (serving events), kept apart from what runs replace."""

    @abstractmethod
    def insert(self, rows: Sequence[tuple]) -> int: ...

    @abstractmethod
    def count(self) -> int: ...

    @abstractmethod
    def since(self, column: str, moment: object, before: object | None = None) -> pd.DataFrame:
        """The rows whose ``column`` is at or after ``moment`` (and before ``before``, if given)."""

    @abstractmethod
    def earliest(self, column: str, key: str, where: str, value: object) -> object | None:
        """The smallest ``column`` among the rows that share a ``key`` with a row whose ``where``
        equals ``value`` (None if there is none)."""

    def close(self) -> None:
        return None


class Warehouse(ABC):
    """One tenant's warehouse. Table names are ``(layer, table)``; the tenant's schema names come
    from its Settings. Frames read come back typed alike on every engine (floats, datetime64)."""

    target: ClassVar[str]
    # Whether tenants share one database (their schemas then carry the tenant's prefix).
    tenants_share_database: ClassVar[bool]
    # dbt builds the layers into "<schema><suffix>" inside the workspace.
    build_schema_suffix: ClassVar[str]

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @property
    def schema_prefix(self) -> str:
        """Tenants sharing one database (PostgreSQL) get their schemas prefixed, except the
        default tenant; a tenant with a database of its own (a DuckDB file) needs none."""
        if not self.tenants_share_database or self.settings.tenant_id == DEFAULT_TENANT:
            return ""
        return f"{self.settings.tenant_id}__"

    def schema(self, layer: str) -> str:
        return f"{self.schema_prefix}{layer}"

    def relation(self, layer: str, table: str) -> str:
        return f"{quote_ident(self.schema(layer))}.{quote_ident(table)}"

    # ---- reading ---------------------------------------------------------------------------
    @property
    @abstractmethod
    def description(self) -> str:
        """Where the warehouse is, for messages; never includes a password."""

    def exists(self, layer: str, table: str) -> bool:
        return (
            self.query(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                [self.schema(layer), table],
            )[0][0]
            > 0
        )

    def read(self, layer: str, table: str) -> pd.DataFrame:
        return self.read_consistent({table: (layer, table)})[table]

    @abstractmethod
    def read_consistent(self, tables: Mapping[str, tuple[str, str]]) -> dict[str, pd.DataFrame]:
        """Several tables as of one published version (a run publishing meanwhile cannot mix
        old and new). Raises TableMissing naming the first table that is not there."""

    @abstractmethod
    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        """Rows of a read-only query; parameters are bound, written ``?`` in ``sql``."""

    @abstractmethod
    def signature(self, tables: Sequence[tuple[str, str]]) -> str:
        """Changes whenever a run publishes any of ``tables``; cheap enough to poll."""

    # ---- writing ---------------------------------------------------------------------------
    def write(self, layer: str, table: str, frame: pd.DataFrame) -> int:
        """Replace ``<layer>.<table>`` by ``frame`` at once: readers see the old or the new table."""
        return self.write_many({(layer, table): frame})[(layer, table)]

    @abstractmethod
    def write_many(self, frames: Mapping[tuple[str, str], pd.DataFrame]) -> dict[tuple[str, str], int]:
        """Replace several tables in one publish; returns each table's row count."""

    @abstractmethod
    def publish_raw(self, staging: duckdb.DuckDBPyConnection, raw_files: Sequence[RawFile]) -> None:
        """Replace the published raw tables by validated ones from ``staging``'s ``raw`` schema, at once."""

    @abstractmethod
    def build_workspace(self, layers: Sequence[str]) -> BuildWorkspace:
        """A workspace for ``layers``; raw is read from the published warehouse."""

    def create_reader(self, password: str) -> str | None:
        """A login that can read this tenant's tables and nothing else, for its BI tool; its
        name, or None where the engine isolates tenants otherwise (a DuckDB tenant has a file of
        its own: give the BI tool read access to that file)."""
        return None

    def reader_login(self) -> ReaderLogin | None:
        """How a BI tool reaches this tenant's tables live as its read-only login; None where the
        engine has no logins (a DuckDB file: the tool opens the file, or reads an extract)."""
        return None

    def drop_reader(self) -> None:  # noqa: B027 - nothing to remove where create_reader made nothing
        """Remove the login ``create_reader`` made, if any."""

    @abstractmethod
    def destroy(self) -> None:
        """Delete every table of this tenant, published or not (``tenants remove --purge``)."""

    @abstractmethod
    def discard_unpublished(self) -> None:
        """Remove what a killed run was building and had not published; published tables stay."""

    @abstractmethod
    def dbt_environment(self) -> dict[str, str]:
        """Environment variables dbt's profile needs to build into this warehouse's workspace
        (dbt builds nowhere else; a parse with them writes a state that the build can reuse)."""

    @abstractmethod
    def append_table(self, layer: str, table: str, ddl: str) -> AppendTable:
        """Open (creating with ``ddl``, where ``{table}`` is the relation, if needed) a table that only grows."""

    def describe(self, tables: Sequence[tuple[str, str]]) -> dict[tuple[str, str], TableDescription]:
        """Columns (name, type) and row counts of published tables, in two queries whatever their
        number: a dbt build describes a score of tables, and opening the warehouse for each of
        them cost about a second at 100K orders."""
        if not tables:
            return {}
        by_schema = {(self.schema(layer), table): (layer, table) for layer, table in tables}
        columns: dict[tuple[str, str], list[tuple[str, str]]] = {key: [] for key in tables}
        for schema, table, column, kind in self.query(
            "SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = ANY(?) ORDER BY table_schema, table_name, ordinal_position",
            [sorted({schema for schema, _ in by_schema})],
        ):
            if (schema, table) in by_schema:
                columns[by_schema[(schema, table)]].append((column, kind))
        counts = self.query(
            " UNION ALL ".join(
                f"SELECT {index}, count(*) FROM {self.relation(*key)}" for index, key in enumerate(tables)
            )
        )
        rows = {tables[index]: int(count) for index, count in counts}
        return {key: TableDescription(columns[key], rows[key]) for key in tables}

    # ---- summary ---------------------------------------------------------------------------
    def summarize(self) -> WarehouseSummary:
        # One query: the counts and the range come from one published version.
        tables = [("raw", raw.table_name) for raw in RAW_FILES] + [("marts", name) for name in MART_TABLES]
        # The range first: PostgreSQL types a UNION's NULL columns after the first branch.
        rows = self.query(
            "SELECT -1, NULL, min(date), max(date), coalesce(sum(revenue), 0)"
            f" FROM {self.relation('marts', 'daily_revenue')} UNION ALL "
            + " UNION ALL ".join(
                f"SELECT {at}, count(*), NULL, NULL, NULL FROM {self.relation(*key)}" for at, key in enumerate(tables)
            )
        )
        counts = {f"{self.schema(layer)}.{table}": 0 for layer, table in tables}
        first_day = last_day = revenue = None
        for at, count, first, last, total in rows:
            if at == -1:
                first_day, last_day, revenue = first, last, total
            else:
                layer, table = tables[at]
                counts[f"{self.schema(layer)}.{table}"] = int(count)
        if isinstance(first_day, datetime):
            first_day, last_day = first_day.date(), last_day.date()
        return WarehouseSummary(self.description, counts, first_day, last_day, float(revenue))


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def typed_like_duckdb(frame: pd.DataFrame) -> pd.DataFrame:
    """Drivers give Decimal and datetime.date objects where DuckDB gives floats and datetime64.
    Code downstream (quality suites, models, the service) sees one shape, whichever the warehouse."""
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
