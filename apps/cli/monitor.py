"""``retail-intel monitor``: the tenant's monitoring state, as the operator reads it at a glance."""

from __future__ import annotations

import click
import pandas as pd

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
    from retail_intel.monitoring_config import thresholds_for
    from retail_intel.tenants import TenantRegistry
    from retail_intel.warehouse import warehouse_for

    tenant = settings.tenant_id
    click.echo(f"tenant {tenant}; thresholds from {settings.monitoring_config_path}")
    if api_url:
        _check_api(settings, api_url)
    registry = TenantRegistry.of(settings)
    run = registry.last_runs().get(tenant)
    if run is None:
        click.echo("last run       none recorded")
    else:
        failed = f", {run['failed_checks']} failed checks" if run["failed_checks"] else ""
        click.echo(f"last run       {run['finished_at']} {run['status']}{failed}")
        _scores_freshness(settings, registry.last_success(tenant))

    breaches = sorted(check for _, check in AlertLedger(settings.alert_ledger_path).open_breaches([tenant]))
    click.echo(f"open alerts    {len(breaches) or 'none'}")
    for check in breaches:
        click.echo(f"  {check}")

    warehouse = warehouse_for(settings)
    _model_health(warehouse)
    _recommender(warehouse, thresholds_for(settings)["recommender"])
    _drift(warehouse)


def _scores_freshness(settings: Settings, last_success: str | None) -> None:
    """The score tables are as old as the last successful run: alerted (once per breach) above
    the tenant's freshness.scores_alert_hours, like a failed check; measured before the open
    alerts are listed, so that a breach found now is among them."""
    from datetime import UTC, datetime

    from orchestration.alerting import sinks_for
    from retail_intel.alerts import AlertLedger, CheckOutcome, notify
    from retail_intel.monitoring_config import thresholds_for

    limit = thresholds_for(settings)["freshness"]["scores_alert_hours"]
    if last_success is None:
        click.echo("score tables   never published by a successful run")
        hours, passed = None, False
    else:
        hours = (datetime.now(UTC) - datetime.fromisoformat(last_success)).total_seconds() / 3600
        passed = hours <= limit
        state = "ok" if passed else "ALERT"
        click.echo(f"score tables   {hours:.1f} h old (alert above {limit:g} h) {state}")
    outcome = CheckOutcome(settings.tenant_id, "scores_freshness", passed, hours, limit, detail=last_success or "")
    notify([outcome], sinks_for(settings), AlertLedger(settings.alert_ledger_path))


def _model_health(warehouse) -> None:
    if not warehouse.exists("monitoring", "model_health"):
        click.echo("model health   not measured yet (monitoring/model_health runs with every `retail-intel run`)")
        return
    health = warehouse.read("monitoring", "model_health")
    latest = health.loc[health["checked_at"] == health["checked_at"].max()].sort_values("check_name")
    click.echo(f"model health   run of {latest['checked_at'].iloc[0]:%Y-%m-%d %H:%M}")
    for row in latest.itertuples():
        figure = "-" if pd.isna(row.figure) else f"{row.figure:.4g}"
        threshold = "" if pd.isna(row.threshold) else f" (threshold {row.threshold:.4g})"
        promised = "" if pd.isna(row.expected) else f", promised {row.expected:.4g}"
        click.echo(f"  {row.check_name:<20} {'ok' if row.passed else 'ALERT':<8} {figure}{threshold}{promised}")


def _recommender(warehouse, limits: dict[str, float]) -> None:
    if not warehouse.exists("monitoring", "recommender_health"):
        return
    table = warehouse.read("monitoring", "recommender_health")
    latest = table.loc[table["measured_at"] == table["measured_at"].max()]
    if latest.empty:
        return
    first = latest.iloc[0]
    click.echo(f"recommender    lists as of {first['lists_as_of']:%Y-%m-%d} measured to {first['window_end']:%Y-%m-%d}")
    for row in latest.itertuples():
        if pd.notna(row.hit_rate):
            promised = "" if pd.isna(row.promised_hit_rate) else f", promised {row.promised_hit_rate:.3f}"
            baseline = "" if pd.isna(row.baseline_hit_rate) else f", popularity {row.baseline_hit_rate:.3f}"
            judged = "" if row.customers >= limits["min_customers"] else " (too few to judge)"
            click.echo(
                f"  {row.model_version}: HR@10 {row.hit_rate:.3f} (95% {row.hit_rate_low:.3f} to "
                f"{row.hit_rate_high:.3f}) on {int(row.customers)} customers{judged}{promised}{baseline}"
            )
        if pd.notna(row.impressions) and row.impressions > 0:
            click.echo(
                f"  {row.model_version}: {int(row.impressions):,} impressions, click-through "
                f"{row.click_through_rate:.2%}, purchases per impression {row.purchase_rate:.2%}, "
                f"revenue per impression {row.revenue_per_impression:.2f}"
            )


def _drift(warehouse) -> None:
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
            f"  {row.feature:<26} {flag:<8} {row.test} {row.statistic:.4g} (threshold {row.threshold:.4g}), "
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
