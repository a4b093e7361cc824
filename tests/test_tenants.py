"""The tenant registry and the `tenants` commands: each tenant's raw folder is its own, and no
run replaces tables published from one folder with another's without saying so."""

from __future__ import annotations

import os
import shutil

import duckdb
import pandas as pd
import pytest
from click.testing import CliRunner

from apps.cli import main
from ml.registry import ModelRegistry
from orchestration.lineage import registry_for
from retail_intel.alerts import AlertLedger, CheckOutcome
from retail_intel.raw.fingerprint import raw_folder_fingerprint
from retail_intel.settings import Settings
from retail_intel.switch import EngineSwitch
from retail_intel.tenant_status import STATUS_TABLE, platform_settings, publish_tenant_status
from retail_intel.tenants import TenantError, TenantRegistry, resolve
from retail_intel.warehouse import warehouse_for
from tests.ml.test_registry import log
from tests.support import clean_env, make_settings


@pytest.fixture
def home(tmp_path, monkeypatch):
    for key in [key for key in os.environ if key.startswith("RETAIL_INTEL_")]:
        monkeypatch.delenv(key)
    return tmp_path / "home"


def cli(home, *args: str, input: str | None = None, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, ["--home", str(home), *args], input=input, env=env, catch_exceptions=False)


def test_the_registry_records_tenants_their_folders_and_who_changed_them(home, tmp_path):
    registry = TenantRegistry(home / "platform" / "tenants.sqlite")
    assert registry.list() == [] and registry.get("acme") is None
    registry.add("acme", raw_dir=tmp_path / "acme", display_name="Acme Ltd", by="ana")
    with pytest.raises(TenantError, match="exists already"):
        registry.add("acme", raw_dir=tmp_path / "other", by="ana")
    with pytest.raises(ValueError, match="invalid"):
        registry.add("acme__x", raw_dir=tmp_path, by="ana")  # would share acme's schema prefix
    with pytest.raises(ValueError, match="invalid"):
        registry.add("acme_", raw_dir=tmp_path, by="ana")  # "acme___raw" starts with "acme__"
    registry.set_raw_dir("acme", tmp_path / "acme2", by="bo")
    registry.set_status("acme", "archived", by="bo")

    acme = registry.require("acme")
    assert (acme.display_name, acme.raw_dir, acme.status) == ("Acme Ltd", tmp_path / "acme2", "archived")
    assert (acme.created_by, acme.updated_by) == ("ana", "bo")
    assert registry.list() == [] and [t.tenant_id for t in registry.list(include_archived=True)] == ["acme"]
    assert [(c["changed_by"], c["action"]) for c in registry.changes("acme")] == [
        ("ana", "add"),
        ("bo", "raw folder"),
        ("bo", "status"),
    ]


def test_settings_take_the_registered_folder_unless_one_is_given(home, tmp_path):
    settings = Settings.from_env(clean_env()).with_(home=home, tenant_id="acme")
    assert resolve(settings) == settings  # not registered: nothing changes
    TenantRegistry.of(settings).add("acme", raw_dir=tmp_path / "acme", warehouse=tmp_path / "acme.duckdb", by="t")
    resolved = resolve(settings)
    assert (resolved.raw_dir, resolved.warehouse_path) == (tmp_path / "acme", tmp_path / "acme.duckdb")
    given = resolve(settings.with_(raw_dir_override=tmp_path / "given"))
    assert given.raw_dir == tmp_path / "given"


