"""Run dbt against the packaged project, for one tenant and one warehouse.

dbt runs in a child process started from this interpreter (``python -c "from dbt.cli.main import cli; cli()"``)
rather than in-process: dbt keeps adapter and connection state in module globals, and a
DuckDB handle left open by it would keep pointing at a file we have since replaced. It
also makes the command independent of PATH, so an un-activated virtual environment works.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from retail_intel.settings import Settings

# dbt prints one line per node as it finishes: "06:55:02  3 of 42 OK created sql table model ...".
# Passing tests are counted in the summary rather than listed: there are hundreds.
_NODE_FINISHED = re.compile(r"^(?:\d\d:\d\d:\d\d\s+)?(\d+ of \d+ (?:OK|ERROR|FAIL|WARN|SKIP)\b.*)$")


class DbtBuildError(Exception):
    """dbt failed: a model did not build or a test did not pass."""


@dataclass(frozen=True)
class DbtResult:
    models: int
    tests: int
    unit_tests: int
    warnings: list[str]


def dbt_environment(settings: Settings, duckdb_path: Path | None = None) -> dict[str, str]:
    env = dict(settings.env or os.environ)
    env.update(
        DBT_TARGET_PATH=str(settings.dbt_state_dir / "target"),
        DBT_LOG_PATH=str(settings.dbt_state_dir / "logs"),
        DBT_PROFILES_DIR=str(settings.dbt_profiles_dir),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        DO_NOT_TRACK="1",
        DBT_USE_COLORS="false",
        RETAIL_INTEL_DUCKDB_PATH=str(duckdb_path or settings.warehouse_path),
    )
    return env


def dbt_command(
    settings: Settings, command: str, dbt_vars: dict[str, object], extra: list[str] | None = None
) -> list[str]:
    return [
        sys.executable,
        "-c",
        # Equivalent to the `dbt` script next to this interpreter, without relying on PATH.
        "from dbt.cli.main import cli; cli()",
        command,
        "--project-dir",
        str(settings.dbt_project_dir),
        "--target",
        settings.target,
        "--vars",
        json.dumps(dbt_vars),
        *(extra or []),
    ]


def failures_from_run_results(run_results: dict) -> tuple[list[str], list[str]]:
    errors, warnings = [], []
    for result in run_results.get("results", []):
        status = result.get("status")
        name = result.get("unique_id", "?").split(".", 2)[-1]
        message = (result.get("message") or "").strip()
        failing_rows = result.get("failures")
        detail = f"{name}: {message or status}" + (f" ({failing_rows} failing rows)" if failing_rows else "")
        if status in ("error", "fail", "runtime error"):
            errors.append(detail)
        elif status == "warn":
            warnings.append(detail)
    return errors, warnings


def dbt_build(
    settings: Settings,
    dbt_vars: dict[str, object],
    *,
    duckdb_path: Path | None = None,
    log: Callable[[str], None] = print,
) -> DbtResult:
    """``dbt build`` (models, data tests and unit tests); raises DbtBuildError on any failure."""
    settings.dbt_state_dir.mkdir(parents=True, exist_ok=True)
    run_results_path = settings.dbt_state_dir / "target" / "run_results.json"
    run_results_path.unlink(missing_ok=True)
    process = subprocess.Popen(
        dbt_command(settings, "build", dbt_vars),
        env=dbt_environment(settings, duckdb_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    assert process.stdout is not None
    for line in process.stdout:
        output.append(line.rstrip())
        finished = _NODE_FINISHED.match(line.strip())
        if finished:
            log(f"  dbt {finished.group(1)}")
    returncode = process.wait()

    if not run_results_path.exists():
        tail = "\n".join(output[-25:])
        raise DbtBuildError(f"dbt build did not run (exit {returncode}):\n{tail}")
    run_results = json.loads(run_results_path.read_text())
    errors, warnings = failures_from_run_results(run_results)
    if returncode != 0 or errors:
        listing = "\n".join(f"  - {error}" for error in errors) or "\n".join(output[-25:])
        raise DbtBuildError(f"dbt build failed; nothing was published:\n{listing}")

    kinds = [result.get("unique_id", "").split(".", 1)[0] for result in run_results.get("results", [])]
    return DbtResult(
        models=kinds.count("model"),
        tests=kinds.count("test"),
        unit_tests=kinds.count("unit_test"),
        warnings=warnings,
    )
