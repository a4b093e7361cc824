"""``retail-intel experiments``: the tenant's online experiments, audited like the engine switch.

create, list, status, advance (start, then raise the rollout stage by stage: 10%, 25%, 50%,
100%), stop, analyze (the readout from the serving events: orchestration/experiments.py),
promote (a finished experiment's winning version becomes the champion through the registry),
size (customers per arm for the effect worth detecting, decided before the start) and replay
(offline interleaving of two arms on the clicks logged so far).
Serving follows the running experiment by itself (apps/experiment_serving.py).
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


def _unknown_versions(settings: Settings, arms: dict[str, float]) -> list[str]:
    """The version arms that the tenant's registry does not hold (strategies are not versions)."""
    from retail_intel.experiments import STRATEGIES

    versions = [arm for arm in arms if arm not in STRATEGIES]
    if not versions:
        return []
    from orchestration.lineage import registry_for

    model = settings.registered_model_name("recommender")
    known = {f"{model}/{version}" for version in registry_for(settings).versions(model)["version"]}
    return [arm for arm in versions if arm not in known]


@experiments.command("create")
@click.argument("name")
@click.option("--kind", type=click.Choice(["ab", "bandit", "interleaving"]), default="ab", show_default=True)
@click.option(
    "--arm", "arms", multiple=True, required=True, help="A model version or strategy, e.g. acme.recommender/3=1."
)
@click.option(
    "--primary",
    type=click.Choice(["revenue_14d", "conversion", "click_rate"]),
    default="revenue_14d",
    show_default=True,
    help="Primary metric (A/B): per customer over the horizon after their first exposure.",
)
@click.option("--guardrail", "guardrails", multiple=True, help="Guardrail metric (repeatable).")
@click.option("--horizon-days", type=click.IntRange(1, 365), default=14, show_default=True)
@click.option(
    "--planned-per-arm",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="Customers per arm (interleaving: decided impressions) before the verdict is read; see `size`.",
)
@click.option("--by", default=None, help="Who (default: the user running the command).")
@click.pass_obj
def create(settings: Settings, name, kind, arms, primary, guardrails, horizon_days, planned_per_arm, by) -> None:
    """Create experiment NAME as a draft (nobody is in it until `advance`)."""
    from retail_intel.experiments import ExperimentError

    unknown = _unknown_versions(settings, _arms(arms))
    if unknown:
        fail(f"no such version of {settings.registered_model_name('recommender')}: {', '.join(unknown)}", 2)
    try:
        experiment = _store(settings).create(
            name,
            kind,
            _arms(arms),
            primary_metric=primary,
            guardrails=list(guardrails),
            horizon_days=horizon_days,
            planned_per_arm=planned_per_arm,
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


@experiments.command("analyze")
@click.argument("name")
@click.pass_obj
def analyze(settings: Settings, name: str) -> None:
    """Read NAME out from the serving events: per arm, and the verdict of the rule fixed up front."""
    from orchestration.experiments import readouts
    from retail_intel.experiments import ExperimentError
    from retail_intel.warehouse import WarehouseBusyError

    try:
        found = readouts(settings, [name])
    except ExperimentError as error:
        fail(str(error), 2)
    except WarehouseBusyError as error:
        fail(f"{error}; stop the service or read the results table monitoring.experiment_results", 2)
    if not found:
        fail(f"{name} has not started: `retail-intel experiments advance {name}`", 2)
    experiment, readout = found[0].experiment, found[0].readout
    as_of = "" if readout.as_of is None else f", events to {readout.as_of}"
    click.echo(f"{experiment.name}: {experiment.kind}, {experiment.status} at {experiment.rollout:.0%}{as_of}")
    shown = readout.table.drop(columns=["experiment", "kind"]).dropna(axis=1, how="all")
    click.echo(shown.to_string(index=False, float_format=lambda value: f"{value:.4g}"))
    if readout.srm_p_value is not None:
        click.echo(f"sample ratio check: p = {readout.srm_p_value:.3g} (below 0.001 stops the readout)")
    click.echo(f"verdict: {readout.reason}" + (f" -> winner {readout.winner}" if readout.winner else ""))


@experiments.command("promote")
@click.argument("name")
@click.option("--by", default=None)
@click.pass_obj
def promote(settings: Settings, name: str, by: str | None) -> None:
    """Make stopped experiment NAME's winning model version the champion (a freeze still applies)."""
    from ml.registry import current_user
    from orchestration.experiments import PromotionRefused, promote_winner
    from retail_intel.experiments import ExperimentError
    from retail_intel.warehouse import WarehouseBusyError

    try:
        click.echo(promote_winner(settings, name, by=by or current_user()))
    except (PromotionRefused, ExperimentError, WarehouseBusyError) as error:
        fail(str(error), 2)


@experiments.command("size")
@click.option("--baseline-rate", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=None)
@click.option("--lift", type=float, default=None, help="Absolute change of the rate worth detecting.")
@click.option("--std", type=click.FloatRange(0, min_open=True), default=None, help="Std of revenue per customer.")
@click.option("--effect", type=float, default=None, help="Difference in mean revenue per customer worth detecting.")
@click.option("--alpha", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.05, show_default=True)
@click.option("--power", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.8, show_default=True)
def size(baseline_rate, lift, std, effect, alpha, power) -> None:
    """Customers per arm for a rate (--baseline-rate, --lift) or a mean (--std, --effect)."""
    from ml.experiments.analysis import sample_size_means, sample_size_proportions

    try:
        if baseline_rate is not None and lift is not None:
            needed = sample_size_proportions(baseline_rate, lift, alpha, power)
        elif std is not None and effect is not None:
            needed = sample_size_means(std, effect, alpha, power)
        else:
            fail("give --baseline-rate and --lift (a rate) or --std and --effect (a mean)", 2)
    except ValueError as error:
        fail(str(error), 2)
    click.echo(f"{needed:,} customers per arm (two-sided, alpha {alpha:g}, power {power:g})")


@experiments.command("replay")
@click.option("--arm", "arms", multiple=True, required=True, help="Two arms: a model version or a strategy.")
@click.option("--k", "top_k", type=click.IntRange(1, 100), default=10, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the team draft's coins.")
@click.pass_obj
def replay_logged(settings: Settings, arms: tuple[str, ...], top_k: int, seed: int) -> None:
    """Offline interleaving of two arms on the clicks logged so far (a screen before an online test)."""
    from datetime import datetime

    import numpy as np

    from apps.experiment_serving import published_arms
    from ml.experiments.interleaving import replay
    from ml.experiments.serving import Plan
    from retail_intel.events import EventStore
    from retail_intel.experiments import STRATEGIES
    from retail_intel.warehouse import WarehouseBusyError, warehouse_for

    if len(arms) != 2 or len(set(arms)) != 2:
        fail("give two different arms: --arm A --arm B", 2)
    odd = [arm for arm in arms if arm not in STRATEGIES and "/" not in arm]
    if odd:
        fail(f"an arm is a model version <registered name>/<version> or one of {', '.join(STRATEGIES)}", 2)
    warehouse = warehouse_for(settings)
    if not warehouse.exists("ml", "recommendations"):
        fail(f"{settings.tenant_id} has no published ml.recommendations: run first", 2)
    try:
        store = EventStore(settings)
    except WarehouseBusyError as error:
        fail(f"{error}; stop the service to replay its events", 2)
    try:
        clicks = store.since(datetime(1970, 1, 1))
    finally:
        store.close()
    clicks = clicks.loc[(clicks["event_type"] == "click") & clicks["customer_unique_id"].notna()]
    if clicks.empty:
        fail("no click logged yet: nothing to replay", 2)
    plan = Plan("replay", "interleaving", dict.fromkeys(arms, 1.0), "replay", 1.0)
    try:
        sources = published_arms(settings, plan, warehouse.read("ml", "recommendations"))
    except ValueError as error:
        fail(str(error), 2)
    by_visit = clicks.groupby(["customer_unique_id", "request_id"])["product_id"].agg(set)
    visits = [(customer, products) for (customer, _), products in by_visit.items()]
    first, second = (sources[arm].lists for arm in arms)
    result = replay(visits, first, second, top_k, np.random.default_rng(seed))
    click.echo(
        f"{len(visits):,} logged visits with a click: {result.wins_a} wins for {arms[0]}, {result.wins_b} for "
        f"{arms[1]}, {result.ties} ties; preference {result.delta:+.3f}, p = {result.p_value:.3g}"
    )
    click.echo("A screen, not a verdict: logged clicks favour the arm closest to the lists that were served.")
