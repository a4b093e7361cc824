"""The installed console script, run the way a user runs it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb

# The script beside this interpreter: the venv's own bin/, used by full path.
RETAIL_INTEL = str(Path(sys.executable).parent / "retail-intel")


def _unactivated_env() -> dict[str, str]:
    """The venv NOT activated: its bin/ is not on PATH and VIRTUAL_ENV is unset."""
    venv_bin = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETAIL_INTEL_") and k != "VIRTUAL_ENV"}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin)
    return env


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [RETAIL_INTEL, *args], cwd=cwd, env=_unactivated_env(), capture_output=True, text=True, timeout=600
    )


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

    # dbt's docs site of the same warehouse: the lineage and the catalog of the published marts.
    documented = run_cli("docs", cwd=tmp_path)
    assert documented.returncode == 0, documented.stdout + documented.stderr
    site = Path(documented.stdout.strip().rsplit(": ", 1)[1]).parent
    catalog = json.loads((site / "catalog.json").read_text())["nodes"]
    assert catalog["model.retail_intel.orders"]["metadata"]["schema"] == "marts"
    assert "customer_unique_id" in catalog["model.retail_intel.orders"]["columns"]
    manifest = json.loads((site / "manifest.json").read_text())
    assert manifest["parent_map"]["model.retail_intel.orders"] == ["model.retail_intel.int_orders__enriched"]
    # The exposures (dashboard, Tableau) with the score tables they read, in the docs' lineage.
    dashboard = manifest["exposures"]["exposure.retail_intel.retail_intel_dashboard"]
    assert "source.retail_intel.ml.segment_movement" in dashboard["depends_on"]["nodes"]
    assert "exposure.retail_intel.tableau_data_sources" in manifest["exposures"]
    assert (site / "index.html").exists()
    assert not list(site.parent.glob(".warehouse.build*")), "the docs' workspace is cleared"

    # Tableau extracts of the same warehouse, coupon targets included (scored above).
    exported = run_cli("export", "tableau", cwd=tmp_path)
    assert exported.returncode == 0, exported.stdout + exported.stderr
    extracts = dict(re.findall(r"^\s+(\w+)\.hyper\s+([\d,]+) rows$", exported.stdout, re.MULTILINE))
    with duckdb.connect(str(warehouse), read_only=True) as con:
        segmented = con.execute("select count(*) from ml.customer_segments").fetchone()[0]
        targeted = con.execute("select count(*) from ml.coupon_targets").fetchone()[0]
    assert extracts["customer_segments"] == f"{segmented:,}" and extracts["coupon_targets"] == f"{targeted:,}"
    assert set(extracts) == {
        "customer_segments",
        "segment_summary",
        "segment_movement",
        "customer_rfm",
        "revenue_and_forecast",
        "coupon_targets",
    }
    assert (tmp_path / ".retail-intel" / "tenants" / "default" / "tableau" / "customer_rfm.hyper").exists()
    assert "No live data source: the warehouse is a DuckDB file" in exported.stdout


def test_generate_then_run_then_bad_input(tmp_path):
    raw = tmp_path / "raw"
    generated = run_cli("generate", "--orders", "1500", "--seed", "3", "--out", str(raw), cwd=tmp_path)
    assert generated.returncode == 0, generated.stderr
    assert "olist_orders_dataset.csv" in generated.stdout and (raw / "olist_orders_dataset.csv").exists()

    built = run_cli("--home", str(tmp_path / "home"), "run", "--raw-dir", str(raw), cwd=tmp_path)
    assert built.returncode == 0, built.stdout + built.stderr

    assert "44 assets materialized" in built.stdout
    assert "ml/recommendations" in built.stdout and "serving/customer_recommendations" in built.stdout
    assert f"Registered tenant 'default' with raw folder {raw}" in built.stdout

    # What `retail-intel dev` then starts on this home: its sensor must not rebuild the tenant
    # (it did, from the shipped sample, replacing these marts within seconds).
    import dagster as dg

    from orchestration.automation import new_raw_files
    from orchestration.resources import WarehouseResource

    as_dev_sees_it = WarehouseResource(home=str(tmp_path / "home"), tenant_id="default", target="duckdb")
    evaluation = new_raw_files(dg.build_sensor_context(resources={"warehouse": as_dev_sees_it}))
    assert isinstance(evaluation, dg.SkipReason) and "changed since it was last published" in evaluation.skip_message
    listed = run_cli("--home", str(tmp_path / "home"), "tenants", "list", cwd=tmp_path)
    assert listed.returncode == 0 and "never" not in listed.stdout and str(raw) in listed.stdout

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


def _start_cli(*args: str, cwd: Path) -> subprocess.Popen:
    """Like run_cli, without waiting."""
    return subprocess.Popen(
        [RETAIL_INTEL, *args],
        cwd=cwd,
        env=_unactivated_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _when_step_runs(dagster_home: Path, step: str, process: subprocess.Popen, timeout: float = 300) -> str:
    """The id of the run once its ``step`` has started (read from the run's event log)."""
    import dagster as dg

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if (dagster_home / "dagster.yaml").exists():
            with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
                for run in instance.get_runs(limit=1):
                    records = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.STEP_START).records
                    if any(record.event_log_entry.step_key == step for record in records):
                        return run.run_id
        time.sleep(0.5)
    raise AssertionError(f"step {step} did not start: {process.poll()=}")


