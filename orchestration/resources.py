"""Resources, chosen by one environment switch: the tenant's Settings (DuckDB or PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pandas as pd
from pydantic import PrivateAttr

from orchestration.dbt_project import dbt_cli
from orchestration.partitions import TenantRunError, run_tenant
from retail_intel.settings import Settings
from retail_intel.tenants import TenantRegistry, resolve
from retail_intel.warehouse import Warehouse, warehouse_for


class WarehouseResource(dg.ConfigurableResource):
    """The warehouse of the tenant a run materializes: its partition (orchestration/partitions.py),
    or, in a run without one, the tenant the code location was started for. Holds only names;
    every location comes from Settings."""

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

    # Set per run from its partition; the configured tenant_id is the code location's own.
    _run_tenant: str | None = PrivateAttr(default=None)
    # Resolved once per run: every step of a run sees the same registration.
    _run_settings: Settings | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        run = context.run
        self._run_tenant = run_tenant(run.tags) if run is not None else None
        self._run_settings = None
        self._run_settings = self.settings()

    @property
    def run_tenant_id(self) -> str:
        return self._run_tenant or self.tenant_id

    def settings(self) -> Settings:
        """Where no raw folder or warehouse file was given, the tenant's registered ones, read
        now (not when the code location loaded: `tenants add` may have changed them since).
        A folder or file given to the code location is its own tenant's, never another's."""
        if self._run_settings is not None:
            return self._run_settings
        own = self.run_tenant_id == self.tenant_id
        settings = Settings.from_env().with_(
            home=Path(self.home),
            tenant_id=self.run_tenant_id,
            target=self.target,
            raw_dir_override=Path(self.raw_dir) if self.raw_dir and own else None,
            warehouse_override=Path(self.warehouse_path) if self.warehouse_path and own else None,
        )
        if not own and TenantRegistry.of(settings).get(settings.tenant_id) is None:
            # Its settings would fall back to the shipped sample and a fresh file: refuse instead.
            raise TenantRunError(f"tenant {settings.tenant_id!r} is not registered (`retail-intel tenants add`)")
        return resolve(settings)

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

    def with_history(self, layer: str, table: str, rows: pd.DataFrame) -> pd.DataFrame:
        """The monitoring tables grow: what is published, with ``rows`` after it (to write)."""
        if not self.exists(layer, table):
            return rows
        history = self.read(layer, table)
        if rows.empty:  # concatenating an empty frame would retype the history's columns
            return history
        return pd.concat([history, rows], ignore_index=True) if len(history) else rows


def environment() -> Settings:
    """The one switch: RETAIL_INTEL_TARGET (duckdb by default) and the tenant's other settings."""
    return Settings.from_env()


def resources_for(settings: Settings) -> dict[str, object]:
    return {
        "warehouse": WarehouseResource.from_settings(settings),
        "dbt": dbt_cli(settings),
    }
