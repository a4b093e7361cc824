"""The bandit and interleaving with known truth (#16 items 3 and 4, the methods): the bandit
finds the better version, and finds it again after the truth flips, losing less than a fixed
split; interleaving tells a better ranker from a worse one with fewer impressions than an A/B
test on the same users, and calls equal rankers different at about the stated rate."""

import numpy as np
import pytest

from ml.experiments.bandit import DiscountedThompson, simulate_regret
from ml.experiments.interleaving import TEAM_A, TEAM_B, credit, preference, team_draft
from ml.experiments.simulation import ab_p_value, clicks, impressions_needed, interleaving_p_value, ranker_truth

FLIP = 6000


def flipping(step: int) -> list[float]:
    return [0.05, 0.10] if step < FLIP else [0.10, 0.05]


def test_the_bandit_finds_the_better_version_then_the_new_one_and_loses_less_than_a_fixed_split():
    run = simulate_regret(DiscountedThompson(["v1", "v2"]), flipping, steps=2 * FLIP, phases=[FLIP], seed=0)
    assert run.best_arm_share[0] > 0.75 and run.best_arm_share[1] > 0.6
    assert run.regret < 0.5 * run.fixed_split_regret
    # Without forgetting, the evidence of the first phase holds it on the old winner for long.
    stubborn = simulate_regret(
        DiscountedThompson(["v1", "v2"], discount=1.0, floor=0.0), flipping, steps=2 * FLIP, phases=[FLIP], seed=0
    )
    assert stubborn.best_arm_share[1] < run.best_arm_share[1] - 0.2


def test_the_bandits_state_round_trips_and_bad_settings_are_refused():
    bandit = DiscountedThompson(["v1", "v2"])
    for reward in (1.0, 0.0, 1.0):
        bandit.update("v2", reward)
    again = DiscountedThompson.from_dict(bandit.to_dict())
    assert again.means() == bandit.means() and again.means()["v2"] > again.means()["v1"]
    with pytest.raises(ValueError, match="two distinct arms"):
        DiscountedThompson(["v1"])
    with pytest.raises(ValueError, match="discount"):
        DiscountedThompson(["v1", "v2"], discount=0.0)


def test_team_draft_alternates_teams_and_shows_each_item_once():
    rng = np.random.default_rng(0)
    shown, teams = team_draft(["a", "b", "c", "d"], ["b", "e", "a", "f"], 4, rng)
    assert len(shown) == len(set(shown)) == 4 and sorted(teams) == [TEAM_A, TEAM_A, TEAM_B, TEAM_B]
    shown, teams = team_draft(["a"], ["b", "c", "d"], 4, rng)  # A runs out: B fills the list
    assert shown[0] in {"a", "b"} and set(shown) == {"a", "b", "c", "d"} and teams.count(TEAM_A) == 1
    assert credit(["A", "B", "A"], [0, 2]) == TEAM_A and credit(["A", "B"], [0, 1]) is None


def test_interleaving_reaches_a_verdict_with_fewer_impressions_than_an_ab_test():
    seeds = range(10)
    interleaving = impressions_needed(interleaving_p_value, 0.1, seeds)
    ab = impressions_needed(ab_p_value, 0.1, seeds)
    print(f"impressions for 80% power: interleaving {interleaving}, A/B {ab}")
    # Here 500 against 2,000: every user compares both rankers, so how much each user clicks
    # cancels out of interleaving and stays in the A/B test's variance.
    assert interleaving is not None and (ab is None or interleaving < ab)


def test_equal_rankers_are_called_different_at_about_the_stated_rate():
    truth = ranker_truth(0, 0.05)
    attractiveness, a = truth.attractiveness, truth.a
    called = 0
    for seed in range(200):
        rng = np.random.default_rng(seed)
        winners = [
            credit(teams, clicks(shown, attractiveness, rng))
            for shown, teams in (team_draft(a, a, 10, rng) for _ in range(400))
        ]
        called += preference(winners).p_value < 0.05
    assert called <= 20  # alpha 0.05 of 200 is 10; a sign test is conservative
