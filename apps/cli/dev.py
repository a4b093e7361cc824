"""``retail-intel dev``: the Dagster UI on every tenant's assets (each tenant a partition)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from apps.cli.options import warehouse_options
from retail_intel.settings import Settings
from retail_intel.tenants import TenantRegistry


@click.command()
@click.option("--port", type=int, default=3000, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.pass_obj
@warehouse_options
def dev(settings: Settings, port: int, host: str) -> None:
    """Open the Dagster UI on every tenant's assets, checks, schedule and sensors."""
    import dagster as dg

    from orchestration.dbt_project import prepare_manifest
    from orchestration.partitions import sync_partitions
    from orchestration.runner import prepare_dagster_home

    prepare_manifest(settings)
    prepare_dagster_home(settings)
    # The partition sensor would add them within a minute; the UI shows every tenant from the start.
    with dg.DagsterInstance.get() as instance:
        sync_partitions(instance, TenantRegistry.of(settings))
    registered = TenantRegistry.of(settings).get(settings.tenant_id)
    os.environ.update(
        RETAIL_INTEL_HOME=str(settings.home),
        RETAIL_INTEL_TENANT=settings.tenant_id,
        RETAIL_INTEL_TARGET=settings.target,
    )
    # Only a folder or file given here, not the registered ones the settings resolved to: the
    # code location reads those from the registry, and `tenants add` may change them later.
    if settings.raw_dir_override and settings.raw_dir_override != (registered and registered.raw_dir):
        os.environ["RETAIL_INTEL_RAW_DIR"] = str(settings.raw_dir_override)
    if settings.warehouse_override and settings.warehouse_override != (registered and registered.warehouse):
        os.environ["RETAIL_INTEL_WAREHOUSE"] = str(settings.warehouse_override)
    dagster = str(Path(sys.executable).parent / "dagster")
    click.echo(f"Dagster UI on http://{host}:{port} (instance in {settings.dagster_home})")
    os.execv(dagster, [dagster, "dev", "-m", "orchestration.definitions", "--host", host, "--port", str(port)])
