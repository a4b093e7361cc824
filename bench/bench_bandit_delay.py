"""The bandit when clients report their events late, in batches (as the feedback simulator
and a real shop's event pipeline do): the better arm's share of the later half of the lists,
over many seeds, for two rules about a list whose events have not arrived yet.

- "pending as failure": every served list without a reward so far counts as a failure (the
  rule before apps/experiment_serving.BANDIT_PATIENCE);
- "BanditLog": the service's own log, where such a list is pending until its client reports
  on it (or BANDIT_PATIENCE later lists have been served).

    python bench/bench_bandit_delay.py [--seeds 60]
"""

from __future__ import annotations

import argparse
import platform

import numpy as np

from apps.experiment_serving import BanditLog
from ml.experiments.bandit import DiscountedThompson
from ml.experiments.serving import Plan

ARMS = ("better/1", "worse/2")
PLAN = Plan("delay", "bandit", dict.fromkeys(ARMS, 1.0), "salt", 1.0)
SCENARIOS = (  # (click rate of the better arm, of the worse, lists, events per batch)
    (0.30, 0.05, 600, 200),
    (0.15, 0.05, 400, 200),
    (0.06, 0.03, 600, 200),
)


def later_share(seed: int, rates: tuple[float, float], lists: int, batch: int, rule: str) -> float:
    rng = np.random.default_rng(seed)
    log, served, rewarded, queue, chosen = BanditLog(PLAN), [], set(), [], []
    state, changes = None, 0
    for index in range(lists):
        request = f"r{index}"
        if rule == "BanditLog":
            state = log.state()
        elif state is None or changes >= 25:
            outcomes = [(arm, float(done in rewarded)) for done, arm in served]
            state, changes = DiscountedThompson.replayed(list(ARMS), outcomes), 0
        arm = state.choose(rng)
        chosen.append(arm)
        served.append((request, arm))
        log.served(request, arm, ["p"])
        changes += 1
        clicked = rng.random() < rates[ARMS.index(arm)]
        queue.append({"event_type": "impression", "request_id": request, "product_id": "p"})
        if clicked:
            queue.append({"event_type": "click", "request_id": request, "product_id": "p"})
        if sum(event["event_type"] == "impression" for event in queue) >= batch:
            log.observed(queue)
            rewarded |= {event["request_id"] for event in queue if event["event_type"] == "click"}
            changes += sum(event["event_type"] == "click" for event in queue)
            queue = []
    return float(np.mean([arm == ARMS[0] for arm in chosen[lists // 2 :]]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=60)
    seeds = parser.parse_args().seeds
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, {seeds} seeds")
    print("better's share of the later half of the lists: 5th, 25th, 50th percentile, mean")
    for better, worse, lists, batch in SCENARIOS:
        for rule in ("pending as failure", "BanditLog"):
            shares = [later_share(seed, (better, worse), lists, batch, rule) for seed in range(seeds)]
            low, quarter, median = np.percentile(shares, [5, 25, 50])
            print(
                f"  {better:.2f} vs {worse:.2f}, {lists} lists, batches of {batch}, {rule:<18}: "
                f"{low:.2f} {quarter:.2f} {median:.2f}  mean {np.mean(shares):.3f}"
            )


if __name__ == "__main__":
    main()
