"""``retail-intel experiments``: the tenant's online experiments, audited like the engine switch.

Serving by assignment and ``analyze`` come with the rest of #16; these commands keep the
experiments themselves: create, list, status, advance (start, then raise the rollout stage by
stage: 10%, 25%, 50%, 100%) and stop.
"""

from __future__ import annotations

import click

from apps.cli.options import fail
from retail_intel.settings import Settings


@click.group()
def experiments() -> None:
    """Online experiments over model versions: A/B tests, bandits, interleaving."""


def _store(settings: Settings):
    from retail_intel.experiments import ExperimentStore

    return ExperimentStore(settings.experiments_path)


def _arms(values: tuple[str, ...]) -> dict[str, float]:
    """``version[=weight]`` -> {arm: weight}."""
    arms: dict[str, float] = {}
    for value in values:
        name, _, weight = value.partition("=")
        try:
            arms[name] = float(weight) if weight else 1.0
        except ValueError:
            fail(f"--arm {value!r}: the weight after '=' must be a number", 2)
    return arms


@experiments.command("create")
@click.argument("name")
@click.option("--kind", type=click.Choice(["ab", "bandit", "interleaving"]), default="ab", show_default=True)
@click.option(
    "--arm", "arms", multiple=True, required=True, help="A model version or strategy, e.g. acme.recommender/3=1."
)
@click.option("--primary", default="revenue_14d", show_default=True, help="Primary metric.")
@click.option("--guardrail", "guardrails", multiple=True, help="Guardrail metric (repeatable).")
@click.option("--horizon-days", type=click.IntRange(1, 365), default=14, show_default=True)
@click.option("--by", default=None, help="Who (default: the user running the command).")
@click.pass_obj
def create(settings: Settings, name, kind, arms, primary, guardrails, horizon_days, by) -> None:
    """Create experiment NAME as a draft (nobody is in it until `advance`)."""
    from retail_intel.experiments import ExperimentError

    try:
        experiment = _store(settings).create(
            name,
            kind,
            _arms(arms),
            primary_metric=primary,
            guardrails=list(guardrails),
            horizon_days=horizon_days,
            by=by,
        )
    except ExperimentError as error:
        fail(str(error), 2)
    click.echo(f"experiment {experiment.name}: {experiment.kind} over {', '.join(experiment.arms)} (draft)")


@experiments.command("list")
@click.pass_obj
def list_experiments(settings: Settings) -> None:
    """Every experiment of the tenant."""
    rows = _store(settings).list()
    if not rows:
        click.echo("no experiment")
    for experiment in rows:
        click.echo(
            f"{experiment.name:<24} {experiment.kind:<13} {experiment.status:<8} {experiment.rollout:>5.0%}  "
            f"{', '.join(f'{arm}={weight:g}' for arm, weight in experiment.arms.items())}"
        )


@experiments.command("status")
@click.argument("name")
@click.pass_obj
def status(settings: Settings, name: str) -> None:
    """One experiment and its audit log."""
    from retail_intel.experiments import ExperimentError

    store = _store(settings)
    try:
        experiment = store.get(name)
    except ExperimentError as error:
        fail(str(error), 2)
    click.echo(
        f"{experiment.name}: {experiment.kind}, {experiment.status}, rollout {experiment.rollout:.0%}, primary "
        f"{experiment.primary_metric}, horizon {experiment.horizon_days} days"
    )
    for entry in store.audit(name):
        click.echo(f"  {entry['at']}  {entry['by']:<16} {entry['action']:<8} {entry['detail']}")


@experiments.command("advance")
@click.argument("name")
@click.option("--to", "to", type=click.FloatRange(0, 1, min_open=True), default=None, help="Rollout share (0-1].")
@click.option("--by", default=None)
@click.pass_obj
def advance(settings: Settings, name: str, to: float | None, by: str | None) -> None:
    """Start NAME, or raise its rollout to the next stage (10%, 25%, 50%, 100%)."""
    from retail_intel.experiments import ExperimentError

    try:
        experiment = _store(settings).advance(name, to, by=by)
    except ExperimentError as error:
        fail(str(error), 2)
    click.echo(f"experiment {experiment.name}: running at {experiment.rollout:.0%}")


@experiments.command("stop")
@click.argument("name")
@click.option("--reason", default="", help="Why; kept in the audit log.")
@click.option("--by", default=None)
@click.pass_obj
def stop(settings: Settings, name: str, reason: str, by: str | None) -> None:
    """Stop NAME: nobody is assigned to it any more."""
    from retail_intel.experiments import ExperimentError

    try:
        experiment = _store(settings).stop(name, by=by, reason=reason)
    except ExperimentError as error:
        fail(str(error), 2)
    click.echo(f"experiment {experiment.name}: stopped")
