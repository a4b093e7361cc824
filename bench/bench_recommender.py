"""Benchmark: the two-tower recommender against its baselines on generated data.

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
from bench_pipeline import machine  # noqa: E402

PREPARE = """
import sys
from pathlib import Path
import duckdb
from retail_intel.generator import GeneratorConfig, generate
from retail_intel.settings import Settings
from retail_intel.warehouse import build_and_publish
orders, repeat_rate, root = int(sys.argv[1]), float(sys.argv[2]), Path(sys.argv[3])
generate(GeneratorConfig(orders=orders, seed=7, repeat_rate=repeat_rate), root / "raw")
settings = Settings.from_env({}).with_(home=root / "home", raw_dir_override=root / "raw")
build_and_publish(settings, log=lambda _: None)
with duckdb.connect(str(settings.warehouse_path), read_only=True) as connection:
    for name in ("user_item_interactions", "customer_rfm", "products", "orders"):
        connection.execute(f"select * from marts.{name}").df().to_parquet(root / f"{name}.parquet")
"""

RUN = """
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
    "epochs": result.training.epochs, "training_examples": result.training.examples,
    "device": result.training.device,
}))
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
    import pandas as pd

    frame = pd.DataFrame(records)
    frame = frame.sort_values(["protocol", "segment", "model"], kind="stable")
    return frame.to_string(index=False, float_format=lambda value: f"{value:.4f}")


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
        result = json.loads(output.strip().splitlines()[-1])
        result.update(orders=arguments.orders, repeat_rate=repeat_rate, peak_mib=peak_mib, wall_seconds=seconds,
                      prepare_seconds=prepare_seconds)  # fmt: skip
        results.append(result)
        print(f"\n== {arguments.orders:,} orders, repeat rate {repeat_rate}: split {result['split']}")
        print(f"chosen {result['chosen']}; calibration {result['calibration']}")
        print("seconds " + ", ".join(f"{key} {value:.1f}" for key, value in result["seconds"].items()))
        print(f"peak RSS {peak_mib:,.0f} MiB; scored {result['scored_customers']:,} customers on {result['device']}")
        print(table(result["metrics"]))
    if arguments.out:
        arguments.out.write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
