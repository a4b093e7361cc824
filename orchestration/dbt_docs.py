"""dbt's documentation site for a tenant's warehouse: every model, column, test and the lineage
graph, with the catalog (types and row counts) read from the tenant's published warehouse."""

from __future__ import annotations

import json
from pathlib import Path

from orchestration.dbt_project import dbt_cli, dbt_environ, dbt_vars
from retail_intel.settings import Settings
from retail_intel.warehouse import warehouse_for
from retail_intel.warehouse.lock import tenant_lock

SITE_FILES = ("index.html", "manifest.json", "catalog.json")


def docs_dir(settings: Settings) -> Path:
    return settings.tenant_dir / "dbt_docs"


def generate_docs(settings: Settings) -> Path:
    """`dbt docs generate` against the tenant's warehouse; the folder holding the site.
    RuntimeError with dbt's message when it fails (no warehouse built yet, for one)."""
    warehouse = warehouse_for(settings)
    if not warehouse.exists("marts", "orders"):
        raise RuntimeError(f"tenant {settings.tenant_id} has no marts yet")
    out = docs_dir(settings)
    out.mkdir(parents=True, exist_ok=True)
    # dbt reads the catalog where it builds: a build workspace (on DuckDB a copy of the published
    # file), under the tenant's run lock so that no run is building there meanwhile; nothing is
    # published, and the workspace is cleared afterwards.
    with tenant_lock(settings):
        try:
            with warehouse.build_workspace(()) as workspace, dbt_environ(settings, workspace):
                arguments = ["docs", "generate", "--vars", json.dumps(dbt_vars(settings))]
                invocation = dbt_cli(settings).cli(arguments, target_path=out, raise_on_error=False)
                succeeded = invocation.is_successful()  # reads dbt's output without echoing it
        finally:
            warehouse.discard_unpublished()
    missing = [name for name in SITE_FILES if not (out / name).exists()]
    if not succeeded or missing:
        raise RuntimeError(f"dbt docs generate failed for tenant {settings.tenant_id}: {invocation.get_error()}")
    return out
