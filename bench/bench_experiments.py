"""Benchmark: the online-experiment methods on a known truth (ml/experiments/simulation.py).

    python bench/bench_experiments.py

Prints the discounted Thompson bandit's cumulative regret against an equal fixed split (two
model versions whose click rates 5% and 10% swap half way), with and without forgetting, and
the impressions interleaving and an A/B test need to tell a better ranker from a worse one
with 80% power, on the same simulated users, over a range of gaps between the rankers.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench_pipeline import machine  # noqa: E402

from ml.experiments.bandit import DiscountedThompson, simulate_regret  # noqa: E402
from ml.experiments.simulation import ab_p_value, impressions_needed, interleaving_p_value  # noqa: E402

STEPS, FLIP = 20_000, 10_000


def flipping(step: int) -> list[float]:
    return [0.05, 0.10] if step < FLIP else [0.10, 0.05]


def main() -> None:
    print(f"Machine: {machine()}")
    print(f"Bandit over two versions, {STEPS:,} requests, click rates 5% / 10% swapping at {FLIP:,}:")
    for label, bandit in (
        ("discounted Thompson (0.999, floor 2%)", DiscountedThompson(["v1", "v2"])),
        ("Thompson without forgetting", DiscountedThompson(["v1", "v2"], discount=1.0, floor=0.0)),
    ):
        runs = [simulate_regret(bandit.from_dict(bandit.to_dict()), flipping, STEPS, [FLIP], seed) for seed in range(5)]
        regret = sum(run.regret for run in runs) / len(runs)
        fixed = runs[0].fixed_split_regret
        shares = [sum(run.best_arm_share[phase] for run in runs) / len(runs) for phase in (0, 1)]
        print(
            f"  {label:<40} regret {regret:7.1f} clicks (fixed 50/50 split {fixed:.1f}); "
            f"on the better version {shares[0]:.0%} before the swap, {shares[1]:.0%} after (mean of 5 seeds)"
        )
    print("Impressions for 80% power (10 seeds each; doubling grid up to 32,000):")
    for noise in (0.05, 0.1, 0.2):
        started = time.perf_counter()
        interleaving = impressions_needed(interleaving_p_value, noise, range(10))
        ab = impressions_needed(ab_p_value, noise, range(10))
        ratio = f"{ab / interleaving:.0f}x" if interleaving and ab else "-"
        print(
            f"  ranker B's noise {noise:<4}: interleaving {interleaving or '> 32,000'!s:>8}, "
            f"A/B {ab or '> 32,000'!s:>8}, A/B / interleaving {ratio} ({time.perf_counter() - started:.0f} s)"
        )


if __name__ == "__main__":
    main()
