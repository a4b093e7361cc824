"""The dbt project as assets: staging, intermediate and marts, with dbt tests as asset checks."""

import json

import dagster as dg
from dagster_dbt import DbtCliResource, DbtProject, dbt_assets

from orchestration.dbt_project import MODEL_LAYERS, dbt_environ, dbt_vars, prepare_manifest
from orchestration.metadata import tables_metadata
from orchestration.partitions import PARTITIONED
from orchestration.resources import WarehouseResource
from orchestration.translator import LayeredDbtTranslator


class DbtBuildConfig(dg.Config):
    # Rebuild the marts as of this day (YYYY-MM-DD); None: the last purchase day in the data.
    as_of_date: str | None = None


def build_dbt_assets(project: DbtProject) -> dg.AssetsDefinition:
    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        dagster_dbt_translator=LayeredDbtTranslator(),
        name="dbt_models",
        **PARTITIONED,
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
        # The code location parsed the project for its own tenant; another tenant's schema names
        # need their own parse state, or dbt parses the whole project again on every build.
        prepare_manifest(settings)
        with warehouse.warehouse().build_workspace(MODEL_LAYERS) as workspace:
            with dbt_environ(settings, workspace):
                variables = json.dumps(dbt_vars(settings, config.as_of_date))
                invocation = dbt.cli(["build", "--vars", variables], context=context, raise_on_error=False)
                events = list(invocation.stream())
            if not invocation.is_successful():
                failures = _failures(invocation.get_artifact("run_results.json"))
                yield from (event for event in events if isinstance(event, dg.AssetCheckResult))
                raise dg.Failure(
                    description="dbt build failed; nothing was published:\n" + "\n".join(f"- {f}" for f in failures),
                    metadata={"failures": dg.MetadataValue.json(failures)},
                    allow_retries=False,
                )
            workspace.publish()
        built = [
            tuple(context.asset_key_for_output(event.output_name).path)
            for event in events
            if isinstance(event, dg.Output)
        ]
        described = tables_metadata(settings, built)
        for event in events:
            if isinstance(event, dg.Output):
                key = tuple(context.asset_key_for_output(event.output_name).path)
                yield dg.Output(
                    value=None, output_name=event.output_name, metadata={**event.metadata, **described[key]}
                )
            else:
                yield event

    return dbt_models


def _failures(run_results: dict) -> list[str]:
    """One line per model that did not build or test that did not pass, with its failing rows."""
    failures = []
    for result in run_results.get("results", []):
        if result.get("status") in ("error", "fail", "runtime error"):
            name = result.get("unique_id", "?").split(".", 2)[-1]
            message = (result.get("message") or "").strip() or result.get("status")
            rows = result.get("failures")
            failures.append(f"{name}: {message}" + (f" ({rows} failing rows)" if rows else ""))
    return failures
