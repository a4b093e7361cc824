"""``retail-intel monitor``: the tenant's monitoring state, as the operator reads it at a glance."""

from __future__ import annotations

import click

from apps.cli.options import warehouse_options
from retail_intel.settings import Settings


@click.command()
@click.pass_obj
@warehouse_options
def monitor(settings: Settings) -> None:
    """The last run, the open alerts, the latest data-drift figures and the thresholds in use."""
    from retail_intel.alerts import AlertLedger
    from retail_intel.tenants import TenantRegistry
    from retail_intel.warehouse import warehouse_for

    tenant = settings.tenant_id
    click.echo(f"tenant {tenant}; thresholds from {settings.monitoring_config_path}")
    run = TenantRegistry.of(settings).last_runs().get(tenant)
    if run is None:
        click.echo("last run       none recorded")
    else:
        failed = f", {run['failed_checks']} failed checks" if run["failed_checks"] else ""
        click.echo(f"last run       {run['finished_at']} {run['status']}{failed}")

    breaches = sorted(check for _, check in AlertLedger(settings.alert_ledger_path).open_breaches([tenant]))
    click.echo(f"open alerts    {len(breaches) or 'none'}")
    for check in breaches:
        click.echo(f"  {check}")

    warehouse = warehouse_for(settings)
    if not warehouse.exists("monitoring", "drift"):
        click.echo("data drift     not measured yet (the monitoring/drift asset runs with every `retail-intel run`)")
        return
    drift = warehouse.read("monitoring", "drift")
    latest = drift.loc[drift["measured_at"] == drift["measured_at"].max()]
    first = latest.iloc[0]
    verdict = "DRIFTED" if bool(first["dataset_drifted"]) else "no drift"
    click.echo(
        f"data drift     {verdict}: {first['share_drifted']:.0%} of features; orders {first['current_start']} to "
        f"{first['as_of']} against {first['reference_start']} to {first['current_start']} "
        f"(measured {first['measured_at']:%Y-%m-%d %H:%M})"
    )
    for row in latest.itertuples():
        flag = "drifted" if row.drifted else "ok"
        click.echo(
            f"  {row.feature:<20} {flag:<8} {row.test} {row.statistic:.4g} (threshold {row.threshold:.4g}), "
            f"PSI {row.psi:.3f}"
        )