def test_tenants_add_list_show_and_remove(home, generated_raw_dir, tmp_path):
    added = cli(home, "tenants", "add", "acme", "--raw-dir", str(generated_raw_dir), "--name", "Acme Ltd")
    assert added.exit_code == 0, added.output
    assert f"read-only: {home / 'tenants' / 'acme' / 'warehouse.duckdb'}" in added.output  # its own file
    empty = tmp_path / "empty"
    empty.mkdir()
    second = cli(home, "tenants", "add", "globex", "--raw-dir", str(empty))
    assert second.exit_code == 0 and "does not hold all nine Olist files yet" in second.output
    again = cli(home, "tenants", "add", "acme", "--raw-dir", str(empty))
    assert again.exit_code == 2 and "exists already" in again.output
    hostile = cli(home, "tenants", "add", "x'; drop table tenants; --", "--raw-dir", str(empty))
    assert hostile.exit_code == 2 and "invalid" in hostile.output

    listed = cli(home, "tenants", "list")
    assert listed.exit_code == 0
    lines = listed.output.splitlines()
    assert lines[0].split()[:4] == ["tenant", "name", "status", "engine"]
    assert lines[1].split()[:3] == ["acme", "Acme", "Ltd"] and "never" in lines[1]
    assert lines[2].startswith("globex") and lines[-1] == "2 tenants; engine: 2 on; last run: 2 never run"

    shown = cli(home, "tenants", "show", "acme")
    assert shown.exit_code == 0 and f"raw folder      {generated_raw_dir}" in shown.output
    assert "champions      none yet" in shown.output and " add: raw folder " in shown.output
    assert cli(home, "tenants", "show", "nobody").exit_code == 2

    archived = cli(home, "tenants", "remove", "globex")
    assert archived.exit_code == 0 and "archived" in archived.output
    assert "globex" not in cli(home, "tenants", "list").output
    assert "archived" in cli(home, "tenants", "list", "--all").output


def test_purge_deletes_the_tenants_data_and_nothing_else(home, tmp_path):
    for tenant in ("acme", "globex"):
        assert cli(home, "tenants", "add", tenant, "--raw-dir", str(tmp_path / tenant)).exit_code == 0
        warehouse = home / "tenants" / tenant / "warehouse.duckdb"
        warehouse.parent.mkdir(parents=True)
        with duckdb.connect(str(warehouse)) as connection:
            connection.execute("create schema marts; create table marts.orders as select 1 as one")
    (tmp_path / "acme").mkdir()
    for tenant in ("acme", "globex"):  # a model of each in the one MLflow store, an open alert of each
        log(registry_for(make_settings(home, tenant_id=tenant)), 9.0, model_name=f"{tenant}.forecast")
        AlertLedger(make_settings(home).alert_ledger_path).open(CheckOutcome(tenant, "run", False), "now")

    declined = cli(home, "tenants", "remove", "acme", "--purge", input="n\n")
    assert declined.exit_code == 1 and (home / "tenants" / "acme" / "warehouse.duckdb").exists()
    purged = cli(home, "tenants", "remove", "acme", "--purge", "--yes")
    assert purged.exit_code == 0, purged.output
    assert not (home / "tenants" / "acme").exists() and (tmp_path / "acme").is_dir()  # its raw folder stays
    assert (home / "tenants" / "globex" / "warehouse.duckdb").exists()
    assert TenantRegistry(home / "platform" / "tenants.sqlite").get("acme") is None
    store = ModelRegistry(make_settings(home).mlflow_tracking_uri)
    assert set(store.versions()["model"]) == {"globex.forecast"}
    ledger = AlertLedger(make_settings(home).alert_ledger_path)
    assert ledger.open_breaches(["acme", "globex"]) == {("globex", "run")}
    assert cli(home, "tenants", "remove", "default", "--purge", "--yes").exit_code == 2


