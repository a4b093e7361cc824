"""A bandit over model versions that forgets: Thompson sampling with discounting.

Each arm (a model version, or a strategy such as popularity) keeps a Beta posterior of its
reward rate (a click or a purchase per served list). Before each update every arm's evidence
is multiplied by ``discount`` (0.999 forgets half of it in about 700 steps), so an arm that was
best last month but is not today loses its lead; with probability ``floor`` an arm is chosen
uniformly, so even a written-off arm is tried now and then and its comeback can be seen.

The state is a small dict (``to_dict``/``from_dict``) that the service keeps per tenant.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

# What rewards a served list: a click on one of its items, or a purchase of one (the list led to it).
REWARD_EVENTS = ("click", "purchase")


@dataclass
class DiscountedThompson:
    arms: list[str]
    discount: float = 0.999
    floor: float = 0.02
    successes: np.ndarray = field(default=None)  # type: ignore[assignment]
    failures: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if len(self.arms) < 2 or len(set(self.arms)) != len(self.arms):
            raise ValueError("a bandit needs at least two distinct arms")
        if not 0 < self.discount <= 1 or not 0 <= self.floor < 1:
            raise ValueError(f"discount must lie in (0, 1] and floor in [0, 1), got {self.discount}, {self.floor}")
        size = len(self.arms)
        self.successes = np.zeros(size) if self.successes is None else np.asarray(self.successes, dtype=float)
        self.failures = np.zeros(size) if self.failures is None else np.asarray(self.failures, dtype=float)

    def choose(self, rng: np.random.Generator) -> str:
        if rng.random() < self.floor:
            return self.arms[int(rng.integers(len(self.arms)))]
        draws = rng.beta(1.0 + self.successes, 1.0 + self.failures)
        return self.arms[int(np.argmax(draws))]

    def update(self, arm: str, reward: float) -> None:
        if not 0 <= reward <= 1:
            raise ValueError(f"a reward is a share between 0 and 1, got {reward}")
        index = self.arms.index(arm)
        self.successes *= self.discount
        self.failures *= self.discount
        self.successes[index] += reward
        self.failures[index] += 1 - reward

    @classmethod
    def replayed(
        cls, arms: Sequence[str], outcomes: Iterable[tuple[str, float]], discount: float = 0.999, floor: float = 0.02
    ) -> DiscountedThompson:
        """The state after ``outcomes`` ((arm, reward) per served list, oldest first): what a
        service rebuilds from its logged exposures and clicks, so that a restart loses nothing
        and a reward that arrives after later requests still counts where it belongs."""
        bandit = cls(list(arms), discount, floor)
        for arm, reward in outcomes:
            if arm in bandit.arms:  # an arm dropped from the experiment keeps no evidence
                bandit.update(arm, reward)
        return bandit

    def best_probability(self, rng: np.random.Generator, draws: int = 10_000) -> dict[str, float]:
        """Each arm's posterior probability of being the best (Monte Carlo over the Beta posteriors)."""
        samples = rng.beta(1.0 + self.successes, 1.0 + self.failures, size=(draws, len(self.arms)))
        wins = np.bincount(samples.argmax(axis=1), minlength=len(self.arms)) / draws
        return dict(zip(self.arms, wins.tolist(), strict=True))

    def means(self) -> dict[str, float]:
        """Each arm's posterior mean reward."""
        means = (1.0 + self.successes) / (2.0 + self.successes + self.failures)
        return dict(zip(self.arms, means.tolist(), strict=True))

    def to_dict(self) -> dict[str, object]:
        return {
            "arms": list(self.arms),
            "discount": self.discount,
            "floor": self.floor,
            "successes": self.successes.tolist(),
            "failures": self.failures.tolist(),
        }

    @classmethod
    def from_dict(cls, state: dict[str, object]) -> DiscountedThompson:
        return cls(**state)  # type: ignore[arg-type]


@dataclass(frozen=True)
class RegretRun:
    regret: float  # expected reward lost against always serving the best arm of the moment
    fixed_split_regret: float  # the same for an equal fixed split over the arms
    best_arm_share: list[float]  # share of steps on the best arm, per phase


def simulate_regret(
    bandit: DiscountedThompson,
    rates: Callable[[int], Sequence[float]],
    steps: int,
    phases: Sequence[int],
    seed: int = 0,
) -> RegretRun:
    """Runs ``bandit`` for ``steps`` against Bernoulli rewards whose true rates at step t are
    ``rates(t)`` (one per arm); ``phases`` are the steps where the truth changes (their best-arm
    shares are reported separately)."""
    rng = np.random.default_rng(seed)
    regret = fixed = 0.0
    bounds = [0, *phases, steps]
    on_best = np.zeros(len(bounds) - 1)
    for step in range(steps):
        truth = np.asarray(rates(step), dtype=float)
        arm = bandit.choose(rng)
        index = bandit.arms.index(arm)
        bandit.update(arm, float(rng.random() < truth[index]))
        regret += truth.max() - truth[index]
        fixed += truth.max() - truth.mean()
        phase = int(np.searchsorted(bounds, step, side="right")) - 1
        on_best[phase] += index == int(np.argmax(truth))
    lengths = np.diff(bounds)
    return RegretRun(float(regret), float(fixed), (on_best / lengths).tolist())
