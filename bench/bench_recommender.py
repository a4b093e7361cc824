"""Benchmark: the recommender selection (every candidate, the chosen one) on generated data.

    python bench/bench_recommender.py                          # 100K orders, repeat rate 0.03 and 0.2
    python bench/bench_recommender.py --orders 20000 --repeat-rates 0.2 --out results.json

For each repeat rate it generates an Olist-format set, builds the marts (DuckDB), then runs
``train_and_evaluate`` and scores every customer of customer_rfm with the refit model, in a
child process of its own so that its peak resident memory is measured alone. It prints the
test metrics table (model x protocol x segment), the calibration error and the seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pandas as pd  # noqa: E402
from bench_pipeline import machine  # noqa: E402

PREPARE = """
import sys
from pathlib import Path
from retail_intel.warehouse import warehouse_for
from retail_intel.generator import GeneratorConfig, generate
from retail_intel.settings import Settings
from orchestration.runner import run_graph
orders, repeat_rate, root = int(sys.argv[1]), float(sys.argv[2]), Path(sys.argv[3])
generate(GeneratorConfig(orders=orders, seed=7, repeat_rate=repeat_rate), root / "raw")
settings = Settings.from_env({}).with_(home=root / "home", raw_dir_override=root / "raw")
report = run_graph(settings, job_name="build_warehouse", log=lambda _: None)
assert report.success, report.failures
MARTS = ("user_item_interactions", "customer_rfm", "products", "orders")
for name, frame in warehouse_for(settings).read_consistent({name: ("marts", name) for name in MARTS}).items():
    frame.to_parquet(root / f"{name}.parquet")
"""

# The child both benchmarks start with: read the exported marts, then train and evaluate.
TRAIN = """
import json, sys, time
from pathlib import Path
import pandas as pd
from ml.recommender import RecommenderConfig, train_and_evaluate
root = Path(sys.argv[1])
marts = {name: pd.read_parquet(root / f"{name}.parquet")
         for name in ("user_item_interactions", "customer_rfm", "products", "orders")}
started = time.perf_counter()
result = train_and_evaluate(marts["user_item_interactions"], marts["customer_rfm"], marts["products"],
                            marts["orders"], RecommenderConfig())
"""

RUN = (
    TRAIN
    + """
total = time.perf_counter() - started
scoring_started = time.perf_counter()
recommendations = result.recommend(marts["customer_rfm"])
scoring = time.perf_counter() - scoring_started
print(json.dumps({
    "metrics": result.metrics.to_dict("records"),
    "validation_metrics": result.validation_metrics.to_dict("records"),
    "calibration": result.calibration, "split": result.split, "chosen": result.chosen,
    "seconds": {**result.seconds, "train_and_evaluate": total, "score_all_customers": scoring},
    "scored_customers": int(recommendations["customer_unique_id"].nunique()),
    "lead_over_candidates": result.comparisons.to_dict("records"),
    "candidates": result.candidates.to_dict("records"),
    "chosen_name": result.chosen_name, "chosen_reason": result.chosen_reason,
}))
"""
)


# Is there anything to learn about first-time customers beyond recent popularity? Three
# richer popularity scorers, on the validation window only (train data before it), HR@10
# of first-time customers: windows, exponential decay, and a mix with the state's own.
COLD_START = """
import json, sys
from pathlib import Path
import numpy as np
import pandas as pd
from ml.recommender.candidates.base import recent_popularity
from ml.recommender.evaluation import EvaluationTask, metrics_table, run_scorer
from ml.recommender.features import customer_states
from ml.recommender.split import purchase_events, split_by_time
root = Path(sys.argv[1])
interactions = pd.read_parquet(root / "user_item_interactions.parquet")
states = customer_states(pd.read_parquet(root / "customer_rfm.parquet"))
catalog = pd.Index(np.sort(pd.read_parquet(root / "products.parquet")["product_id"].unique()))
split = split_by_time(interactions)
task = EvaluationTask.build(split.train, split.validation, catalog)
latest = purchase_events(split.train).drop_duplicates(["customer_unique_id", "product_id"], keep="last")
age = ((split.validation_start - latest["purchased_at"]) / pd.Timedelta(days=1)).to_numpy()
codes = catalog.get_indexer(latest["product_id"])

