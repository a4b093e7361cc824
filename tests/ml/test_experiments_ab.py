"""A/B assignment and analysis with known truth (#16 item 2, the statistics)."""

from collections import Counter

import numpy as np
import pytest

from ml.experiments.analysis import (
    difference_in_means,
    difference_in_proportions,
    sample_ratio_mismatch,
    sample_size_means,
    sample_size_proportions,
    verdict,
)
from ml.experiments.assignment import Arm, assign

ARMS = (Arm("control", 1), Arm("treatment", 1))
CUSTOMERS = [f"c{i}" for i in range(20_000)]


def test_assignment_is_sticky_splits_by_weight_and_a_wider_rollout_only_adds_customers():
    at_10 = {c: assign("acme", c, "exp-1", ARMS, 0.10) for c in CUSTOMERS}
    at_25 = {c: assign("acme", c, "exp-1", ARMS, 0.25) for c in CUSTOMERS}
    inside_10 = {c for c, arm in at_10.items() if arm}
    assert 0.09 < len(inside_10) / len(CUSTOMERS) < 0.11
    assert all(at_25[c] == at_10[c] for c in inside_10)  # same customers, same arms
    assert 0.24 < sum(1 for arm in at_25.values() if arm) / len(CUSTOMERS) < 0.26
    assert at_10 == {c: assign("acme", c, "exp-1", ARMS, 0.10) for c in CUSTOMERS}
    split = Counter(arm for arm in at_25.values() if arm)
    assert abs(split["control"] - split["treatment"]) / sum(split.values()) < 0.05
    weighted = Counter(assign("acme", c, "exp-1", (Arm("a", 9), Arm("b", 1)), 1.0) for c in CUSTOMERS)
    assert 0.08 < weighted["b"] / len(CUSTOMERS) < 0.12


def test_another_salt_or_tenant_draws_independently():
    first = [assign("acme", c, "exp-1", ARMS, 1.0) for c in CUSTOMERS[:4000]]
    other_salt = [assign("acme", c, "exp-2", ARMS, 1.0) for c in CUSTOMERS[:4000]]
    other_tenant = [assign("globex", c, "exp-1", ARMS, 1.0) for c in CUSTOMERS[:4000]]
    for other in (other_salt, other_tenant):
        agreement = np.mean([a == b for a, b in zip(first, other, strict=True)])
        assert 0.46 < agreement < 0.54


def test_bad_arms_and_rollouts_are_refused():
    with pytest.raises(ValueError, match="distinct names"):
        assign("acme", "c", "s", (Arm("a", 1), Arm("a", 1)), 0.5)
    with pytest.raises(ValueError, match="rollout"):
        assign("acme", "c", "s", ARMS, 1.5)
    with pytest.raises(ValueError, match="positive weight"):
        Arm("a", 0)


def test_a_known_lift_is_found_within_its_interval():
    rng = np.random.default_rng(0)
    control, treatment = rng.gamma(2.0, 50.0, 4000), rng.gamma(2.0, 50.0, 4000) + 10.0
    difference = difference_in_means(control, treatment)
    assert difference.low < 10.0 < difference.high and difference.p_value < 0.001
    rates = difference_in_proportions(400, 4000, 520, 4000)
    assert rates.low < 0.03 < rates.high and rates.p_value < 0.001


def test_equal_arms_call_a_winner_at_about_the_stated_error_rate_over_repeated_seeds():
    planned = sample_size_proportions(0.10, 0.02)
    winners = 0
    for seed in range(400):
        rng = np.random.default_rng(seed)
        a, b = rng.binomial(1, 0.10, planned), rng.binomial(1, 0.10, planned)
        read = verdict(difference_in_proportions(a.sum(), planned, b.sum(), planned), planned, 1.0)
        winners += read.winner is not None
    # alpha 0.05: about 20 of 400; the binomial 99.9% range is 7 to 36.
    assert 7 <= winners <= 36


def test_the_planned_sample_size_gives_the_planned_power():
    planned = sample_size_proportions(0.10, 0.02)
    assert 3500 < planned < 4000  # the textbook figure for 10% -> 12% is about 3,840
    found = 0
    for seed in range(200):
        rng = np.random.default_rng(1000 + seed)
        a, b = rng.binomial(1, 0.10, planned), rng.binomial(1, 0.12, planned)
        found += difference_in_proportions(a.sum(), planned, b.sum(), planned).p_value < 0.05
    assert 0.72 < found / 200 < 0.88
    assert sample_size_means(std=100.0, effect=10.0) == 1570


def test_no_verdict_before_the_horizon_nor_with_a_sample_ratio_mismatch():
    early = difference_in_proportions(10, 100, 30, 100)
    assert not verdict(early, planned_per_arm=1000, srm_p_value=1.0).decided
    assert sample_ratio_mismatch([5000, 5000], [1, 1]) > 0.5
    broken = sample_ratio_mismatch([5000, 4600], [1, 1])
    assert broken < 0.001
    full = difference_in_proportions(100, 1000, 300, 1000)
    read = verdict(full, planned_per_arm=1000, srm_p_value=broken)
    assert not read.decided and "sample ratio mismatch" in read.reason
    assert verdict(full, planned_per_arm=1000, srm_p_value=0.5).winner == "treatment"