def test_a_run_from_another_folder_than_the_published_one_says_so_and_changes_nothing(
    home, generated_raw_dir, tmp_path
):
    """What lost a data team's 100K marts: tables published from one folder replaced by another's."""
    other = tmp_path / "other"
    shutil.copytree(generated_raw_dir, other)
    registry = TenantRegistry(home / "platform" / "tenants.sqlite")
    registry.add("default", raw_dir=generated_raw_dir, by="t")
    registry.record_publish("default", generated_raw_dir, raw_folder_fingerprint(generated_raw_dir))

    refused = cli(home, "run", "--raw-dir", str(other))
    assert refused.exit_code == 2
    assert f"built from {generated_raw_dir}" in refused.output and f"reads {other}" in refused.output
    assert "pass --yes" in refused.output
    assert registry.require("default").raw_dir == generated_raw_dir

    # Nor a folder set in the environment.
    from_env = cli(home, "run", env={"RETAIL_INTEL_RAW_DIR": str(other)})
    assert from_env.exit_code == 2 and f"reads {other}" in from_env.output


def test_api_keys_name_their_tenant_until_revoked_and_only_their_hash_is_kept(home, tmp_path):
    registry = TenantRegistry(home / "platform" / "tenants.sqlite")
    for tenant in ("acme", "globex"):
        registry.add(tenant, raw_dir=tmp_path / tenant, by="t")
    acme_key = registry.create_key("acme", by="ana", label="shop front")
    globex_key = registry.create_key("globex", by="ana")
    assert registry.tenant_for_key(acme_key) == "acme" and registry.tenant_for_key(globex_key) == "globex"
    assert acme_key.split("_", 2)[2] not in registry.path.read_bytes().decode("latin-1")  # the secret is not stored
    for hostile in ("", "ri_", acme_key + "x", acme_key[:-1], "ri_' or 1=1 --_x", "x" * 10_000, "ri_ü_ü"):
        assert registry.tenant_for_key(hostile) is None, hostile

    (listed,) = registry.keys("acme")
    assert (listed["label"], listed["created_by"], listed["revoked_at"]) == ("shop front", "ana", None)
    registry.revoke_key("acme", listed["key_id"], by="bo")
    assert registry.tenant_for_key(acme_key) is None
    with pytest.raises(TenantError, match="no active key"):
        registry.revoke_key("globex", listed["key_id"], by="bo")  # not globex's to revoke

    registry.set_status("globex", "archived", by="bo")
    assert registry.tenant_for_key(globex_key) is None  # an archived tenant's keys stop working
    with pytest.raises(TenantError, match="archived"):
        registry.create_key("globex", by="bo")


def test_tenants_key_commands(home, tmp_path):
    assert cli(home, "tenants", "add", "acme", "--raw-dir", str(tmp_path)).exit_code == 0
    created = CliRunner().invoke(main, ["--home", str(home), "tenants", "key", "create", "acme", "--label", "bi"])
    assert created.exit_code == 0
    key = created.stdout.strip()
    assert TenantRegistry(home / "platform" / "tenants.sqlite").tenant_for_key(key) == "acme"
    key_id = key.split("_")[1]
    listed = cli(home, "tenants", "key", "list", "acme")
    assert key_id in listed.output and "active" in listed.output and "bi" in listed.output
    assert cli(home, "tenants", "key", "revoke", "acme", key_id).exit_code == 0
    assert "revoked" in cli(home, "tenants", "key", "list", "acme").output
    assert cli(home, "tenants", "key", "revoke", "acme", key_id).exit_code == 2
    assert cli(home, "tenants", "key", "create", "nobody").exit_code == 2


def test_each_tenants_last_run_and_champions_are_listed(home, tmp_path):
    registry = TenantRegistry(home / "platform" / "tenants.sqlite")
    for tenant in ("acme", "globex"):
        registry.add(tenant, raw_dir=tmp_path / tenant, by="t")
    registry.record_run("acme", "r1", status="success", failed_checks=0, first_failure=None, champions={})
    registry.record_run(
        "acme",
        "r2",
        status="failed",
        failed_checks=2,
        first_failure="marts/orders:unique_order_id",
        champions={"ml/revenue_forecast": "3", "ml/recommendations": "1"},
        headlines={
            "ml/recommendations": {
                "metric": "hr_at_10",
                "model": "ease",
                "value": 0.1234,
                "baseline": "recent_popularity",
                "baseline_value": 0.0812,
                "higher_is_better": True,
            }
        },
    )
    registry.record_run("nobody", "r3", status="success", failed_checks=0, first_failure=None, champions={})
    last = registry.last_runs()
    assert set(last) == {"acme"}  # an unregistered tenant's run is not recorded
    assert (last["acme"]["run_id"], last["acme"]["failed_checks"]) == ("r2", 2)

    lines = cli(home, "tenants", "list").output.splitlines()
    acme = next(line for line in lines if line.startswith("acme"))
    assert "failed" in acme and "forecast v3, recommender v1" in acme
    assert "recommender hr_at_10 0.123 vs recent_popularity 0.0812" in acme
    assert lines[-1] == "2 tenants; engine: 2 on; last run: 1 failed, 1 never run"


