"""``retail-intel monitor``: the tenant's monitoring state, as the operator reads it at a glance."""

from __future__ import annotations

import click

from apps.cli.options import warehouse_options
from retail_intel.settings import Settings


@click.command()
@click.option(
    "--api",
    "api_url",
    default=None,
    help="The running service's base URL (e.g. http://127.0.0.1:8000): checks its p99 latency and server errors.",
)
@click.pass_obj
@warehouse_options
def monitor(settings: Settings, api_url: str | None) -> None:
    """The last run, the open alerts, the latest data-drift figures and the thresholds in use;
    with --api, the service's p99 latency and error rate against the tenant's thresholds (a
    breach is alerted like a failed check)."""
    from retail_intel.alerts import AlertLedger
    from retail_intel.tenants import TenantRegistry
    from retail_intel.warehouse import warehouse_for

    tenant = settings.tenant_id
    click.echo(f"tenant {tenant}; thresholds from {settings.monitoring_config_path}")
    if api_url:
        _check_api(settings, api_url)
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


def _check_api(settings: Settings, api_url: str) -> None:
    """Measured before the open alerts are listed, so that a breach found now is among them."""
    from apps.cli.api_health import read_api_health
    from apps.cli.options import fail
    from orchestration.alerting import sinks_for
    from retail_intel.alerts import AlertLedger, CheckOutcome, notify
    from retail_intel.monitoring_config import thresholds_for

    try:
        health = read_api_health(api_url)
    except OSError as error:
        fail(f"cannot read {api_url.rstrip('/')}/metrics: {error}", 1)
    limits = thresholds_for(settings)["api"]
    figures = (
        ("api_p99_latency_ms", health.p99_ms, limits["p99_latency_ms_alert"]),
        ("api_error_rate", health.error_rate, limits["error_rate_alert"]),
    )
    outcomes = []
    for check, figure, threshold in figures:
        if figure is None:
            click.echo(f"{check:<22} no request served yet")
            continue
        passed = figure <= threshold
        click.echo(f"{check:<22} {figure:.4g} (alert above {threshold:.4g}) {'ok' if passed else 'ALERT'}")
        outcomes.append(CheckOutcome(settings.tenant_id, check, passed, figure, threshold, detail=api_url))
    click.echo(f"{'api_requests':<22} {health.requests:,} since the service started")
    notify(outcomes, sinks_for(settings), AlertLedger(settings.alert_ledger_path))
