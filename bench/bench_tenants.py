"""Benchmark: the nightly job over many tenants of mixed sizes, on this machine.

    python bench/bench_tenants.py                         # 200 tenants: 2% at 50K orders, the rest 500-5,000
    python bench/bench_tenants.py --tenants 20 --large 0  # a shorter run
    python bench/bench_tenants.py --work DIR              # keep DIR; run again to resume an interrupted run
    python bench/bench_tenants.py --work DIR --results docs/benchmarks/tenants_200.jsonl
                                                          # results in a tracked file: resumes on another machine

Generates each tenant's raw files and registers it (`retail-intel tenants add`), then runs
every tenant one after another exactly as `retail-intel run --all-tenants` does (the same
command, `retail-intel --tenant ID run`, in a process of its own, in the one Dagster
instance). Running the tenants from here rather than through `run --all-tenants` gives each
tenant's own peak memory and lets a run of several hours resume where it stopped: each
finished tenant is a line of ``DIR/results.jsonl`` (or of ``--results``: a file kept in git lets
a run longer than one machine's lease go on elsewhere; the generated data is the same for the
same seed, and each line names the commit it measured). Prints the total wall time (the sum of the
tenants' times, which is the sequential job's wall time), the distribution of per-tenant times
by size, Dagster's overhead per partition (a tenant's process time minus the time inside its
steps: interpreter and code-location start, run planning, event log), peak memory, and the
machine's load when the tenants started (anything else running inflates the times).
"""

from __future__ import annotations

import argparse
import json
import os
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
    parser.add_argument("--work", type=Path, default=None, help="folder kept between runs (default: a temporary one)")
    parser.add_argument("--results", type=Path, default=None, help="finished tenants (default: WORK/results.jsonl)")
    args = parser.parse_args()
    large = max(1, round(args.tenants * 0.02)) if args.large is None else args.large
    orders = sizes(args.tenants, large, args.seed)
    print(f"Machine: {machine()}; {args.tenants} tenants ({large} at 50K orders), {sum(orders):,} orders in all")
    if args.work is None:
        with tempfile.TemporaryDirectory() as scratch:
            bench(Path(scratch), orders, args.seed, args.results)
    else:
        args.work.mkdir(parents=True, exist_ok=True)
        bench(args.work.resolve(), orders, args.seed, args.results)


def bench(work: Path, orders: list[int], seed: int, results_path: Path | None = None) -> None:
    home = work / "home"
    results_path = results_path or work / "results.jsonl"
    results_path.parent.mkdir(parents=True, exist_ok=True)
    commit = _commit()
    done = _read_results(results_path)
    tenants = [f"t{index:04d}" for index in range(len(orders))]
    started = time.perf_counter()
    registered = set(cli("--home", str(home), "tenants", "list").split()) if (home / "platform").exists() else set()
    for index, (tenant, count) in enumerate(zip(tenants, orders, strict=True)):
        if tenant in registered:
            continue
        raw = work / "raw" / tenant
        cli("generate", "--orders", str(count), "--seed", str(seed + index), "--out", str(raw))
        cli("--home", str(home), "tenants", "add", tenant, "--raw-dir", str(raw))
    print(f"  generated and registered in {time.perf_counter() - started:.0f} s")

    if done:
        print(f"  resuming: {len(done)} tenants already ran (in {results_path})")
    with results_path.open("a") as results:
        for tenant, count in zip(tenants, orders, strict=True):
            if tenant in done:
                continue
            done[tenant] = _run_one(home, tenant, count) | {"commit": commit}
            results.write(json.dumps(done[tenant]) + "\n")
            results.flush()
            line = done[tenant]
            print(f"  {tenant} {count:>6} orders, exit {line['exit']}, {line['seconds']:6.1f} s,", end=" ")
            print(f"{line['peak_mib']} MiB")
    report(home, [done[tenant] for tenant in tenants])


def _read_results(path: Path) -> dict[str, dict]:
    if not path.exists():
        return {}
    lines = (json.loads(line) for line in path.read_text().splitlines() if line.strip())
    return {line["tenant"]: line for line in lines}


def _commit() -> str:
    """The commit under measurement, marked when the working tree differs from it."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    changed = git("status", "--porcelain", "--untracked-files=no")
    return git("rev-parse", "--short", "HEAD") + ("+changes" if changed else "")


def _run_one(home: Path, tenant: str, count: int) -> dict:
    """One tenant's run as `run --all-tenants` starts it; its time, exit code and peak memory."""
    load = os.getloadavg()[0]
    command = [*CLI, "--home", str(home), "--tenant", tenant, "run"]
    log_path = home / "bench_logs" / f"{tenant}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with log_path.open("w") as log:
        process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    return {
        "tenant": tenant,
        "orders": count,
        "exit": os.waitstatus_to_exitcode(status),
        "seconds": round(seconds, 2),
        "peak_mib": round(usage.ru_maxrss / 1024),
        "load_1m": round(load, 2),
        "at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


def report(home: Path, lines: list[dict]) -> None:
    seconds = {line["tenant"]: line["seconds"] for line in lines}
    total = sum(seconds.values())
    failed = [line["tenant"] for line in lines if line["exit"] != 0]
    print(f"  total wall time, tenants one after another: {total:.0f} s = {total / 60:.1f} min")
    print(f"  {len(lines) - len(failed)} ok, {len(failed)} failed" + (f" ({', '.join(failed)})" if failed else ""))
    every = list(seconds.values())
    print(
        f"  per tenant: median {statistics.median(every):.1f} s, p90 {np.percentile(every, 90):.1f} s, "
        f"max {max(every):.1f} s"
    )
    by_size: dict[str, list[float]] = {"500-1,500": [], "1,500-5,000": [], "50,000": []}
    for line in lines:
        count = line["orders"]
        key = "50,000" if count >= 50_000 else "500-1,500" if count < 1500 else "1,500-5,000"
        by_size[key].append(line["seconds"])
    for key, values in by_size.items():
        if values:
            print(
                f"    {key:>12} orders: {len(values):4d} tenants, median {statistics.median(values):6.1f} s, "
                f"max {max(values):6.1f} s"
            )
    inside = _seconds_inside_steps(home)
    # A resumed run's Dagster instance holds only the tenants that ran on this machine.
    measured = [tenant for tenant in seconds if tenant in inside]
    overhead = [seconds[tenant] - inside[tenant] for tenant in measured]
    if overhead:
        print(
            f"  Dagster and process overhead per partition: median {statistics.median(overhead):.1f} s "
            f"(a tenant's process time minus its steps' time), "
            f"{sum(overhead) / sum(seconds[tenant] for tenant in measured):.0%} of their time "
            f"({len(measured)} tenants in this instance's run history)"
        )
    peaks = [line["peak_mib"] for line in lines]
    print(f"  peak memory of one tenant's process: median {statistics.median(peaks):.0f} MiB, max {max(peaks):.0f} MiB")
    loads = [line["load_1m"] for line in lines]
    print(f"  load average (1 min) when a tenant started: median {statistics.median(loads):.2f}, max {max(loads):.2f}")
    days = sorted({line["at"] for line in lines})
    print(f"  tenants ran from {days[0]} to {days[-1]}")
    commits = sorted({line.get("commit", "unrecorded") for line in lines})
    print(f"  commits measured: {', '.join(commits)}")


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
