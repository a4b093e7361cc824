"""A run's alerts end to end: bad raw files fail the run and a blocking check, which sends one
alert each to the tenant's alerts file; the same failure again sends nothing; good files clear
both, once."""

import json
import shutil

from tests.support import build_warehouse, make_settings


def sent(settings) -> list[tuple[str, str]]:
    path = settings.alerts_path
    lines = path.read_text().splitlines() if path.exists() else []
    return [(alert["state"], alert["check"]) for alert in map(json.loads, lines)]


def test_a_breach_is_sent_once_and_cleared_once(tmp_path, generated_raw_dir):
    raw = tmp_path / "raw"
    shutil.copytree(generated_raw_dir, raw)
    orders = raw / "olist_orders_dataset.csv"
    good = orders.read_text(encoding="utf-8")
    lines = good.splitlines(keepends=True)
    orders.write_text("".join(lines + lines[1:3]), encoding="utf-8")  # two order ids twice
    settings = make_settings(tmp_path / "home", raw_dir_override=raw)
    duplicate = "raw/olist_orders_dataset:orders_order_id_unique"

    assert not build_warehouse(settings).success
    first = sent(settings)
    assert ("breach", "run") in first and ("breach", duplicate) in first
    alert = json.loads(settings.alerts_path.read_text().splitlines()[0])
    assert alert["tenant_id"] == "default" and alert["run_id"]

    assert not build_warehouse(settings).success
    assert sent(settings) == first, "the same breach was sent twice"

    orders.write_text(good, encoding="utf-8")
    assert build_warehouse(settings).success
    after = sent(settings)[len(first) :]
    assert {("cleared", "run"), ("cleared", duplicate)} <= set(after)
    # Whatever else this run reported (a warning-level check of the marts, which the first runs
    # never reached) is its own news, sent once.
    assert all(state == "breach" and check.startswith("marts/") for state, check in after if state != "cleared")
    assert build_warehouse(settings).success
    assert sent(settings) == first + after, "a good run repeated an alert"


def test_a_run_the_daemon_launched_alerts_through_the_sensors(tmp_path, generated_raw_dir):
    """A run not started by `retail-intel run` (the UI's, the schedule's): the failure sensor
    reads its events back and sends the same alerts, to the run's tenant."""
    import dagster as dg

    from orchestration.alert_sensors import alerts_after_failure
    from orchestration.definitions_builder import build_definitions
    from orchestration.partitions import TENANT_PARTITIONS
    from orchestration.resources import WarehouseResource
    from retail_intel.tenants import TenantRegistry

    raw = tmp_path / "raw"
    shutil.copytree(generated_raw_dir, raw)
    orders = raw / "olist_orders_dataset.csv"
    lines = orders.read_text(encoding="utf-8").splitlines(keepends=True)
    orders.write_text("".join(lines + lines[1:2]), encoding="utf-8")
    home = tmp_path / "home"
    TenantRegistry(home / "platform" / "tenants.sqlite").add("acme", raw_dir=raw, by="test")
    location = make_settings(home)  # the code location's own tenant is the default one
    job = build_definitions(location).resolve_job_def("build_warehouse")
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(TENANT_PARTITIONS, ["acme"])
        result = job.execute_in_process(instance=instance, partition_key="acme", raise_on_error=False)
        assert not result.success
        acme = make_settings(home, tenant_id="acme")
        assert not acme.alerts_path.exists(), "execute_in_process sends no alert itself"
        context = dg.build_run_status_sensor_context(
            sensor_name="alerts_after_failure",
            dagster_event=result.get_run_failure_event(),
            dagster_instance=instance,
            dagster_run=result.dagster_run,
            resources={"warehouse": WarehouseResource.from_settings(location)},
        ).for_run_failure()
        alerts_after_failure(context)
    assert {("breach", "run"), ("breach", "raw/olist_orders_dataset:orders_order_id_unique")} <= set(sent(acme))
    assert not location.alerts_path.exists(), "the code location's own tenant got another tenant's alerts"
