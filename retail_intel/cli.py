"""``retail-intel``: the platform's command line.

Exit codes: 0 success; 1 a build, a data test or a quality gate failed; 2 bad input (a raw
file, an option) or the warehouse is busy. A failed step publishes nothing, and nothing
after it runs.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click

from retail_intel.settings import LAYERS, TARGETS, Settings


def _fail(message: str, code: int) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Root of all state (warehouse, dbt logs, later MLflow and Dagster). Env: RETAIL_INTEL_HOME.",
)
@click.option(
    "--tenant", default=None, help="Tenant (client) id; each has its own data and warehouse. Env: RETAIL_INTEL_TENANT."
)
@click.pass_context
def main(ctx: click.Context, home: Path | None, tenant: str | None) -> None:
    """Retail intelligence platform: raw Olist orders to tested marts."""
    try:
        ctx.obj = Settings.from_env(home=home, tenant_id=tenant)
    except ValueError as error:
        _fail(str(error), 2)


@main.command()
@click.option("--orders", type=click.IntRange(min=1), default=10_000, show_default=True, help="Number of orders.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder to write the nine CSV files into.",
)
@click.option(
    "--seed", type=int, default=42, show_default=True, help="Random seed; the same seed gives identical files."
)
@click.option(
    "--repeat-rate",
    type=click.FloatRange(0, 1, max_open=True),
    default=0.03,
    show_default=True,
    help="Share of customers (people) who order more than once.",
)
@click.option(
    "--messy-rate",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="Multiplier on Olist-like rates of quirky records (0 = clean).",
)
def generate(orders: int, out_dir: Path, seed: int, repeat_rate: float, messy_rate: float) -> None:
    """Write a synthetic data set in the Olist Kaggle format."""
    from retail_intel.generator import GeneratorConfig
    from retail_intel.generator import generate as generate_files

    started = time.perf_counter()
    config = GeneratorConfig(orders=orders, seed=seed, repeat_rate=repeat_rate, messy_rate=messy_rate)
    counts = generate_files(config, out_dir)
    for file_name, rows in counts.items():
        click.echo(f"  {file_name:<42} {rows:>10,} rows")
    click.echo(f"Wrote {len(counts)} files to {out_dir.resolve()} in {time.perf_counter() - started:.1f}s")


@main.command()
@click.option(
    "--raw-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder with the nine Olist CSV files. Default: the sample shipped with the package.",
)
@click.option(
    "--target",
    type=click.Choice(TARGETS),
    default=None,
    help="Warehouse: duckdb (default, one file) or postgres (PG* environment variables).",
)
@click.option(
    "--warehouse",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="DuckDB file to publish to. Default: <home>/tenants/<tenant>/warehouse.duckdb.",
)
@click.option(
    "--as-of-date",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Build the marts as of this day (later orders ignored). Default: the last purchase day.",
)
@click.option(
    "--horizon",
    type=click.IntRange(1, 365),
    default=30,
    show_default=True,
    help="Days of revenue to forecast, from the day after the last day of data.",
)
@click.option(
    "--top-k", type=click.IntRange(1, 100), default=10, show_default=True, help="Recommendations per customer."
)
@click.option(
    "--include-bought",
    is_flag=True,
    default=False,
    help="Let recommendations include products the customer already bought (excluded by default).",
)
@click.pass_obj
def run(
    settings: Settings, raw_dir, target, warehouse, as_of_date, horizon: int, top_k: int, include_bought: bool
) -> None:
    """Materialize the whole asset graph: raw files, quality gates, dbt marts, score tables."""
    from orchestration.runner import run_graph
    from retail_intel.warehouse import WarehouseBusyError, summarize, tenant_lock

    changes = {"raw_dir_override": raw_dir, "target": target, "warehouse_override": warehouse}
    settings = settings.with_(**{key: value for key, value in changes.items() if value})
    if settings.uses_shipped_sample:
        click.echo("No --raw-dir given: using the sample data shipped with the package.")
    click.echo(f"Materializing every asset for tenant {settings.tenant_id!r} from {settings.raw_dir}")
    started = time.perf_counter()
    try:
        with tenant_lock(settings):
            report = run_graph(
                settings,
                as_of_date=as_of_date.date() if as_of_date else None,
                horizon=horizon,
                top_k=top_k,
                exclude_bought=not include_bought,
                log=click.echo,
            )
    except WarehouseBusyError as error:
        _fail(str(error), 2)
    checks = f"{report.passed_checks} checks passed"
    if report.warned_checks:
        checks += f", {len(report.warned_checks)} warnings"
    click.echo(f"{len(report.materialized)} assets materialized, {checks}")
    if not report.success:
        failures = "\n".join(report.failures) or "see the Dagster run log"
        _fail(
            f"the run failed:\n{failures}\n"
            f"Not materialized in this run: {_by_layer(report.not_run)}\n"
            "Nothing was published by the failed step or after it; those tables are unchanged.",
            2 if report.bad_input else 1,
        )
    click.echo(summarize(settings).render())
    report = settings.tenant_dir / "reports" / "model_report.md"
    if report.exists():
        click.echo("")
        click.echo(report.read_text())
        click.echo(f"(report: {report}; table: {settings.schema('ml')}.model_metrics)")
    click.echo(f"Done in {time.perf_counter() - started:.1f}s")


def _by_layer(asset_names: list[str]) -> str:
    """'raw: a, b; marts: c', layers in pipeline order."""
    order = [*LAYERS, "ml", "serving"]
    layers: dict[str, list[str]] = {}
    for name in asset_names:
        layer, _, table = name.partition("/")
        layers.setdefault(layer, []).append(table)
    ranked = sorted(layers.items(), key=lambda item: order.index(item[0]) if item[0] in order else len(order))
    return "; ".join(f"{layer}: {', '.join(tables)}" for layer, tables in ranked) or "nothing"


@main.command()
@click.option("--port", type=int, default=3000, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.pass_obj
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
    dagster = str(Path(sys.executable).parent / "dagster")
    click.echo(f"Dagster UI on http://{host}:{port} (instance in {settings.dagster_home})")
    os.execv(dagster, [dagster, "dev", "-m", "orchestration.definitions", "--host", host, "--port", str(port)])


MODELS = ("revenue_forecast", "customer_segmenter", "recommender")


def _registry(settings: Settings):
    from ml.registry import ModelRegistry

    settings.tenant_dir.mkdir(parents=True, exist_ok=True)
    return ModelRegistry(settings.mlflow_tracking_uri, artifact_root=settings.mlflow_artifact_root)


@main.group()
def models() -> None:
    """List the tenant's model versions; freeze, unfreeze, promote and roll back champions."""


