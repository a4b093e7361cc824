"""The dbt project as assets: staging, intermediate and marts, with dbt tests as asset checks."""

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
from dagster_dbt import DbtCliResource, DbtProject, dbt_assets

from orchestration.dbt_project import MODEL_LAYERS, dbt_build_vars
from orchestration.metadata import table_metadata
from orchestration.resources import WarehouseResource
from orchestration.translator import LayeredDbtTranslator
from retail_intel.dbt_runner import failures_from_run_results
from retail_intel.warehouse import BuildWorkspace


@contextmanager
def _environ(**values: str) -> Iterator[None]:
    """dagster-dbt hands its own environment to dbt; the DuckDB profile reads its path from it."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class DbtBuildConfig(dg.Config):
    # Rebuild the marts as of this day (YYYY-MM-DD); None: the last purchase day in the data.
    as_of_date: str | None = None


def build_dbt_assets(project: DbtProject) -> dg.AssetsDefinition:
    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        dagster_dbt_translator=LayeredDbtTranslator(),
        name="dbt_models",
    )
    def dbt_models(
        context: dg.AssetExecutionContext, config: DbtBuildConfig, dbt: DbtCliResource, warehouse: WarehouseResource
    ):
        """Build and test the selected dbt models in a workspace; publish only if all passed.

        Events are held back until the publish, so the UI never shows as materialized a
        table that readers cannot see. On failure the failing tests are reported as failed
        asset checks, nothing is published, and nothing downstream runs.
        """
        settings = warehouse.settings()
        with BuildWorkspace(settings, layers=MODEL_LAYERS) as workspace:
            duckdb_path = {"RETAIL_INTEL_DUCKDB_PATH": str(workspace.duckdb_path)} if workspace.duckdb_path else {}
            with _environ(**duckdb_path, DBT_USE_COLORS="false", DO_NOT_TRACK="1"):
                dbt_vars = dbt_build_vars(settings)
                if config.as_of_date:
                    dbt_vars["as_of_date"] = config.as_of_date
                invocation = dbt.cli(["build", "--vars", json.dumps(dbt_vars)], context=context, raise_on_error=False)
                events = list(invocation.stream())
            if not invocation.is_successful():
                failures = failures_from_run_results(invocation.get_artifact("run_results.json"))[0]
                yield from (event for event in events if isinstance(event, dg.AssetCheckResult))
                raise dg.Failure(
                    description="dbt build failed; nothing was published:\n" + "\n".join(f"- {f}" for f in failures),
                    metadata={"failures": dg.MetadataValue.json(failures)},
                    allow_retries=False,
                )
            workspace.publish()
        for event in events:
            if isinstance(event, dg.Output):
                layer, name = context.asset_key_for_output(event.output_name).path
                yield dg.Output(
                    value=None,
                    output_name=event.output_name,
                    metadata={**event.metadata, **table_metadata(settings, layer, name)},
                )
            else:
                yield event

    return dbt_models
