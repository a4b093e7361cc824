"""A known truth for comparing experiment methods: two rankers over one catalogue, users who
click by an item's attractiveness, its position and how much they click at all.

Items have an attractiveness (Beta(1, 12): most items are rarely clicked); ranker A orders them
by attractiveness with a little noise, ranker B with more (``noise_b``), so A is better. A user
has an activity level (log-normal with mean 1: most click little, a few a lot) and clicks the
item at position r with probability activity x attractiveness / log2(r + 1). The activity is
what makes A/B tests slow: it differs from user to user and lands in one arm or the other,
while an interleaved list shows both rankers to the same user.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ml.experiments.analysis import difference_in_means
from ml.experiments.interleaving import credit, preference, team_draft


@dataclass(frozen=True)
class RankerTruth:
    attractiveness: np.ndarray
    a: list[int]
    b: list[int]


def ranker_truth(seed: int, noise_b: float, items: int = 60, k: int = 10) -> RankerTruth:
    rng = np.random.default_rng(seed)
    attractiveness = rng.beta(1.0, 12.0, items)
    a = np.argsort(-(attractiveness + rng.normal(0, 0.003, items)))[:k]
    b = np.argsort(-(attractiveness + rng.normal(0, noise_b, items)))[:k]
    return RankerTruth(attractiveness, a.tolist(), b.tolist())


def clicks(items: Sequence[int], attractiveness: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Positions the user clicks."""
    activity = rng.lognormal(-0.98, 1.4)  # mean exp(-0.98 + 1.4**2 / 2) = 1
    examine = 1 / np.log2(np.arange(2, len(items) + 2))
    return np.flatnonzero(rng.random(len(items)) < activity * attractiveness[list(items)] * examine)


def ab_p_value(truth: RankerTruth, impressions: int, seed: int) -> float:
    """Half the impressions see A, half B; clicks per impression compared (Welch)."""
    rng = np.random.default_rng(seed)
    per_a = [len(clicks(truth.a, truth.attractiveness, rng)) for _ in range(impressions // 2)]
    per_b = [len(clicks(truth.b, truth.attractiveness, rng)) for _ in range(impressions // 2)]
    return difference_in_means(per_a, per_b).p_value


def interleaving_p_value(truth: RankerTruth, impressions: int, seed: int, k: int = 10) -> float:
    """Every impression sees A and B team-drafted; the sign test on the winners."""
    rng = np.random.default_rng(seed)
    winners = []
    for _ in range(impressions):
        shown, teams = team_draft(truth.a, truth.b, k, rng)
        winners.append(credit(teams, clicks(shown, truth.attractiveness, rng)))
    return preference(winners).p_value


GRID = (250, 500, 1000, 2000, 4000, 8000, 16000, 32000)


def impressions_needed(
    p_value: Callable[[RankerTruth, int, int], float], noise_b: float, seeds: Sequence[int], power: float = 0.8
) -> int | None:
    """The fewest impressions of GRID at which ``power`` of the seeds reach p < 0.05 (each seed
    its own catalogue and users), or None beyond the grid."""
    for impressions in GRID:
        reached = [p_value(ranker_truth(seed, noise_b), impressions, seed + 1) < 0.05 for seed in seeds]
        if np.mean(reached) >= power:
            return impressions
    return None
