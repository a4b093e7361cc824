"""The tenant's warehouse behind one interface (``Warehouse``), on DuckDB or PostgreSQL.

``warehouse_for(settings)`` gives the tenant's warehouse; nothing outside this package
asks which engine holds it. See ``base`` for what is published together and when.
"""

from __future__ import annotations

from retail_intel.settings import Settings
from retail_intel.warehouse.base import (
    MART_TABLES,
    AppendTable,
    BuildWorkspace,
    ReaderLogin,
    TableDescription,
    TableMissing,
    Warehouse,
    WarehouseBusyError,
    WarehouseSummary,
)
from retail_intel.warehouse.duckdb_file import DuckDBWarehouse
from retail_intel.warehouse.lock import tenant_lock
from retail_intel.warehouse.postgres import PostgresWarehouse

IMPLEMENTATIONS: dict[str, type[Warehouse]] = {
    implementation.target: implementation for implementation in (DuckDBWarehouse, PostgresWarehouse)
}


def warehouse_class(target: str) -> type[Warehouse]:
    try:
        return IMPLEMENTATIONS[target]
    except KeyError:
        raise ValueError(f"unknown warehouse target {target!r}; expected one of {sorted(IMPLEMENTATIONS)}") from None


def warehouse_for(settings: Settings) -> Warehouse:
    return warehouse_class(settings.target)(settings)


__all__ = [
    "MART_TABLES",
    "AppendTable",
    "BuildWorkspace",
    "ReaderLogin",
    "TableDescription",
    "TableMissing",
    "Warehouse",
    "WarehouseBusyError",
    "WarehouseSummary",
    "tenant_lock",
    "warehouse_class",
    "warehouse_for",
]
