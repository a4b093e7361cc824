"""A/B analysis with the rule stated up front: a fixed horizon.

The sample size is computed before the experiment from the smallest effect worth detecting
(``sample_size_*``); the verdict is read once, when every arm has it. Reading a p-value every
day and stopping at the first below 0.05 would call a winner between two equal arms far more
often than 5% of the time; ``verdict`` therefore refuses to call one before the horizon.

- ``difference_in_means``: Welch's difference of two arms' means (revenue per customer) with
  its confidence interval;
- ``difference_in_proportions``: conversion or click-through, normal interval;
- ``sample_ratio_mismatch``: chi-square of the arms' counts against their planned weights; a
  p-value below 0.001 means the assignment or the logging is broken and no figure is to be
  trusted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

SRM_P_VALUE = 0.001


@dataclass(frozen=True)
class Difference:
    estimate: float  # treatment minus control
    low: float
    high: float
    p_value: float
    control_n: int
    treatment_n: int


def difference_in_means(control: Sequence[float], treatment: Sequence[float], level: float = 0.95) -> Difference:
    a, b = np.asarray(control, dtype=float), np.asarray(treatment, dtype=float)
    if len(a) < 2 or len(b) < 2:
        raise ValueError("each arm needs at least two customers")
    var_a, var_b = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = float(np.sqrt(var_a + var_b))
    estimate = float(b.mean() - a.mean())
    if se == 0:
        return Difference(estimate, estimate, estimate, 1.0 if estimate == 0 else 0.0, len(a), len(b))
    # Welch-Satterthwaite degrees of freedom.
    dof = (var_a + var_b) ** 2 / (var_a**2 / (len(a) - 1) + var_b**2 / (len(b) - 1))
    quantile = stats.t.ppf(0.5 + level / 2, dof)
    p_value = float(2 * stats.t.sf(abs(estimate) / se, dof))
    return Difference(estimate, estimate - quantile * se, estimate + quantile * se, p_value, len(a), len(b))


def difference_in_proportions(
    control_successes: int, control_n: int, treatment_successes: int, treatment_n: int, level: float = 0.95
) -> Difference:
    if control_n <= 0 or treatment_n <= 0:
        raise ValueError("each arm needs at least one customer")
    p_a, p_b = control_successes / control_n, treatment_successes / treatment_n
    estimate = p_b - p_a
    se = np.sqrt(p_a * (1 - p_a) / control_n + p_b * (1 - p_b) / treatment_n)
    pooled = (control_successes + treatment_successes) / (control_n + treatment_n)
    se_null = np.sqrt(pooled * (1 - pooled) * (1 / control_n + 1 / treatment_n))
    p_value = 1.0 if se_null == 0 else float(2 * stats.norm.sf(abs(estimate) / se_null))
    quantile = stats.norm.ppf(0.5 + level / 2)
    return Difference(
        float(estimate),
        float(estimate - quantile * se),
        float(estimate + quantile * se),
        p_value,
        control_n,
        treatment_n,
    )


def sample_ratio_mismatch(counts: Sequence[int], weights: Sequence[float]) -> float:
    """p-value of the arms' customer counts against their planned shares."""
    observed = np.asarray(counts, dtype=float)
    shares = np.asarray(weights, dtype=float) / float(np.sum(weights))
    if len(observed) != len(shares) or len(observed) < 2:
        raise ValueError("one count and one weight per arm, at least two arms")
    if observed.sum() == 0:
        return 1.0
    return float(stats.chisquare(observed, shares * observed.sum()).pvalue)


def sample_size_proportions(baseline: float, lift: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Customers per arm to detect a change of ``lift`` (absolute) from a ``baseline`` rate with a
    two-sided test at ``alpha`` and the given power."""
    treated = baseline + lift
    if not (0 < baseline < 1 and 0 < treated < 1) or lift == 0:
        raise ValueError("baseline and baseline + lift must lie strictly between 0 and 1, lift not 0")
    z_alpha, z_power = stats.norm.ppf(1 - alpha / 2), stats.norm.ppf(power)
    mean = (baseline + treated) / 2
    numerator = z_alpha * np.sqrt(2 * mean * (1 - mean)) + z_power * np.sqrt(
        baseline * (1 - baseline) + treated * (1 - treated)
    )
    return int(np.ceil(numerator**2 / lift**2))


def sample_size_means(std: float, effect: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Customers per arm to detect a difference of ``effect`` in means of a metric whose standard
    deviation is ``std`` (e.g. revenue per customer in the 14 days after exposure)."""
    if std <= 0 or effect == 0:
        raise ValueError("std must be positive and effect not 0")
    z_alpha, z_power = stats.norm.ppf(1 - alpha / 2), stats.norm.ppf(power)
    return int(np.ceil(2 * ((z_alpha + z_power) * std / effect) ** 2))


@dataclass(frozen=True)
class Verdict:
    decided: bool
    winner: str | None  # "treatment", "control" or None (no significant difference)
    reason: str


def verdict(difference: Difference, planned_per_arm: int, srm_p_value: float, alpha: float = 0.05) -> Verdict:
    """The fixed-horizon reading: nothing before every arm has its planned customers, nothing
    at all when the sample ratio is off."""
    if srm_p_value < SRM_P_VALUE:
        return Verdict(
            False, None, f"sample ratio mismatch (p = {srm_p_value:.2g}): the assignment or logging is broken"
        )
    reached = min(difference.control_n, difference.treatment_n)
    if reached < planned_per_arm:
        return Verdict(False, None, f"{reached} of the {planned_per_arm} customers per arm planned: not read yet")
    if difference.p_value >= alpha:
        return Verdict(True, None, f"no significant difference (p = {difference.p_value:.3f})")
    winner = "treatment" if difference.estimate > 0 else "control"
    return Verdict(True, winner, f"{winner} is better (p = {difference.p_value:.3g})")
