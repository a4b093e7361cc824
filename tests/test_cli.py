"""The installed console script, run the way a user runs it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb

# The script beside this interpreter: the venv's own bin/, used by full path.
RETAIL_INTEL = str(Path(sys.executable).parent / "retail-intel")


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run with the venv NOT activated: its bin/ is not on PATH and VIRTUAL_ENV is unset."""
    venv_bin = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETAIL_INTEL_") and k != "VIRTUAL_ENV"}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin)
    return subprocess.run([RETAIL_INTEL, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_run_on_shipped_sample_from_any_directory(tmp_path):
    result = run_cli("run", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    warehouse = tmp_path / ".retail-intel" / "tenants" / "default" / "warehouse.duckdb"
    assert "using the sample data shipped with the package" in result.stdout
    assert f"Warehouse: {warehouse}" in result.stdout
    assert "Purchase days: 20" in result.stdout
    with duckdb.connect(str(warehouse), read_only=True) as con:
        orders = con.execute("select count(*) from marts.orders").fetchone()[0]
    assert re.search(rf"^\s+marts\.orders\s+{orders:,}$", result.stdout, re.MULTILINE)
    assert orders > 1000

    # Activation and the switch, on the same run.
    scored = run_cli("score", "--coupon", "0.002", "--high-visibility", "0.01", cwd=tmp_path)
    assert scored.returncode == 0, scored.stdout + scored.stderr
    assert "ml.coupon_targets:" in scored.stdout and "expected_purchases" in scored.stdout
    campaign = Path(scored.stdout.strip().splitlines()[-1].rsplit(": ", 1)[1])
    with duckdb.connect(str(warehouse), read_only=True) as con:
        bands = dict(con.execute("select band, count(*) from ml.coupon_targets group by band").fetchall())
    assert sum(1 for _ in campaign.open()) - 1 == bands.get("coupon", 0) + bands.get("high_visibility", 0)
    assert run_cli("engine", "off", "--reason", "audit", cwd=tmp_path).returncode == 0
    refused = run_cli("score", cwd=tmp_path)
    assert refused.returncode == 1 and "the recommendation engine is off" in refused.stderr
    status = run_cli("engine", "status", cwd=tmp_path)
    assert "engine: off" in status.stdout and "on -> off" in status.stdout and "audit" in status.stdout


def test_generate_then_run_then_bad_input(tmp_path):
    raw = tmp_path / "raw"
    generated = run_cli("generate", "--orders", "1500", "--seed", "3", "--out", str(raw), cwd=tmp_path)
    assert generated.returncode == 0, generated.stderr
    assert "olist_orders_dataset.csv" in generated.stdout and (raw / "olist_orders_dataset.csv").exists()

    built = run_cli("--home", str(tmp_path / "home"), "run", "--raw-dir", str(raw), cwd=tmp_path)
    assert built.returncode == 0, built.stdout + built.stderr

    assert "38 assets materialized" in built.stdout
    assert "ml/recommendations" in built.stdout and "serving/customer_recommendations" in built.stdout

    (raw / "olist_products_dataset.csv").unlink()
    failed = run_cli("--home", str(tmp_path / "home"), "run", "--raw-dir", str(raw), cwd=tmp_path)
    assert failed.returncode == 2, failed.stdout + failed.stderr
    assert "error: the run failed:" in failed.stderr
    assert f"olist_products_dataset.csv: file not found in {raw}" in failed.stderr
    assert "Not materialized in this run: raw: " in failed.stderr
    assert "Nothing was published by the failed step or after it; those tables are unchanged." in failed.stderr


def test_invalid_tenant_is_a_usage_error(tmp_path):
    result = run_cli("--tenant", "Robert'); drop table", "run", cwd=tmp_path)
    assert result.returncode == 2
    assert "tenant id" in result.stderr and "is invalid" in result.stderr
