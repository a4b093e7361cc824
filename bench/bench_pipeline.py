"""Benchmark: generate, load, dbt build and publish at several scales; prints seconds and peak memory.

    python bench/bench_pipeline.py                       # 10K, 100K and 1M orders on DuckDB
    python bench/bench_pipeline.py --orders 10000 100000 --target postgres

Each phase runs in a child process of its own, so that its peak resident memory is
measured alone (Linux reports the largest RSS among a waited child and its descendants,
which includes dbt's own process).
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

RUN = """
import json, sys
from retail_intel.settings import Settings
from retail_intel.warehouse import build_and_publish
settings = Settings.from_env().with_(home=sys.argv[2], raw_dir_override=sys.argv[1], target=sys.argv[3])
result = build_and_publish(settings, log=lambda _: None)
print(json.dumps({"seconds": result.seconds, "orders": result.summary.table_rows["marts.orders"]}))
"""


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
    columns = [("orders", 10), ("generate s", 11), ("gen MiB", 8), ("load s", 7), ("dbt s", 7), ("publish s", 10)]
    columns += [("run s", 7), ("run MiB", 8)]
    header = " ".join(f"{name:>{width}}" for name, width in columns)
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory() as scratch:
        workdir = args.workdir or Path(scratch)
        for orders in args.orders:
            raw_dir = workdir / f"raw_{orders}"
            _, generate_seconds, generate_mib = run_child(GENERATE, str(orders), str(raw_dir))
            home = workdir / f"home_{orders}"
            result, run_seconds, run_mib = run_child(RUN, str(raw_dir), str(home), args.target)
            phases = result["seconds"]
            print(
                f"{orders:>10,} {generate_seconds:>11.1f} {generate_mib:>8.0f} {phases['load']:>7.1f} "
                f"{phases['dbt']:>7.1f} {phases['publish']:>10.1f} {run_seconds:>7.1f} {run_mib:>8.0f}",
                flush=True,
            )
    print("run s = the whole `build_and_publish` child: load + dbt build (models and tests) + publish + summary.")


if __name__ == "__main__":
    main()
