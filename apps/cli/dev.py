"""``retail-intel dev``: the Dagster UI on this tenant's assets."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from apps.cli.options import warehouse_options
from retail_intel.settings import Settings


@click.command()
@click.option("--port", type=int, default=3000, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.pass_obj
@warehouse_options
def dev(settings: Settings, port: int, host: str) -> None:
    """Open the Dagster UI on this tenant's assets, checks, schedule and sensor."""
    from orchestration.dbt_project import prepare_manifest
    from orchestration.runner import prepare_dagster_home

    prepare_manifest(settings)
    prepare_dagster_home(settings)
    os.environ.update(
        RETAIL_INTEL_HOME=str(settings.home),
        RETAIL_INTEL_TENANT=settings.tenant_id,
        RETAIL_INTEL_TARGET=settings.target,
    )
    if settings.raw_dir_override:
        os.environ["RETAIL_INTEL_RAW_DIR"] = str(settings.raw_dir_override)
    if settings.warehouse_override:
        os.environ["RETAIL_INTEL_WAREHOUSE"] = str(settings.warehouse_override)
    dagster = str(Path(sys.executable).parent / "dagster")
    click.echo(f"Dagster UI on http://{host}:{port} (instance in {settings.dagster_home})")
    os.execv(dagster, [dagster, "dev", "-m", "orchestration.definitions", "--host", host, "--port", str(port)])
