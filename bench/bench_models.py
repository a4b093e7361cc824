"""Benchmark: training and scoring seconds and peak memory of every model, at 100K and 1M orders.

    python bench/bench_models.py                        # 100,000 and 1,000,000 orders
    python bench/bench_models.py --orders 100000 --out results.json

For each scale it generates an Olist-format set (seed 7), builds the marts (DuckDB) and
exports the ones the models read. Then each model runs in a child process of its own, so
that its peak resident memory is measured alone:

- revenue forecast: training = the rolling-origin backtest of every candidate (3 folds of
  30 days) plus the winner's refit on all history; scoring = the 30-day forecast.
- customer segments: training = K-Means for k in 3..8 with the silhouette choice; scoring =
  clusters and named segments for every customer.
- recommender: training = ``train_and_evaluate`` (validation run with early stopping, the
  test evaluation of the model and the three baselines, the refit on all data); scoring =
  the top 10 of every customer plus the user and item embeddings.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_pipeline import machine  # noqa: E402
from bench_recommender import PREPARE, TRAIN, run_child  # noqa: E402

FORECAST = """
import json, sys, time
from pathlib import Path
import pandas as pd
from ml.forecast import default_candidates, forecast_revenue
from ml.forecast_model import RegisteredForecaster
daily = pd.read_parquet(Path(sys.argv[1]) / "daily_revenue.parquet")[["date", "revenue"]]
started = time.perf_counter()
candidates = default_candidates()
result = forecast_revenue(daily, horizon=30, folds=3, seed=0, candidates=candidates)
winner = next(candidate for candidate in candidates if candidate.name == result.winner)
model = RegisteredForecaster(winner, 0).refit(daily)
train = time.perf_counter() - started
started = time.perf_counter()
forecast = model.predict(pd.DataFrame({"horizon": [30]}))
score = time.perf_counter() - started
print(json.dumps({"train": train, "score": score, "rows": len(forecast), "detail": f"winner {result.winner}"}))
"""

SEGMENTS = """
import json, sys, time
from pathlib import Path
import pandas as pd
from ml.segments import fit_segmenter, named_segments
rfm = pd.read_parquet(Path(sys.argv[1]) / "customer_rfm.parquet")
started = time.perf_counter()
segmenter, silhouettes = fit_segmenter(rfm, k=None, k_range=(3, 8), seed=0)
train = time.perf_counter() - started
started = time.perf_counter()
clusters = segmenter.predict(rfm)
names = named_segments(rfm)
score = time.perf_counter() - started
print(json.dumps({"train": train, "score": score, "rows": len(clusters), "detail": f"k {segmenter.k}"}))
"""

RECOMMENDER = (
    TRAIN
    + """
train = time.perf_counter() - started
started = time.perf_counter()
recommendations = result.recommend(marts["customer_rfm"])
embeddings = getattr(result.model, "embeddings", None)
vectors = embeddings(marts["customer_rfm"]) if embeddings else None
score = time.perf_counter() - started
table = result.metrics
row = table.loc[(table["protocol"] == "full_catalog") & (table["segment"] == "all")].set_index("model")["hr_at_10"]
detail = (f"chosen {result.chosen_name} ({result.chosen_reason}); HR@10 full catalogue (time window test): "
          + ", ".join(f"{model} {value:.4f}" for model, value in row.items()))
figures = [c for c in result.candidates.columns if c.endswith(("hr_at_10",))]
candidates = result.candidates[["candidate", "status", "reason", *figures]].to_string(index=False, float_format="%.4f")
print(candidates, file=sys.stderr)
print(json.dumps({"train": train, "score": score, "rows": len(recommendations), "detail": detail,
                  "seconds": result.seconds, "split": result.split}))
"""
)

MODELS = {"revenue_forecast": FORECAST, "customer_segments": SEGMENTS, "recommender": RECOMMENDER}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=list(MODELS))
    parser.add_argument("--out", type=Path, default=None, help="also write the figures as JSON")
    args = parser.parse_args()
    print(machine())
    results = []
    for orders in args.orders:
        with tempfile.TemporaryDirectory() as scratch:
            root = Path(scratch)
            # The 0.03 default repeat rate: Olist's own; the recommender's figures depend on it.
            _, prepare_seconds, _ = run_child(PREPARE + EXPORT, str(orders), "0.03", str(root))
            print(f"\n== {orders:,} orders (marts built in {prepare_seconds:.0f} s)", flush=True)
            for name in args.models:
                output, _, peak = run_child(MODELS[name], str(root))
                figures = json.loads(output.strip().splitlines()[-1])
                results.append({"orders": orders, "model": name, "peak_mib": peak, **figures})
                print(
                    f"{name:18} train {figures['train']:8.1f} s  score {figures['score']:7.1f} s "
                    f"({figures['rows']:,} rows)  peak {peak:7,.0f} MiB  {figures['detail']}",
                    flush=True,
                )
    print("\n| orders | model | training (s) | scoring (s) | rows scored | peak RSS (MiB) |")
    print("| ---: | --- | ---: | ---: | ---: | ---: |")
    for row in results:
        print(
            f"| {row['orders']:,} | {row['model']} | {row['train']:.1f} | {row['score']:.1f} | "
            f"{row['rows']:,} | {row['peak_mib']:,.0f} |"
        )
    if args.out:
        args.out.write_text(json.dumps({"machine": machine(), "results": results}, indent=2))


# The forecast reads daily revenue, which the recommender's preparation does not export.
EXPORT = """
warehouse_for(settings).read("marts", "daily_revenue").to_parquet(root / "daily_revenue.parquet")
"""

if __name__ == "__main__":
    main()
