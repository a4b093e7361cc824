"""``retail-intel score``: coupon targeting from the published recommendations (see apps/activation.py)."""

from __future__ import annotations

from pathlib import Path

import click

from apps.cli.options import fail, warehouse_options
from retail_intel.settings import Settings


@click.command()
@click.option(
    "--high-visibility", type=click.FloatRange(0, 1), default=None, help="Band threshold (rules file's by default)."
)
@click.option("--coupon", type=click.FloatRange(0, 1), default=None, help="Band threshold (rules file's by default).")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Campaign CSV. Default: <home>/tenants/<tenant>/campaigns/coupon_targets_<date>.csv.",
)
@click.pass_obj
@warehouse_options
def score(settings: Settings, high_visibility: float | None, coupon: float | None, out: Path | None) -> None:
    """Coupon targeting: write ml.coupon_targets and a campaign CSV, and summarise the bands."""
    from datetime import date

    from apps.activation import RecommendationsMissing, run_campaign, with_bands
    from apps.rules import RulesError, load_rules
    from retail_intel.switch import OFF, EngineSwitch
    from retail_intel.warehouse import warehouse_for

    engine = EngineSwitch(settings.engine_switch_path).current()
    if engine.state == OFF:
        fail(f"the recommendation engine is off (set by {engine.changed_by} at {engine.changed_at}): nothing scored", 1)
    try:
        rules = with_bands(load_rules(settings.rules_path), high_visibility=high_visibility, coupon=coupon)
    except (RulesError, ValueError) as error:
        fail(str(error), 2)
    out = out or settings.campaigns_dir / f"coupon_targets_{date.today().isoformat()}.csv"
    from ml.experiments.serving import plan_of
    from retail_intel.experiments import ExperimentStore

    running = ExperimentStore(settings.experiments_path).running()
    plan = plan_of(running) if running else None
    try:
        result = run_campaign(warehouse_for(settings), rules, out, plan, settings.tenant_id)
    except RecommendationsMissing as error:
        fail(str(error), 1)
    if result.held_out:
        click.echo(f"{result.held_out:,} customers held out: experiment {running.name} serves them another list")
    click.echo(f"ml.coupon_targets: {len(result.targets):,} customers (engine {engine.state}, rules {rules.version})")
    if result.without_items:
        click.echo(f"{result.without_items:,} customers had no item left after the business rules")
    click.echo("\n" + result.summary.to_string(index=False, float_format=lambda value: f"{value:.4g}"))
    click.echo(
        "\nexpected_purchases sums the calibrated probabilities: purchases of the recommended item within "
        "30 days, given that the customer buys something then."
    )
    click.echo("Thresholds that would target the most likely customers instead:")
    click.echo(result.suggestions.to_string(index=False, float_format=lambda value: f"{value:.4g}"))
    click.echo(
        f"\nCampaign file ({len(result.campaign):,} customers in the coupon and high-visibility bands): {result.path}"
    )