def test_the_operators_table_has_a_row_per_tenant_in_the_platforms_own_warehouse(home, tmp_path):
    settings = Settings.from_env(clean_env()).with_(home=home)
    registry = TenantRegistry.of(settings)
    for tenant in ("acme", "globex", "initech"):
        registry.add(tenant, raw_dir=tmp_path / tenant, by="t")
    with pytest.raises(TenantError, match="reserved"):
        registry.add("platform", raw_dir=tmp_path, by="t")
    registry.record_run(
        "acme",
        "r1",
        status="success",
        failed_checks=0,
        first_failure=None,
        champions={"ml/recommendations": "2"},
        headlines={
            "ml/revenue_forecast": {
                "metric": "wape",
                "value": 0.21,
                "baseline": "seasonal_naive",
                "baseline_value": 0.25,
                "higher_is_better": False,
            }
        },
    )
    registry.record_run("globex", "r2", status="failed", failed_checks=3, first_failure="raw: bad", champions={})
    registry.set_status("initech", "archived", by="t")
    EngineSwitch(settings.with_(tenant_id="globex").engine_switch_path).set("frozen", by="t", reason="unhappy")

    assert publish_tenant_status(settings) == 3
    table = warehouse_for(platform_settings(settings)).read(*STATUS_TABLE).set_index("tenant_id")
    assert list(table.index) == ["acme", "globex", "initech"]
    assert table.loc["acme", "recommender_champion"] == "2" and table.loc["acme", "last_run_status"] == "success"
    assert (table.loc["acme", "forecast_wape"], table.loc["acme", "forecast_best_baseline_wape"]) == (0.21, 0.25)
    assert table.loc["acme", "forecast_best_baseline"] == "seasonal_naive"
    assert pd.isna(table.loc["globex", "forecast_wape"]) and table["forecast_wape"].dtype == "float64"
    assert (table.loc["globex", "engine"], table.loc["globex", "failed_checks"]) == ("frozen", 3)
    assert table.loc["initech", "status"] == "archived" and table.loc["initech", "last_run_status"] == "never run"
    assert pd.isna(table.loc["initech", "last_run_at"]) and not pd.isna(table.loc["acme", "last_run_at"])
    # Nothing of it lands in a client's warehouse.
    assert not (home / "tenants" / "acme" / "warehouse.duckdb").exists()


def test_all_tenants_children_take_their_folder_and_file_from_the_registry(monkeypatch):
    """A warehouse file or raw folder set in the environment would send every tenant's run to it."""
    from apps.cli.run_all import _child_env

    monkeypatch.setenv("RETAIL_INTEL_WAREHOUSE", "/tmp/one.duckdb")
    monkeypatch.setenv("RETAIL_INTEL_RAW_DIR", "/tmp/one")
    monkeypatch.setenv("RETAIL_INTEL_HOME", "/tmp/home")
    env = _child_env()
    assert "RETAIL_INTEL_WAREHOUSE" not in env and "RETAIL_INTEL_RAW_DIR" not in env
    assert env["RETAIL_INTEL_HOME"] == "/tmp/home"


