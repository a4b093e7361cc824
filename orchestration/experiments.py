"""A tenant's experiments read out from its event store: what `retail-intel experiments analyze`
prints and the asset monitoring/experiment_results writes, computed one way."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ml.experiments.readout import COLUMNS, Readout, read_out
from ml.experiments.serving import plan_of
from retail_intel.events import EventStore
from retail_intel.experiments import DRAFT, Experiment, ExperimentStore
from retail_intel.settings import Settings

RESULTS_TABLE = ("monitoring", "experiment_results")
RESULT_COLUMNS = (*COLUMNS, "status", "rollout", "decided", "winner", "verdict", "srm_p_value", "as_of")


@dataclass(frozen=True)
class ExperimentReadout:
    experiment: Experiment
    readout: Readout


def readouts(settings: Settings, names: list[str] | None = None, as_of: pd.Timestamp | None = None) -> list:
    """Every started experiment of the tenant (or those named), read out from its events.
    WarehouseBusyError when the running service holds the events file (DuckDB)."""
    if not names and not settings.experiments_path.exists():
        return []  # no experiment ever: no store file made for nothing
    store = ExperimentStore(settings.experiments_path)
    chosen = [store.get(name) for name in names] if names else store.list()
    started = [experiment for experiment in chosen if experiment.status != DRAFT]
    if not started:
        return []
    store = EventStore(settings)
    try:
        # One read for all of them: each readout picks its own exposures and what they led to.
        events = store.of_experiments([experiment.name for experiment in started])
    finally:
        store.close()
    found = []
    for experiment in started:
        readout = read_out(
            plan_of(experiment),
            events,
            primary_metric=experiment.primary_metric,
            horizon_days=experiment.horizon_days,
            planned_per_arm=experiment.planned_per_arm,
            as_of=as_of,
        )
        found.append(ExperimentReadout(experiment, readout))
    return found


def results_table(found: list[ExperimentReadout]) -> pd.DataFrame:
    """One row per experiment and arm, with the experiment's verdict on each of its rows."""
    frames = [
        item.readout.table.assign(
            status=item.experiment.status,
            rollout=item.experiment.rollout,
            decided=item.readout.decided,
            winner=item.readout.winner,
            verdict=item.readout.reason,
            srm_p_value=item.readout.srm_p_value,
            as_of=item.readout.as_of,
        )
        for item in found
    ]
    if not frames:
        return pd.DataFrame(columns=list(RESULT_COLUMNS))
    return pd.concat(frames, ignore_index=True)[list(RESULT_COLUMNS)]


class PromotionRefused(ValueError):
    """The experiment cannot promote a version; the message says why."""


def promote_winner(settings: Settings, name: str, *, by: str) -> str:
    """Make a finished experiment's winning model version the champion, through the registry
    (a frozen model or a frozen engine refuses it, as for any promotion), and record it on the
    version and in the experiment's audit. Returns what was done."""
    from ml.registry import RegistryError
    from orchestration.lineage import registry_for
    from retail_intel.experiments import STOPPED, STRATEGIES
    from retail_intel.switch import FROZEN, EngineSwitch

    experiment = ExperimentStore(settings.experiments_path).get(name)
    if experiment.status != STOPPED:
        raise PromotionRefused(f"{name} is {experiment.status}: stop it before its winner is promoted")
    (found,) = readouts(settings, [name])
    readout = found.readout
    if not readout.decided or readout.winner is None:
        raise PromotionRefused(f"{name} has no winner: {readout.reason}")
    winner = readout.winner
    if winner in STRATEGIES:
        raise PromotionRefused(f"{name} was won by the strategy {winner!r}, which is not a model version")
    switch = EngineSwitch(settings.engine_switch_path).current()
    if switch.state == FROZEN:
        raise PromotionRefused(f"the engine is frozen (by {switch.changed_by} at {switch.changed_at})")
    model, _, version = winner.rpartition("/")
    if model != settings.registered_model_name("recommender"):
        raise PromotionRefused(f"{winner} is not a version of {settings.registered_model_name('recommender')}")
    registry = registry_for(settings)
    try:
        if registry.version_for(model, "champion") == version:
            done = f"{winner} is the champion already"
        else:
            registry.promote(model, version, by=by)
            done = f"{winner} is now the champion"
        registry.tag(
            model,
            version,
            {"experiment.name": name, "experiment.kind": experiment.kind, "experiment.verdict": readout.reason},
        )
    except RegistryError as error:
        raise PromotionRefused(str(error)) from None
    ExperimentStore(settings.experiments_path).record(name, "promote", f"{done}: {readout.reason}", by=by)
    return done
