"""Benchmark: the whole Dagster asset graph (`retail-intel run`) at a given scale.

    python bench/bench_graph.py                  # 100K orders on DuckDB
    python bench/bench_graph.py --orders 10000 --target postgres

Prints wall seconds split into loading (parse, type, publish the raw files), quality
checks (raw and marts suites), dbt (models and dbt tests), models (the ML and serving
assets) and the rest: Dagster's own overhead (definitions, manifest, planning, event
log), measured as the whole run minus the parts. Peak memory is that of the child
process that runs the graph, dbt's process included.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_pipeline import GENERATE, RUN_JOB, machine, parts, run_child  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--target", choices=["duckdb", "postgres"], default="duckdb")
    args = parser.parse_args()

    print(f"Machine: {machine()}; target: {args.target}; orders: {args.orders:,}")
    with tempfile.TemporaryDirectory() as scratch:
        raw_dir = Path(scratch) / "raw"
        run_child(GENERATE, str(args.orders), str(raw_dir))
        result, wall, peak_mib = run_child(
            RUN_JOB, str(raw_dir), str(Path(scratch) / "home"), args.target, "refresh_everything"
        )

    steps = result["steps"]
    split = parts(result)
    rows = [
        ("loading", split["loading"]),
        ("quality checks", split["quality checks"]),
        ("dbt", split["dbt"]),
        ("models", split["models"]),
        ("rest (Dagster, imports)", split["rest"]),
        ("whole child process", result["process"]),
    ]
    for name, seconds in rows:
        print(f"  {name:<26} {seconds:8.1f} s")
    non_ml = split["loading"] + split["quality checks"] + split["dbt"]
    print(f"  {'non-ML part (load+checks+dbt)':<26} {non_ml:8.1f} s")
    ml_group = sum(seconds for name, seconds in steps.items() if name.startswith(("ml__", "customer_segments")))
    print(f"  {'ml group (the ml assets)':<26} {ml_group:8.1f} s")
    print("  models, per step:")
    for name, seconds in sorted(steps.items()):
        if name.startswith(("ml", "customer_segments", "serving")):
            print(f"    {name:<34} {seconds:8.1f} s")
    print(f"  {'peak memory':<26} {peak_mib:8.0f} MiB")
    print(f"  (wall time including process start: {wall:.1f} s)")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