def test_a_registry_file_of_an_earlier_version_gains_the_new_columns(home, tmp_path):
    import sqlite3

    path = home / "platform" / "tenants.sqlite"
    path.parent.mkdir(parents=True)
    with sqlite3.connect(path) as connection:  # tenant_runs as it was before headlines were recorded
        connection.execute(
            "CREATE TABLE tenant_runs (tenant_id TEXT NOT NULL, run_id TEXT NOT NULL, finished_at TEXT NOT NULL,"
            " status TEXT NOT NULL, failed_checks INTEGER NOT NULL, first_failure TEXT, champions TEXT NOT NULL)"
        )
    registry = TenantRegistry(path)
    registry.add("acme", raw_dir=tmp_path, by="t")
    registry.record_run("acme", "r1", status="success", failed_checks=0, first_failure=None, champions={})
    assert registry.last_runs()["acme"]["headlines"] == {}


def test_a_warehouse_file_belongs_to_one_tenant(home, tmp_path):
    registry = TenantRegistry(home / "platform" / "tenants.sqlite")
    registry.add("acme", raw_dir=tmp_path / "acme", warehouse=tmp_path / "shared.duckdb", by="t")
    with pytest.raises(TenantError, match="is the warehouse of tenant 'acme'"):
        registry.add("globex", raw_dir=tmp_path / "globex", warehouse=tmp_path / "shared.duckdb", by="t")
    inside = home / "tenants" / "acme" / "other.duckdb"
    with pytest.raises(TenantError, match="tenant 'acme'"):
        registry.add("globex", raw_dir=tmp_path / "globex", warehouse=inside, by="t")
    refused = cli(home, "tenants", "add", "initech", "--raw-dir", str(tmp_path), "--warehouse", str(inside))
    assert refused.exit_code == 2 and "tenant 'acme'" in refused.output
    assert registry.get("globex") is None and registry.get("initech") is None
    registry.add("globex", raw_dir=tmp_path / "globex", warehouse=tmp_path / "globex.duckdb", by="t")


def test_a_purge_leaves_no_run_or_key_behind_but_keeps_the_audit(home, tmp_path):
    registry = TenantRegistry(home / "platform" / "tenants.sqlite")
    registry.add("acme", raw_dir=tmp_path, by="t")
    registry.create_key("acme", by="t")
    registry.record_run("acme", "r1", status="success", failed_checks=0, first_failure=None, champions={})
    registry.delete("acme", by="operator")
    import sqlite3

    with sqlite3.connect(registry.path) as connection:
        for table in ("tenants", "api_keys", "tenant_runs"):
            assert connection.execute(f"select count(*) from {table} where tenant_id = 'acme'").fetchone() == (0,)
    assert [change["action"] for change in registry.changes("acme")][-1] == "purge"


def _two_tenants_acme_keyed(home, tmp_path):
    """acme and globex registered, acme with an API key: settings, registry, the key."""
    settings = Settings.from_env(clean_env()).with_(home=home)
    registry = TenantRegistry.of(settings)
    for tenant in ("acme", "globex"):
        registry.add(tenant, raw_dir=tmp_path / tenant, by="t")
    return settings, registry, registry.create_key("acme", by="t")


def test_keys_stay_required_while_any_live_key_exists(home, tmp_path):
    from apps.api.tenancy import default_multi_tenant

    settings, registry, _ = _two_tenants_acme_keyed(home, tmp_path)
    assert default_multi_tenant(settings)
    registry.set_status("globex", "archived", by="t")  # down to one active tenant: its key still counts
    assert default_multi_tenant(settings)
    (key,) = registry.keys("acme")
    registry.revoke_key("acme", key["key_id"], by="t")
    assert not default_multi_tenant(settings)


def test_no_command_runs_as_the_reserved_platform_tenant(home):
    result = cli(home, "--tenant", "platform", "run")
    assert result.exit_code == 2 and "reserved for the operator's own tables" in result.output


