"""Benchmark: every model candidate on every data shape, which one is chosen, and its lead over the best baseline.

    python bench/bench_selection.py                                  # every preset at its default size
    python bench/bench_selection.py --presets small_shop long_history --out shapes.json
    python bench/bench_selection.py --scale 0.5                      # every preset at half its size

For each preset (and the Olist-like default, ``olist``) it generates the raw files, builds
the marts (DuckDB), then in a child process of its own (peak memory measured alone):

- the recommender selection (``train_and_evaluate``, default configuration): per protocol
  (time window, next purchase), each candidate's validation and test HR@10 / NDCG@10 (full
  catalogue), which one was chosen on validation, and on test the chosen one's lead over the
  best baseline (global popularity, recent popularity, item-kNN: whichever scores best on
  test) with its 95% paired bootstrap interval over customers;
- the revenue forecast: the last ``horizon`` days held out, ``forecast_revenue`` run on the
  days before them (its own backtest chooses), then every candidate refit on those days and
  scored on the held-out days: each candidate's backtest and test WAPE, the chosen one, and
  its test WAPE lead over the best baseline (seasonal naive, trailing mean) with a 95%
  paired bootstrap interval over the held-out days.

Nothing is chosen on a test figure; the test figures are printed beside the choice.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pandas as pd  # noqa: E402
from bench_pipeline import machine  # noqa: E402
from bench_recommender import run_child  # noqa: E402

PREPARE = """
import sys
from pathlib import Path
from retail_intel.warehouse import warehouse_for
from retail_intel.generator import GeneratorConfig, generate, preset_config
from retail_intel.settings import Settings
from orchestration.runner import run_graph
preset, scale, root = sys.argv[1], float(sys.argv[2]), Path(sys.argv[3])
if preset == "olist":
    config = GeneratorConfig(orders=int(20_000 * scale), seed=7)
else:
    from retail_intel.generator import PRESETS
    config = preset_config(preset, orders=max(200, int(PRESETS[preset].orders * scale)), seed=7)
generate(config, root / "raw")
settings = Settings.from_env({}).with_(home=root / "home", raw_dir_override=root / "raw")
report = run_graph(settings, job_name="build_warehouse", log=lambda _: None)
assert report.success, report.failures
MARTS = ("user_item_interactions", "customer_rfm", "products", "orders", "daily_revenue")
for name, frame in warehouse_for(settings).read_consistent({name: ("marts", name) for name in MARTS}).items():
    frame.to_parquet(root / f"{name}.parquet")
"""

RECOMMENDER = """
import json, sys, time
from pathlib import Path
import pandas as pd
from ml.recommender import RecommenderConfig, train_and_evaluate
from ml.recommender.pipeline import NotEnoughHistory
root = Path(sys.argv[1])
marts = {name: pd.read_parquet(root / f"{name}.parquet")
         for name in ("user_item_interactions", "customer_rfm", "products", "orders")}
started = time.perf_counter()
try:
    result = train_and_evaluate(marts["user_item_interactions"], marts["customer_rfm"], marts["products"],
                                marts["orders"], RecommenderConfig())
except NotEnoughHistory as error:
    print(json.dumps({"skipped": str(error)}))
    raise SystemExit(0)
print(json.dumps({
    "seconds": time.perf_counter() - started,
    "candidates": result.candidates.to_dict("records"),
    "comparisons": result.comparisons.to_dict("records"),
    "chosen": result.chosen_name, "reason": result.chosen_reason,
    "selection_protocol": result.split["selection_protocol"],
    "not_applicable": result.not_applicable,
    "customers": int(marts["customer_rfm"].shape[0]), "products": int(marts["products"].shape[0]),
    "interactions": int(marts["user_item_interactions"].shape[0]),
    "test_customers": result.split["test_customers"], "test_days": result.config.test_days,
}, default=str))
"""

FORECAST = """
import copy, json, sys, time
from pathlib import Path
import numpy as np
import pandas as pd
from ml.forecast import bounded, default_candidates, forecast_revenue, prepare_history, wape
root, horizon = Path(sys.argv[1]), int(sys.argv[2])
daily = prepare_history(pd.read_parquet(root / "daily_revenue.parquet")[["date", "revenue"]])
history, actual = daily.iloc[:-horizon], daily["revenue"].to_numpy()[-horizon:]
started = time.perf_counter()
try:
    result = forecast_revenue(history, horizon=horizon)
except ValueError as error:
    print(json.dumps({"skipped": f"{type(error).__name__}: {error}", "days": int(len(daily))}))
    raise SystemExit(0)
seconds = time.perf_counter() - started
errors = {}
for candidate in default_candidates():
    try:
        yhat = bounded(copy.deepcopy(candidate).fit(history, 0).predict(horizon))["yhat"].to_numpy()
    except Exception:  # it stepped aside in the backtest too; the table says why
        continue
    errors[candidate.name] = np.abs(actual - yhat)
errors[result.winner] = np.abs(actual - result.forecast["yhat"].to_numpy())
table = result.candidates.assign(test_wape=result.candidates["candidate"].map(
    {name: error.sum() / max(actual.sum(), 1e-9) for name, error in errors.items()}))
