"""Alerts for runs that `retail-intel run` did not start: the Dagster UI's, the schedule's, the
sensors' and backfills', all launched by the daemon. When such a run finishes, these sensors
read its events back from the instance and send what `retail-intel run` sends at its end
(orchestration/alerting.py); the ledger sends each breach once, so a run seen by both sends
nothing twice."""

import dagster as dg

from orchestration.alerting import alert_on_run
from orchestration.resources import WarehouseResource
from orchestration.runner import report_from_events


def _alert(context: dg.RunStatusSensorContext, warehouse: WarehouseResource, success: bool) -> None:
    run = context.dagster_run
    own = warehouse.settings()
    tenant = run.tags.get("dagster/partition") or own.tenant_id
    settings = (
        own if tenant == own.tenant_id else own.with_(tenant_id=tenant, raw_dir_override=None, warehouse_override=None)
    )
    events = [entry.dagster_event for entry in context.instance.all_logs(run.run_id) if entry.dagster_event]
    report = report_from_events(events, success=success, log=lambda _: None)
    delivery = alert_on_run(settings, report, run.run_id)
    for error in delivery.errors:
        context.log.warning(f"an alert sink failed: {error}")


@dg.run_status_sensor(run_status=dg.DagsterRunStatus.SUCCESS, default_status=dg.DefaultSensorStatus.RUNNING)
def alerts_after_success(context: dg.RunStatusSensorContext, warehouse: WarehouseResource):
    """A tenant's run succeeded: its failing checks are sent, the cleared ones too."""
    _alert(context, warehouse, success=True)


@dg.run_failure_sensor(default_status=dg.DefaultSensorStatus.RUNNING)
def alerts_after_failure(context: dg.RunFailureSensorContext, warehouse: WarehouseResource):
    """A tenant's run failed: the failure and its failing checks are sent."""
    _alert(context, warehouse, success=False)