def test_all_tenants_never_reports_an_earlier_runs_failure_as_this_ones(home, tmp_path):
    from apps.cli.run_all import _detail

    registry = TenantRegistry(home / "platform" / "tenants.sqlite")
    tenant = registry.add("acme", raw_dir=tmp_path, by="t")
    registry.record_run("acme", "r1", status="failed", failed_checks=0, first_failure="raw: last week's", champions={})
    before = registry.last_runs()["acme"]
    log = tmp_path / "child.log"
    log.write_text("Killed\n")  # this run died before recording anything
    assert "last week's" not in _detail(registry, tenant, 137, log, before)
    registry.record_run("acme", "r2", status="failed", failed_checks=0, first_failure="raw: today's", champions={})
    assert _detail(registry, tenant, 2, log, before).startswith("raw: today's")


def test_a_raw_folder_belongs_to_one_active_tenant(home, tmp_path):
    shared = tmp_path / "acme-raw"
    assert cli(home, "tenants", "add", "acme", "--raw-dir", str(shared)).exit_code == 0
    registry = TenantRegistry(home / "platform" / "tenants.sqlite")
    for spelling in (shared, tmp_path / "elsewhere" / ".." / "acme-raw"):  # the same folder, however written
        refused = cli(home, "tenants", "add", "globex", "--raw-dir", str(spelling))
        assert refused.exit_code == 2 and f"{shared} is the raw folder of tenant 'acme'" in refused.output
    inside = cli(home, "tenants", "add", "globex", "--raw-dir", str(home / "tenants" / "acme" / "raw"))
    assert inside.exit_code == 2 and "lies in the folder of tenant 'acme'" in inside.output  # acme's purge deletes it
    assert registry.get("globex") is None and [c["action"] for c in registry.changes("globex")] == []
    again = cli(home, "tenants", "add", "acme", "--raw-dir", str(shared))
    assert again.exit_code == 2 and "exists already" in again.output  # its own id's message first

    registry.set_status("acme", "archived", by="t")  # automation no longer reads it for acme
    assert cli(home, "tenants", "add", "globex", "--raw-dir", str(shared)).exit_code == 0
    assert registry.require("globex").raw_dir == shared


def test_archiving_the_tenant_that_holds_the_keys_keeps_keys_required(home, tmp_path):
    from apps.api.tenancy import default_multi_tenant

    settings, registry, key = _two_tenants_acme_keyed(home, tmp_path)
    assert cli(home, "tenants", "remove", "acme").exit_code == 0  # archived: one active tenant left, without keys
    assert registry.tenant_for_key(key) is None  # acme's key is refused ...
    assert registry.has_live_keys() and default_multi_tenant(settings)  # ... and keys are still required
    (listed,) = registry.keys("acme")
    registry.revoke_key("acme", listed["key_id"], by="t")
    assert not registry.has_live_keys() and not default_multi_tenant(settings)


def test_purging_the_tenant_that_holds_the_keys_keeps_keys_required(home, tmp_path):
    from apps.api.tenancy import default_multi_tenant

    settings, registry, _ = _two_tenants_acme_keyed(home, tmp_path)
    registry.delete("acme", by="t")  # gone with its keys: one tenant left, with none
    assert [tenant.tenant_id for tenant in registry.list()] == ["globex"]
    # Not a revocation: globex, served behind keys until now, is not opened to everyone.
    assert registry.has_live_keys() and default_multi_tenant(settings)


