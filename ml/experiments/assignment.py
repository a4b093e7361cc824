"""Sticky, staged assignment of customers to an experiment's arms.

A customer's place in an experiment is two numbers in [0, 1) drawn from SHA-256 of (tenant,
customer, salt): the first decides whether they are in the experiment at the current rollout
share, the second which arm. Both are fixed for the experiment's life, so raising the rollout
from 10% to 25% only adds customers (everyone in at 10% stays in, in the same arm), and a
customer's arm never changes between requests, processes or days. Another experiment has
another salt, hence independent draws.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

_SCALE = float(2**64)


def _uniform(tenant: str, customer: str, salt: str, purpose: str) -> float:
    digest = hashlib.sha256(f"{tenant}\x1f{customer}\x1f{salt}\x1f{purpose}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


@dataclass(frozen=True)
class Arm:
    name: str
    weight: float

    def __post_init__(self) -> None:
        if not self.name or self.weight <= 0:
            raise ValueError(f"an arm needs a name and a positive weight, got {self.name!r} {self.weight!r}")


def assign(tenant: str, customer: str, salt: str, arms: Sequence[Arm], rollout: float) -> str | None:
    """The customer's arm, or None when they are outside the experiment's current ``rollout``
    share (0 to 1). Arms split the experiment's customers by their weights."""
    if not 0 <= rollout <= 1:
        raise ValueError(f"rollout is a share between 0 and 1, got {rollout}")
    if not arms or len({arm.name for arm in arms}) != len(arms):
        raise ValueError("an experiment needs arms with distinct names")
    if _uniform(tenant, customer, salt, "in") >= rollout:
        return None
    draw = _uniform(tenant, customer, salt, "arm") * sum(arm.weight for arm in arms)
    for arm in arms:
        draw -= arm.weight
        if draw < 0:
            return arm.name
    return arms[-1].name  # rounding at the top end
