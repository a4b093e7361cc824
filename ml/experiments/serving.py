"""What a customer in a running experiment is shown, and which arm each shown item counts for.

One function for every place that serves lists (the HTTP service's precomputed and real-time
endpoints, the batch scorer, the feedback simulator), so that an experiment means the same
wherever a list comes from:

- ``ab``: the customer's sticky arm (``assign``); outside the rollout share, no experiment;
- ``bandit``: inside the rollout share, the arm the bandit draws for this request;
- ``interleaving``: inside the rollout share, the two arms' lists team-drafted; each item
  counts for the arm that contributed it.

``lists(arm)`` gives an arm's ranked products for this customer (a model version's list, a
strategy's, or nothing); the caller maps products back to its own rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ml.experiments.assignment import Arm, assign
from ml.experiments.bandit import DiscountedThompson
from ml.experiments.interleaving import TEAM_A, team_draft


@dataclass(frozen=True)
class Plan:
    """The parts of an experiment that serving needs."""

    name: str
    kind: str  # ab, bandit, interleaving
    arms: dict[str, float]  # arm -> weight, in the order created (the first is the control)
    salt: str
    rollout: float


def plan_of(experiment) -> Plan:
    """The serving part of a stored experiment (retail_intel.experiments.Experiment)."""
    return Plan(experiment.name, experiment.kind, experiment.arms, experiment.salt, experiment.rollout)


@dataclass(frozen=True)
class Exposure:
    experiment: str
    arm: str  # the arm served; for interleaving "<A>+<B>"
    products: list[str]
    teams: list[str]  # per shown product, the arm it counts for


def serve(
    plan: Plan,
    tenant: str,
    customer: str,
    lists: Callable[[str], Sequence[str]],
    k: int,
    rng: np.random.Generator,
    bandit: DiscountedThompson | None = None,
) -> Exposure | None:
    """The customer's list in ``plan``, or None when they are outside it (serve the champion)."""
    arms = [Arm(name, weight) for name, weight in plan.arms.items()]
    placed = assign(tenant, customer, plan.salt, arms, plan.rollout)
    if placed is None:
        return None
    if plan.kind == "ab":
        products = list(lists(placed))[:k]
        return Exposure(plan.name, placed, products, [placed] * len(products))
    if plan.kind == "bandit":
        if bandit is None:
            raise ValueError(f"{plan.name} is a bandit: serving it needs the bandit's state")
        chosen = bandit.choose(rng)
        products = list(lists(chosen))[:k]
        return Exposure(plan.name, chosen, products, [chosen] * len(products))
    if plan.kind == "interleaving":
        first, second = list(plan.arms)
        products, teams = team_draft(lists(first), lists(second), k, rng)
        named = [first if team == TEAM_A else second for team in teams]
        return Exposure(plan.name, f"{first}+{second}", products, named)
    raise ValueError(f"unknown experiment kind {plan.kind!r}")