def test_two_adds_of_one_id_at_once_give_the_second_a_tenant_error(home, tmp_path, monkeypatch):
    """Another process registers the id between this add's check and its insert."""
    import sqlite3

    registry = TenantRegistry(home / "platform" / "tenants.sqlite")
    registry.add("globex", raw_dir=tmp_path / "globex", by="t")
    connect, raced = sqlite3.connect, []

    class Racing(sqlite3.Connection):
        def execute(self, sql, *args):
            if sql.startswith("INSERT INTO tenants") and not raced:
                raced.append(sql)
                TenantRegistry(registry.path).add("acme", raw_dir=tmp_path / "first", by="first")
            return super().execute(sql, *args)

    monkeypatch.setattr(sqlite3, "connect", lambda *args, **kwargs: connect(*args, factory=Racing, **kwargs))
    with pytest.raises(TenantError, match="'acme' exists already"):
        registry.add("acme", raw_dir=tmp_path / "second", by="second")
    assert raced
    acme = registry.require("acme")
    assert (acme.created_by, acme.raw_dir) == ("first", tmp_path / "first")
    assert [c["changed_by"] for c in registry.changes("acme")] == ["first"]  # the loser's audit row rolled back


def test_each_tenants_last_run_is_the_last_recorded_even_within_one_second(home, tmp_path, monkeypatch):
    import retail_intel.tenants

    registry = TenantRegistry(home / "platform" / "tenants.sqlite")
    for tenant in ("acme", "globex"):
        registry.add(tenant, raw_dir=tmp_path / tenant, by="t")
    monkeypatch.setattr(retail_intel.tenants, "_now", lambda: "2026-01-01T00:00:00+00:00")
    for run_id in ("a1", "g1", "a2", "a3", "g2"):
        tenant = "acme" if run_id.startswith("a") else "globex"
        registry.record_run(tenant, run_id, status="success", failed_checks=0, first_failure=None, champions={})
    for _ in range(3):  # the same answer every time
        assert {tenant: run["run_id"] for tenant, run in registry.last_runs().items()} == {"acme": "a3", "globex": "g2"}
    registry.delete("globex", by="t")
    registry.record_run("acme", "a4", status="failed", failed_checks=1, first_failure="x", champions={})
    assert {tenant: run["run_id"] for tenant, run in registry.last_runs().items()} == {"acme": "a4"}


def test_a_run_with_another_tenants_warehouse_is_a_usage_error(home, tmp_path):
    registry = TenantRegistry(home / "platform" / "tenants.sqlite")
    registry.add("acme", raw_dir=tmp_path / "acme", warehouse=tmp_path / "acme.duckdb", by="t")
    result = cli(home, "--tenant", "globex", "run", "--warehouse", str(tmp_path / "acme.duckdb"))
    assert result.exit_code == 2 and "is the warehouse of tenant 'acme'" in result.output
    assert registry.get("globex") is None


def test_serve_stops_with_the_rules_file_at_fault(home, tmp_path, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("the server started with a malformed rules file")

    monkeypatch.setattr("uvicorn.run", never)
    rules = tmp_path / "rules.yml"
    rules.write_text("max_per_category: -3\n")
    result = cli(home, "serve", "--single-tenant", env={"RETAIL_INTEL_RULES": str(rules)})
    assert result.exit_code == 2 and str(rules) in result.output


def test_a_run_cannot_point_a_tenant_at_another_active_tenants_folder(home, tmp_path):
    registry = TenantRegistry(home / "platform" / "tenants.sqlite")
    registry.add("acme", raw_dir=tmp_path / "acme", by="t")
    registry.add("globex", raw_dir=tmp_path / "globex", by="t")
    with pytest.raises(TenantError, match="is the raw folder of tenant 'acme'"):
        registry.set_raw_dir("globex", tmp_path / "acme", by="t")
    assert registry.get("globex").raw_dir == (tmp_path / "globex").resolve()
    (tmp_path / "acme").mkdir()
    refused = cli(home, "--tenant", "globex", "run", "--raw-dir", str(tmp_path / "acme"), "--yes")
    assert refused.exit_code == 2 and "is the raw folder of tenant 'acme'" in refused.output
    registry.set_status("acme", "archived", by="t")  # an archived tenant's folder may be taken over
    assert registry.set_raw_dir("globex", tmp_path / "acme", by="t").raw_dir == (tmp_path / "acme").resolve()
