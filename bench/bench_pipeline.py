"""Benchmark: generate, then the graph's ``build_warehouse`` job (raw files through the marts) at several scales.

    python bench/bench_pipeline.py                       # 10K, 100K and 1M orders on DuckDB
    python bench/bench_pipeline.py --orders 10000 100000 --target postgres

The job is what ``retail-intel run`` does before the models: parse, type and publish the
nine raw files after their quality gate, ``dbt build`` (models, data tests and unit tests)
in a workspace, publish, and the marts' quality gate. Each scale runs in a child process of
its own, so that its peak resident memory is measured alone (Linux reports the largest RSS
among a waited child and its descendants, which includes dbt's own process).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GENERATE = """
import json, sys
from pathlib import Path
from retail_intel.generator import GeneratorConfig, generate
counts = generate(GeneratorConfig(orders=int(sys.argv[1]), seed=1), Path(sys.argv[2]))
print(json.dumps({"rows": sum(counts.values())}))
"""

# argv: raw folder, home, target, job name.
RUN_JOB = """
import json, sys, time
started = time.perf_counter()
from retail_intel.settings import Settings
from orchestration.runner import run_graph
settings = Settings.from_env().with_(home=sys.argv[2], raw_dir_override=sys.argv[1], target=sys.argv[3])
report = run_graph(settings, job_name=sys.argv[4], log=lambda _: None)
assert report.success, report.failures
print(json.dumps({"steps": report.step_seconds, "raw": report.raw_phase_seconds,
                  "run": report.run_seconds, "process": time.perf_counter() - started}))
"""

MODEL_STEPS = ("ml__revenue_forecast", "customer_segments", "ml__recommendations", "serving__customer_recommendations")


def parts(result: dict) -> dict[str, float]:
    """A job's child split into loading, quality checks, dbt, models and the rest (Dagster's own
    time: imports, definitions and manifest, planning, event log writes between steps)."""
    steps = result["steps"]
    split = {
        "loading": result["raw"]["loading"],
        "quality checks": result["raw"]["quality_checks"] + steps["marts_quality"],
        "dbt": steps["dbt_models"],
        "models": sum(steps.get(name, 0.0) for name in MODEL_STEPS),
    }
    split["rest"] = result["process"] - sum(split.values())
    return split


def run_child(code: str, *args: str) -> tuple[dict, float, float]:
    """(the child's JSON output, wall seconds, peak RSS in MiB of the child and its descendants)."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, text=True)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"benchmark step failed (exit {os.waitstatus_to_exitcode(status)}): {args}")
    return json.loads(output.strip().splitlines()[-1]), seconds, usage.ru_maxrss / 1024


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {memory_gib:.0f} GiB RAM, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--target", choices=["duckdb", "postgres"], default="duckdb")
    parser.add_argument("--workdir", type=Path, default=None, help="Keep data here instead of a temp dir.")
    args = parser.parse_args()

    print(f"Machine: {machine()}; target: {args.target}")
    columns = [("orders", 10), ("generate s", 11), ("gen MiB", 8), ("load s", 7), ("checks s", 9), ("dbt s", 7)]
    columns += [("rest s", 7), ("run s", 7), ("run MiB", 8)]
    header = " ".join(f"{name:>{width}}" for name, width in columns)
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory() as scratch:
        workdir = args.workdir or Path(scratch)
        for orders in args.orders:
            raw_dir = workdir / f"raw_{orders}"
            _, generate_seconds, generate_mib = run_child(GENERATE, str(orders), str(raw_dir))
            home = workdir / f"home_{orders}"
            result, run_seconds, run_mib = run_child(RUN_JOB, str(raw_dir), str(home), args.target, "build_warehouse")
            split = parts(result)
            print(
                f"{orders:>10,} {generate_seconds:>11.1f} {generate_mib:>8.0f} {split['loading']:>7.1f} "
                f"{split['quality checks']:>9.1f} {split['dbt']:>7.1f} {split['rest']:>7.1f} "
                f"{result['process']:>7.1f} {run_mib:>8.0f}",
                flush=True,
            )
    print(
        "load = parse, type and publish the raw files; checks = the raw and marts quality gates; dbt = models and "
        "dbt tests in a workspace, then the publish; rest = Dagster, imports, manifest; run = the whole job's child."
    )


if __name__ == "__main__":
    main()
