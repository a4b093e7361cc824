"""Resources, chosen by one environment switch: the tenant's Settings (DuckDB or PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pandas as pd

from orchestration.dbt_project import dbt_cli
from retail_intel.settings import Settings
from retail_intel.tenants import resolve
from retail_intel.warehouse import Warehouse, warehouse_for


class WarehouseResource(dg.ConfigurableResource):
    """The tenant's warehouse. Holds only names; every location comes from Settings."""

    home: str
    tenant_id: str
    target: str
    raw_dir: str | None = None
    warehouse_path: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> WarehouseResource:
        return cls(
            home=str(settings.home),
            tenant_id=settings.tenant_id,
            target=settings.target,
            raw_dir=str(settings.raw_dir_override) if settings.raw_dir_override else None,
            warehouse_path=str(settings.warehouse_override) if settings.warehouse_override else None,
        )

    def settings(self) -> Settings:
        """Where no raw folder or warehouse file was given, the tenant's registered ones, read
        now (not when the code location loaded: `tenants add` may have changed them since)."""
        return resolve(
            Settings.from_env().with_(
                home=Path(self.home),
                tenant_id=self.tenant_id,
                target=self.target,
                raw_dir_override=Path(self.raw_dir) if self.raw_dir else None,
                warehouse_override=Path(self.warehouse_path) if self.warehouse_path else None,
            )
        )

    def warehouse(self) -> Warehouse:
        return warehouse_for(self.settings())

    def exists(self, layer: str, table: str) -> bool:
        return self.warehouse().exists(layer, table)

    def read(self, layer: str, table: str) -> pd.DataFrame:
        return self.warehouse().read(layer, table)

    def write(self, layer: str, table: str, frame: pd.DataFrame) -> int:
        return self.warehouse().write(layer, table, frame)

    def write_many(self, frames: dict[tuple[str, str], pd.DataFrame]) -> dict[tuple[str, str], int]:
        return self.warehouse().write_many(frames)


def environment() -> Settings:
    """The one switch: RETAIL_INTEL_TARGET (duckdb by default) and the tenant's other settings."""
    return Settings.from_env()


def resources_for(settings: Settings) -> dict[str, object]:
    return {
        "warehouse": WarehouseResource.from_settings(settings),
        "dbt": dbt_cli(settings),
    }
