"""Benchmark: the nightly job over many tenants of mixed sizes, on this machine.

    python bench/bench_tenants.py                         # 200 tenants: 2% at 50K orders, the rest 500-5,000
    python bench/bench_tenants.py --tenants 20 --large 0  # a shorter run

Generates each tenant's raw files, registers it (`retail-intel tenants add`), then times
`retail-intel run --all-tenants`: every tenant as one run of its partition in the one
Dagster instance. Prints the total wall time, the distribution of per-tenant times by
size, Dagster's overhead per partition (a tenant's process time minus the time inside
its steps: interpreter and code-location start, run planning, event log), and the peak
memory of the largest tenant's process.
"""

from __future__ import annotations

import argparse
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_pipeline import machine  # noqa: E402

CLI = [sys.executable, "-m", "apps.cli"]
ROOT = Path(__file__).resolve().parents[1]


def sizes(tenants: int, large: int, seed: int) -> list[int]:
    """``large`` tenants of 50,000 orders, the others log-uniform between 500 and 5,000."""
    rng = np.random.default_rng(seed)
    small = np.exp(rng.uniform(np.log(500), np.log(5000), tenants - large)).round(-1).astype(int)
    return [50_000] * large + small.tolist()


def cli(*args: str) -> str:
    done = subprocess.run([*CLI, *args], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tenants", type=int, default=200)
    parser.add_argument("--large", type=int, default=None, help="tenants with 50K orders (default 2%%)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    large = max(1, round(args.tenants * 0.02)) if args.large is None else args.large
    orders = sizes(args.tenants, large, args.seed)
    print(f"Machine: {machine()}; {args.tenants} tenants ({large} at 50K orders), {sum(orders):,} orders in all")

    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch) / "home"
        started = time.perf_counter()
        for index, count in enumerate(orders):
            tenant = f"t{index:04d}"
            raw = Path(scratch) / "raw" / tenant
            cli("generate", "--orders", str(count), "--seed", str(args.seed + index), "--out", str(raw))
            cli("--home", str(home), "tenants", "add", tenant, "--raw-dir", str(raw))
        print(f"  generated and registered in {time.perf_counter() - started:.0f} s")

        started = time.perf_counter()
        command = [*CLI, "--home", str(home), "run", "--all-tenants"]
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        total = time.perf_counter() - started
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(done.stdout.splitlines()[-1] if done.stdout else done.stderr[-2000:])
        seconds = {
            match[1]: float(match[2])
            for match in re.finditer(r"^  (t\d{4})\s+\S+.*?\s([\d.]+) s ", done.stdout, re.MULTILINE)
        }
        inside = _seconds_inside_steps(home)

    print(f"  total wall time (run --all-tenants): {total:.0f} s = {total / 60:.1f} min")
    by_size = {"500-1,500": [], "1,500-5,000": [], "50,000": []}
    for index, count in enumerate(orders):
        key = "50,000" if count >= 50_000 else "500-1,500" if count < 1500 else "1,500-5,000"
        if f"t{index:04d}" in seconds:
            by_size[key].append(seconds[f"t{index:04d}"])
    every = list(seconds.values())
    print(
        f"  per tenant: median {statistics.median(every):.1f} s, p90 {np.percentile(every, 90):.1f} s, "
        f"max {max(every):.1f} s"
    )
    for key, values in by_size.items():
        if values:
            print(
                f"    {key:>12} orders: {len(values):4d} tenants, median {statistics.median(values):6.1f} s, "
                f"max {max(values):6.1f} s"
            )
    overhead = [seconds[tenant] - inside[tenant] for tenant in seconds if tenant in inside]
    if overhead:
        print(
            f"  Dagster and process overhead per partition: median {statistics.median(overhead):.1f} s "
            f"(a tenant's process time minus its steps' time), {sum(overhead) / total:.0%} of the total"
        )
    print(f"  peak memory of one tenant's process: {peak_mib:.0f} MiB")


def _seconds_inside_steps(home: Path) -> dict[str, float]:
    """Per tenant, the seconds its last run spent inside steps (from the one Dagster instance)."""
    inside: dict[str, float] = {}
    with dg.DagsterInstance.from_config(str(home / "platform" / "dagster")) as instance:
        for run in instance.get_runs():
            tenant = run.tags.get("dagster/partition")
            if tenant is None or tenant in inside:
                continue
            steps = instance.get_run_step_stats(run.run_id)
            inside[tenant] = sum((step.end_time or 0) - (step.start_time or 0) for step in steps if step.start_time)
    return inside


if __name__ == "__main__":
    main()