best = min(("seasonal_naive", "trailing_mean"), key=lambda name: errors[name].sum() if name in errors else np.inf)
draws = np.random.default_rng(0).integers(0, horizon, size=(2000, horizon))
leads = (errors[best][draws].sum(1) - errors[result.winner][draws].sum(1)) / np.maximum(actual[draws].sum(1), 1e-9)
print(json.dumps({
    "seconds": seconds, "candidates": table.to_dict("records"), "chosen": result.winner, "reason": result.reason,
    "best_baseline": best, "lead": float((errors[best].sum() - errors[result.winner].sum()) / max(actual.sum(), 1e-9)),
    "ci": [float(np.quantile(leads, 0.025)), float(np.quantile(leads, 0.975))], "days": int(len(daily)),
}, default=str))
"""

PRESETS = [
    "olist",
    "small_shop",
    "subscription",
    "long_history",
    "decaying",
    "growing",
    "short_history",
    "huge_catalog",
]
BASELINES = ("global_popularity", "recent_popularity", "item_knn")


def recommender_rows(preset: str, figures: dict) -> list[dict]:
    """One row per protocol: every candidate's validation/test HR@10, the chosen one, its lead on test."""
    candidates = pd.DataFrame(figures["candidates"]).set_index("candidate")
    comparisons = pd.DataFrame(figures["comparisons"])
    rows = []
    for protocol, prefix in (("time_window", ""), ("next_purchase", "next_purchase_")):
        column = f"{prefix}test_hr_at_10"
        if column not in candidates or candidates[column].isna().all():
            rows.append({"preset": preset, "protocol": protocol, "note": figures["not_applicable"].get(protocol, "")})
            continue
        test = candidates[column]
        best = test.reindex(BASELINES).dropna().idxmax()
        chosen = figures["chosen"]
        lead = comparisons.loc[
            (comparisons["protocol"] == protocol)
            & (comparisons["baseline"] == best)
            & (comparisons["segment"] == "all")
            & (comparisons["metric"] == "hr_at_10")
        ]
        interval = (
            "0 (it is the best baseline)"
            if chosen == best
            else (f"{lead['difference'].iloc[0]:+.4f} [{lead['ci_low'].iloc[0]:+.4f}, {lead['ci_high'].iloc[0]:+.4f}]")
        )
        cells = {
            name: f"{candidates.loc[name, f'{prefix}validation_hr_at_10']:.4f} / {test[name]:.4f}"
            if pd.notna(test.get(name))
            else candidates.loc[name, "status"]
            for name in candidates.index
        }
        chosen_here = "chosen" if figures["selection_protocol"] == protocol else "reported"
        rows.append(
            {"preset": preset, "protocol": protocol, **cells, "chosen": f"{chosen} ({chosen_here})",
             "best baseline on test": best, "lead in HR@10 on test": interval}
        )  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=PRESETS, choices=PRESETS)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every preset's default size")
    parser.add_argument("--horizon", type=int, default=30)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    print(machine(), flush=True)
    results = []
    for preset in args.presets:
        with tempfile.TemporaryDirectory() as scratch:
            _, prepare_seconds, _ = run_child(PREPARE, preset, str(args.scale), scratch)
            recommender, recommender_seconds, recommender_peak = run_child(RECOMMENDER, scratch)
            forecast, forecast_seconds, forecast_peak = run_child(FORECAST, scratch, str(args.horizon))
        result = {
            "preset": preset,
            "prepare_seconds": prepare_seconds,
            "recommender": json.loads(recommender.strip().splitlines()[-1]),
            "recommender_peak_mib": recommender_peak,
            "forecast": json.loads(forecast.strip().splitlines()[-1]),
            "forecast_peak_mib": forecast_peak,
        }
        results.append(result)
        show(result)
    print("\n## Recommender (validation HR@10 / test HR@10, full catalogue)\n")
    rows = [row for result in results if "skipped" not in result["recommender"]
            for row in recommender_rows(result["preset"], result["recommender"])]  # fmt: skip
    print(pd.DataFrame(rows).fillna("").to_markdown(index=False))
    print("\n## Revenue forecast (backtest WAPE / test WAPE)\n")
    print(pd.DataFrame([forecast_row(result) for result in results]).fillna("").to_markdown(index=False))
    if args.out:
        args.out.write_text(json.dumps({"machine": machine(), "results": results}, indent=1, default=str))


def forecast_row(result: dict) -> dict:
    figures = result["forecast"]
    if "skipped" in figures:
        return {"preset": result["preset"], "chosen": "none", "note": figures["skipped"]}
    table = pd.DataFrame(figures["candidates"]).set_index("candidate")
    cells = {
        name: f"{row['wape']:.3f} / {row['test_wape']:.3f}" if pd.notna(row.get("test_wape")) else row["status"]
        for name, row in table.iterrows()
    }
    low, high = figures["ci"]
    return {"preset": result["preset"], **cells, "chosen": figures["chosen"],
            "best baseline on test": figures["best_baseline"],
            "lead in WAPE on test": f"{figures['lead']:+.3f} [{low:+.3f}, {high:+.3f}]"}  # fmt: skip


def show(result: dict) -> None:
    recommender, forecast = result["recommender"], result["forecast"]
    print(f"\n== {result['preset']} (marts in {result['prepare_seconds']:.0f} s)", flush=True)
    if "skipped" in recommender:
        print(f"recommender: skipped, {recommender['skipped']}")
    else:
        print(
            f"recommender: {recommender['customers']:,} customers, {recommender['products']:,} products, "
            f"{recommender['interactions']:,} interactions; {recommender['seconds']:.0f} s, "
            f"peak {result['recommender_peak_mib']:,.0f} MiB; chosen {recommender['chosen']}: {recommender['reason']}"
        )
        columns = [c for c in pd.DataFrame(recommender["candidates"]).columns if c not in ("family", "params")]
        print(pd.DataFrame(recommender["candidates"])[columns].to_string(index=False, float_format="{:.4f}".format))
    if "skipped" in forecast:
        print(f"forecast: skipped, {forecast['skipped']}")
    else:
        print(f"forecast: {forecast['days']} days, {forecast['seconds']:.0f} s; chosen {forecast['chosen']}: "
              f"{forecast['reason']}")  # fmt: skip
    sys.stdout.flush()


if __name__ == "__main__":
    main()