@models.command("list")
@click.pass_obj
def models_list(settings: Settings) -> None:
    """Every version of the tenant's models with its aliases and last promotion decision."""
    listing = _registry(settings).versions()
    listing = listing[listing["model"].str.startswith(f"{settings.tenant_id}.")]
    if listing.empty:
        click.echo(f"No model versions yet for tenant {settings.tenant_id!r} (MLflow: {settings.mlflow_tracking_uri}).")
        return
    click.echo(listing.drop(columns="run_id").to_string(index=False))


def _model_action(action: str, help_text: str, with_version: bool = False):
    @click.argument("model", type=click.Choice(MODELS))
    @click.pass_obj
    def command(settings: Settings, model: str, version: str | None = None) -> None:
        from ml.registry import RegistryError

        registry = _registry(settings)
        name = settings.registered_model_name(model)
        try:
            if action == "promote":
                registry.promote(name, version)
                click.echo(f"{name}: version {version} is now the champion")
            elif action == "rollback":
                click.echo(f"{name}: version {registry.rollback(name)} is the champion again")
            else:
                getattr(registry, action)(name)
                click.echo(f"{name}: {action}d")
        except RegistryError as error:
            _fail(str(error), 2)

    command.__doc__ = help_text
    if with_version:
        command = click.argument("version")(command)
    return models.command(action)(command)


_model_action("freeze", "Keep serving the current champion; no promotion until unfrozen.")
_model_action("unfreeze", "Allow promotions again.")
_model_action("promote", "Make VERSION the champion (a person's decision, recorded on the version).", with_version=True)
_model_action("rollback", "Make the previous champion the champion again.")


if __name__ == "__main__":
    main()