def decayed(half_life):
    return np.bincount(codes, weights=0.5 ** (age / half_life), minlength=catalog.size)

def state_mix(days, weight):
    recent = age < days
    overall = np.bincount(codes[recent], minlength=catalog.size).astype(float)
    state_of = latest["customer_unique_id"].map(states).to_numpy()[recent]
    local = {state: np.bincount(codes[recent][state_of == state], minlength=catalog.size).astype(float)
             for state in pd.unique(state_of)}
    def score(ids):
        rows = np.vstack([local.get(state, np.zeros(catalog.size)) for state in pd.Index(ids).map(states)])
        return overall / overall.sum() + weight * rows / np.maximum(rows.sum(1, keepdims=True), 1)
    return score

# A 1-d vector scores every customer the same and is ranked once.
scorers = {f"window {days} d": recent_popularity(split.train, catalog, split.validation_start, days)
           for days in (30, 60, 90)}
scorers.update({f"half-life {h} d": decayed(h) for h in (14, 30, 60)})
scorers.update({f"60 d + state x {w}": state_mix(60, w) for w in (0.5, 1.0, 2.0)})
table = metrics_table(task, {name: run_scorer(task, scorer) for name, scorer in scorers.items()})
table = table.loc[(table["protocol"] == "full_catalog") & (table["segment"] == "first_time")]
print(json.dumps(table[["model", "customers", "hr_at_10", "ndcg_at_10"]].to_dict("records")))
"""


def run_child(code: str, *args: str) -> tuple[str, float, float]:
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, text=True)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"benchmark step failed (exit {os.waitstatus_to_exitcode(status)}): {args}")
    return output, time.perf_counter() - started, usage.ru_maxrss / 1024


def table(records: list[dict]) -> str:
    frame = pd.DataFrame(records)
    frame = frame.sort_values(["protocol", "segment", "model"], kind="stable")
    return frame.to_string(index=False, float_format=lambda value: f"{value:.4f}")


def leads(records: list[dict]) -> str:
    frame = pd.DataFrame(records)
    frame["lead"] = [f"{row.difference:+.4f} [{row.ci_low:+.4f}, {row.ci_high:+.4f}]" for row in frame.itertuples()]
    wide = frame.pivot_table(index=["segment", "baseline"], columns="metric", values="lead", aggfunc="first")
    return wide.to_string()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--repeat-rates", type=float, nargs="+", default=[0.03, 0.2])
    parser.add_argument("--out", type=Path, help="write every result as JSON here")
    arguments = parser.parse_args()
    print(machine())
    results = []
    for repeat_rate in arguments.repeat_rates:
        with tempfile.TemporaryDirectory() as folder:
            _, prepare_seconds, _ = run_child(PREPARE, str(arguments.orders), str(repeat_rate), folder)
            output, seconds, peak_mib = run_child(RUN, folder)
            cold_start, _, _ = run_child(COLD_START, folder)
        result = json.loads(output.strip().splitlines()[-1])
        result["cold_start_signal"] = json.loads(cold_start.strip().splitlines()[-1])
        result.update(orders=arguments.orders, repeat_rate=repeat_rate, peak_mib=peak_mib, wall_seconds=seconds,
                      prepare_seconds=prepare_seconds)  # fmt: skip
        results.append(result)
        print(f"\n== {arguments.orders:,} orders, repeat rate {repeat_rate}: split {result['split']}")
        print(f"chosen {result['chosen_name']}: {result['chosen_reason']}; settings {result['chosen']}")
        print(f"calibration {result['calibration']}")
        print(
            pd.DataFrame(result["candidates"])
            .drop(columns="family")
            .to_string(index=False, float_format=lambda v: f"{v:.4f}")
        )
        print("seconds " + ", ".join(f"{key} {value:.1f}" for key, value in result["seconds"].items()))
        print(f"peak RSS {peak_mib:,.0f} MiB; scored {result['scored_customers']:,} customers")
        print(table(result["metrics"]))
        print(f"\n{result['chosen_name']} minus each other candidate, full catalogue, 95% paired bootstrap interval")
        print(leads(result["lead_over_candidates"]))
        print("\nvalidation window, first-time customers: richer popularity scorers (is there more to learn?)")
        print(pd.DataFrame(result["cold_start_signal"]).to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    if arguments.out:
        arguments.out.write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