def test_a_stop_signal_during_dbt_or_training_stops_the_run_and_the_next_run_succeeds(tmp_path):
    import dagster as dg

    raw, home = tmp_path / "raw", tmp_path / "home"
    assert run_cli("generate", "--orders", "1500", "--seed", "5", "--out", str(raw), cwd=tmp_path).returncode == 0
    tenant = home / "tenants" / "default"
    warehouse = tenant / "warehouse.duckdb"
    for step, stop in (("dbt_models", signal.SIGTERM), ("ml__recommendations", signal.SIGINT)):
        process = _start_cli("--home", str(home), "run", "--raw-dir", str(raw), cwd=tmp_path)
        run_id = _when_step_runs(home / "platform" / "dagster", step, process)
        time.sleep(1)  # into the step's work
        process.send_signal(stop)
        sent = time.monotonic()
        out, err = process.communicate(timeout=120)
        stopped_after = time.monotonic() - sent
        assert process.returncode == 128 + stop, out + err
        # Before the change a SIGTERM could be lost and the run went on for a minute and more.
        assert stopped_after < 20, f"stopped {stopped_after:.1f} s after {stop.name}"
        assert f"stopped by {stop.name}" in err and run_id in err
        with dg.DagsterInstance.from_config(str(home / "platform" / "dagster")) as instance:
            assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.CANCELED
        # Nothing half-published, no workspace left behind.
        assert not list(tenant.glob(".warehouse.*")), list(tenant.iterdir())
        if step == "dbt_models":
            assert "published before the stop: raw: " in err and "marts" not in err.split("published before")[1]
        else:
            assert "marts: " in err and "ml: recommendations" not in err
            # The marts published before the stop are whole.
            with duckdb.connect(str(warehouse), read_only=True) as con:
                assert con.execute("select count(*) from marts.customer_rfm").fetchone()[0] > 0

    after = run_cli("--home", str(home), "run", "--raw-dir", str(raw), cwd=tmp_path)
    assert after.returncode == 0, after.stdout + after.stderr
    assert "ml/recommendations" in after.stdout


def test_all_tenants_run_each_from_its_own_folder_and_one_bad_folder_fails_only_its_own(tmp_path):
    home = str(tmp_path / "home")
    orders = {}
    for seed, tenant in enumerate(("acme", "globex", "initech"), start=1):
        raw = tmp_path / tenant
        generated = run_cli(
            "generate", "--orders", str(400 * seed), "--seed", str(seed), "--out", str(raw), cwd=tmp_path
        )
        assert generated.returncode == 0, generated.stderr
        orders[tenant] = sum(1 for _ in (raw / "olist_orders_dataset.csv").open()) - 1
        assert run_cli("--home", home, "tenants", "add", tenant, "--raw-dir", str(raw), cwd=tmp_path).returncode == 0
    (tmp_path / "empty").mkdir()
    added = run_cli("--home", home, "tenants", "add", "broken", "--raw-dir", str(tmp_path / "empty"), cwd=tmp_path)
    assert added.returncode == 0 and "does not hold all nine Olist files yet" in added.stdout

    result = run_cli("--home", home, "run", "--all-tenants", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if line.startswith("  ")}
    assert all(" ok " in lines[tenant] for tenant in orders), result.stdout
    assert "failed (exit 2)" in lines["broken"] and "file not found" in lines["broken"]
    assert re.search(r"^4 tenants in [\d.]+ s: 3 ok, 1 failed \(broken\)$", result.stdout, re.MULTILINE)
    for tenant, count in orders.items():  # each built from its own files, in its own warehouse
        warehouse = tmp_path / "home" / "tenants" / tenant / "warehouse.duckdb"
        with duckdb.connect(str(warehouse), read_only=True) as con:
            assert con.execute("select count(*) from raw.olist_orders_dataset").fetchone()[0] == count

    # One Dagster instance (the platform's) holds every tenant's run, each as its own partition.
    import dagster as dg

    with dg.DagsterInstance.from_config(str(tmp_path / "home" / "platform" / "dagster")) as instance:
        runs = {run.tags["dagster/partition"]: run.status for run in instance.get_runs()}
        assert sorted(instance.get_dynamic_partitions("tenant")) == ["acme", "broken", "globex", "initech"]
    assert runs == {tenant: dg.DagsterRunStatus.SUCCESS for tenant in orders} | {"broken": dg.DagsterRunStatus.FAILURE}
    listed = run_cli("--home", home, "tenants", "list", cwd=tmp_path).stdout
    assert listed.splitlines()[-1] == "4 tenants; engine: 4 on; last run: 1 failed, 3 success"
    # The operator's table, refreshed by each run, in the platform's own warehouse.
    with duckdb.connect(str(tmp_path / "home" / "tenants" / "platform" / "warehouse.duckdb"), read_only=True) as con:
        outcomes = dict(con.execute("select tenant_id, last_run_status from ops.tenant_status").fetchall())
        # Each model's headline figure beside its best simple baseline's, from the run's own evaluation.
        figures = con.execute(
            "select recommender_hr_at_10, recommender_best_baseline, recommender_best_baseline_hr_at_10 "
            "from ops.tenant_status where last_run_status = 'success'"
        ).fetchall()
    assert len(figures) == 3 and all(
        0 <= ours <= 1 and baseline in ("global_popularity", "recent_popularity") and 0 <= theirs <= 1
        for ours, baseline, theirs in figures
    ), figures
    assert outcomes == {"acme": "success", "globex": "success", "initech": "success", "broken": "failed"}
    assert all("recommender v1" in line for line in listed.splitlines() if line.split()[0] in orders)
