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
@click.option(
    "--yes",
    is_flag=True,
    default=False,
    help="Replace the tenant's published tables even when they were built from another raw folder.",
)
@click.option(
    "--all-tenants",
    is_flag=True,
    default=False,
    help="Run every active tenant of the registry, one after another, each from its registered raw folder.",
)
# Set by the supervising command on the process that does the work (see supervisor.py).
@click.option("--run-id", default=None, hidden=True)
@click.pass_obj
@warehouse_options
def run(
    settings: Settings,
    raw_dir,
    as_of_date,
    horizon: int,
    top_k: int,
    include_bought: bool,
    yes: bool,
    all_tenants: bool,
    run_id: str | None,
) -> None:
    """Materialize the whole asset graph: raw files, quality gates, dbt marts, score tables.

    Without --raw-dir it reads the tenant's registered raw folder (`tenants add`), else the
    shipped sample; --raw-dir becomes the tenant's folder. SIGTERM or SIGINT stops it within
    seconds: each table is then as before or wholly new."""
    if all_tenants:
        if raw_dir or yes:
            fail("--all-tenants runs each tenant from its registered folder: it takes neither --raw-dir nor --yes", 2)
        from apps.cli.run_all import run_all_tenants

        options = ["--horizon", str(horizon), "--top-k", str(top_k)]
        options += ["--as-of-date", f"{as_of_date:%Y-%m-%d}"] if as_of_date else []
        options += ["--include-bought"] if include_bought else []
        run_all_tenants(settings, options)
        return
    if raw_dir:
        settings = settings.with_(raw_dir_override=raw_dir)
    if run_id is None:
        from retail_intel.tenants import TenantError

        try:
            _register_raw_folder(settings, given=raw_dir is not None, yes=yes)
        except TenantError as error:  # e.g. --warehouse names another tenant's file
            fail(str(error), 2)
        _supervise_run(settings, as_of_date, horizon, top_k, include_bought)
    from apps.cli.progress import terminal_progress
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
            progress=terminal_progress(),
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


def _register_raw_folder(settings: Settings, *, given: bool, yes: bool) -> None:
    """Register the tenant on its first run; say so, and ask, before tables published from one
    raw folder are replaced by another folder's; record a --raw-dir as the tenant's folder."""
    from ml.registry import current_user
    from retail_intel.tenants import TenantRegistry

    registry = TenantRegistry.of(settings)
    tenant = registry.get(settings.tenant_id)
    folder = settings.raw_dir_override
    if tenant is None:
        registry.add(settings.tenant_id, raw_dir=folder, warehouse=settings.warehouse_override, by=current_user())
        click.echo(f"Registered tenant {settings.tenant_id!r} with raw folder {folder or 'the shipped sample'}.")
        return
    published = tenant.published_raw_dir
    if published is not None and published != settings.raw_dir.resolve():
        message = (
            f"tenant {settings.tenant_id!r}'s published tables were built from {published} "
            f"(at {tenant.published_at}); this run reads {settings.raw_dir} and replaces them"
        )
        if yes:
            click.echo(f"Note: {message}.")
        elif sys.stdin.isatty():
            click.confirm(f"{message[0].upper()}{message[1:]}. Go on?", abort=True)
        else:
            fail(f"{message}. Nothing was changed; pass --yes to replace them.", 2)
    if given and folder is not None and tenant.raw_dir != folder:
        registry.set_raw_dir(settings.tenant_id, folder, by=current_user())
        click.echo(f"Tenant {settings.tenant_id!r}'s raw folder is now {folder} (the sensor and the schedule read it).")


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
        from retail_intel.tenants import TenantRegistry
        from retail_intel.warehouse import warehouse_for

        name = signal.Signals(signum).name
        warehouse_for(settings).discard_unpublished()
        published = cancel_run(settings, run_id, f"stopped by {name}")
        TenantRegistry.of(settings).record_run(
            settings.tenant_id,
            run_id,
            status="canceled",
            failed_checks=0,
            first_failure=f"stopped by {name}",
            champions={},
        )
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
