"""``retail-intel run``: the whole asset graph, in a child process that a stop signal kills."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from apps.cli.options import fail, warehouse_options
from retail_intel.settings import LAYERS, Settings


@click.command()
@click.option(
    "--raw-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder with the nine Olist CSV files. Default: the sample shipped with the package.",
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
# Set by the supervising command on the process that does the work (see supervisor.py).
@click.option("--run-id", default=None, hidden=True)
@click.pass_obj
@warehouse_options
def run(
    settings: Settings, raw_dir, as_of_date, horizon: int, top_k: int, include_bought: bool, run_id: str | None
) -> None:
    """Materialize the whole asset graph: raw files, quality gates, dbt marts, score tables.

    SIGTERM or SIGINT stops it within seconds: each table is then as before or wholly new."""
    if raw_dir:
        settings = settings.with_(raw_dir_override=raw_dir)
    if run_id is None:
        _supervise_run(settings, as_of_date, horizon, top_k, include_bought)
    from orchestration.runner import run_graph
    from retail_intel.warehouse import WarehouseBusyError, warehouse_for

    if settings.uses_shipped_sample:
        click.echo("No --raw-dir given: using the sample data shipped with the package.")
    click.echo(f"Materializing every asset for tenant {settings.tenant_id!r} from {settings.raw_dir}")
    started = time.perf_counter()
    try:
        report = run_graph(
            settings,
            as_of_date=as_of_date.date() if as_of_date else None,
            horizon=horizon,
            top_k=top_k,
            exclude_bought=not include_bought,
            run_id=run_id,
            log=click.echo,
        )
    except WarehouseBusyError as error:
        fail(str(error), 2)
    checks = f"{report.passed_checks} checks passed"
    if report.warned_checks:
        checks += f", {len(report.warned_checks)} warnings"
    click.echo(f"{len(report.materialized)} assets materialized, {checks}")
    if not report.success:
        failures = "\n".join(report.failures) or "see the Dagster run log"
        fail(
            f"the run failed:\n{failures}\n"
            f"Not materialized in this run: {_by_layer(report.not_run)}\n"
            "Nothing was published by the failed step or after it; those tables are unchanged.",
            2 if report.bad_input else 1,
        )
    warehouse = warehouse_for(settings)
    click.echo(warehouse.summarize().render())
    report = settings.tenant_dir / "reports" / "model_report.md"
    if report.exists():
        click.echo("")
        click.echo(report.read_text())
        click.echo(f"(report: {report}; table: {warehouse.schema('ml')}.model_metrics)")
    click.echo(f"Done in {time.perf_counter() - started:.1f}s")


def _supervise_run(settings: Settings, as_of_date, horizon: int, top_k: int, include_bought: bool) -> None:
    """This command again, in a child process that a stop signal kills (see supervisor.py); exits with its code."""
    import uuid

    from apps.supervisor import supervise

    run_id = str(uuid.uuid4())
    command = [sys.executable, "-m", "apps.cli", "--home", str(settings.home), "--tenant", settings.tenant_id]
    command += ["run", "--run-id", run_id, "--target", settings.target]
    command += ["--horizon", str(horizon), "--top-k", str(top_k)]
    if settings.raw_dir_override:
        command += ["--raw-dir", str(settings.raw_dir_override)]
    if settings.warehouse_override:
        command += ["--warehouse", str(settings.warehouse_override)]
    if as_of_date:
        command += ["--as-of-date", f"{as_of_date:%Y-%m-%d}"]
    if include_bought:
        command.append("--include-bought")

    def stopped(signum: int) -> None:
        import signal

        from orchestration.runner import cancel_run
        from retail_intel.warehouse import warehouse_for

        name = signal.Signals(signum).name
        warehouse_for(settings).discard_unpublished()
        published = cancel_run(settings, run_id, f"stopped by {name}")
        click.echo(
            f"error: stopped by {name}; Dagster run {run_id} canceled. Each table is as it was or wholly new: "
            f"published before the stop: {_by_layer(published)}. The build copies were removed; "
            "the next run needs no clean-up.",
            err=True,
        )

    sys.exit(supervise(command, stopped))


def _by_layer(asset_names: list[str]) -> str:
    """'raw: a, b; marts: c', layers in pipeline order."""
    order = [*LAYERS, "ml", "serving"]
    layers: dict[str, list[str]] = {}
    for name in asset_names:
        layer, _, table = name.partition("/")
        layers.setdefault(layer, []).append(table)
    ranked = sorted(layers.items(), key=lambda item: order.index(item[0]) if item[0] in order else len(order))
    return "; ".join(f"{layer}: {', '.join(tables)}" for layer, tables in ranked) or "nothing"
