"""`retail-intel run`: materialize one tenant's partition of the graph in-process, in the platform's instance."""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import dagster as dg

from orchestration.alerting import alert_on_run
from orchestration.metadata import JUDGED
from orchestration.partitions import ensure_partition
from orchestration.run_progress import AssetProgress
from retail_intel.settings import Settings
from retail_intel.tenant_status import publish_tenant_status
from retail_intel.tenants import TenantRegistry
from retail_intel.warehouse import tenant_lock

Log = Callable[[str], None]


@dataclass
class GraphRunReport:
    success: bool
    materialized: dict[str, int | None] = field(default_factory=dict)
    failed_checks: list[str] = field(default_factory=list)
    warned_checks: list[str] = field(default_factory=list)
    passed_checks: int = 0
    failures: list[str] = field(default_factory=list)
    not_run: list[str] = field(default_factory=list)
    # The failure was the input's fault (a missing file, a bad value), not the platform's.
    bad_input: bool = False
    # Wall seconds per step (from the run's event log) and of the whole run, for the benchmark.
    step_seconds: dict[str, float] = field(default_factory=dict)
    run_seconds: float = 0.0
    # Seconds inside the raw step: parsing and loading vs. the raw quality suite.
    raw_phase_seconds: dict[str, float] = field(default_factory=dict)
    # Checks that measured nothing this run (metadata judged=False): neither a breach nor a
    # clearance, so they send no alert (a window still open must not clear yesterday's breach).
    unjudged_checks: list[str] = field(default_factory=list)
    # The champion version each model asset served its table from: {"ml/revenue_forecast": "2"}.
    champions: dict[str, str] = field(default_factory=dict)
    # Each model's figure on this run's evaluation beside its best simple baseline's (metadata.headline).
    headlines: dict[str, dict[str, object]] = field(default_factory=dict)
    # Every check evaluated, by "asset:check": whether it passed and its numeric metadata (for alerts).
    checks: dict[str, tuple[bool, dict[str, float]]] = field(default_factory=dict)


DAGSTER_YAML_MARKER = "# Written by retail-intel; rewritten on every run while this line is here."
# What earlier versions wrote: replaced like a file with the marker.
_EARLIER_DAGSTER_YAML = "telemetry:\n  enabled: false\n"


def prepare_dagster_home(settings: Settings) -> None:
    """One Dagster instance for every tenant, in the platform's folder, not ~/.dagster: runs, event
    logs and schedules, with the event log storage that keeps its SQLite files open
    (orchestration/event_storage.py). Runs queued by the UI, a schedule or a backfill run at most
    ``max_concurrent_runs`` at once, and one at a time per tenant (a tenant is a run's partition).
    A dagster.yaml someone wrote themselves (without the marker line) is left as it is."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    wanted = (
        f"{DAGSTER_YAML_MARKER}\n"
        "telemetry:\n  enabled: false\n"
        f"{_storage(settings)}"
        "concurrency:\n"
        "  runs:\n"
        f"    max_concurrent_runs: {settings.max_concurrent_runs}\n"
        "    tag_concurrency_limits:\n"
        "      - key: dagster/partition\n"
        "        value:\n"
        "          applyLimitPerUniqueValue: true\n"
        "        limit: 1\n"
    )
    current = config.read_text() if config.exists() else None
    if current != wanted and (current is None or current == _EARLIER_DAGSTER_YAML or DAGSTER_YAML_MARKER in current):
        config.write_text(wanted)
    os.environ["DAGSTER_HOME"] = str(home)


def _storage(settings: Settings) -> str:
    """SQLite files in the home, or the PostgreSQL database named by libpq's variables, read by
    Dagster from the environment when the instance starts (no password in the file)."""
    if settings.dagster_storage == "postgres":
        return (
            # SQLAlchemy 2.1 reads postgresql:// as psycopg 3; the installed driver is psycopg2.
            "storage:\n  postgres:\n    postgres_db:\n      scheme: postgresql+psycopg2\n"
            + "".join(
                f"      {field}:\n        env: {variable}\n"
                for field, variable in (
                    ("hostname", "PGHOST"),
                    ("port", "PGPORT"),
                    ("username", "PGUSER"),
                    ("password", "PGPASSWORD"),
                    ("db_name", "PGDATABASE"),
                )
            )
        )
    return (
        "event_log_storage:\n"
        "  module: orchestration.event_storage\n"
        "  class: PooledSqliteEventLogStorage\n"
        "  config:\n"
        f"    base_dir: {json.dumps(str(settings.dagster_home.resolve() / 'history' / 'runs'))}\n"
    )


def run_graph(
    settings: Settings,
    *,
    job_name: str = "refresh_everything",
    as_of_date: date | None = None,
    horizon: int = 30,
    top_k: int = 10,
    exclude_bought: bool = True,
    run_id: str | None = None,
    log: Log = print,
    progress: Log | None = None,
) -> GraphRunReport:
    """One job of the graph (every asset, or ``build_warehouse``: raw through the marts) in this
    process, holding the tenant's run lock (WarehouseBusyError while another run holds it).
    ``progress``, if given, is told each asset as it is materialized."""
    from orchestration.definitions_builder import build_definitions

    prepare_dagster_home(settings)
    definitions = build_definitions(settings)
    job = definitions.resolve_job_def(job_name)
    op_config = {
        "dbt_models": {"as_of_date": as_of_date.isoformat() if as_of_date else None},
        "ml__revenue_forecast": {"horizon": horizon},
        "ml__recommendations": {"top_k": top_k, "exclude_bought": exclude_bought},
    }
    run_config = {
        # Dagster refuses config for an op that is not in the job.
        "ops": {op: {"config": config} for op, config in op_config.items() if job.graph.has_node_named(op)},
        # Dagster's own log lines go to its event log (and the UI); the terminal gets the report.
        "loggers": {"console": {"config": {"log_level": "CRITICAL"}}},
    }
    # dagster-dbt echoes every dbt log line to stdout (the UI keeps it as the step's compute
    # log); in the terminal it would bury the report, so it goes to a file named at the end.
    run_log = settings.tenant_dir / "logs" / "last_run.log"
    run_log.parent.mkdir(parents=True, exist_ok=True)
    with tenant_lock(settings), dg.DagsterInstance.get() as instance:
        started = time.perf_counter()
        ensure_partition(instance, settings.tenant_id)
        run_id = run_id or str(uuid.uuid4())
        watcher = None
        if progress:
            watcher = AssetProgress(instance, run_id, len(job.asset_layer.executable_asset_keys), progress)
            watcher.start()
        try:
            with run_log.open("w") as captured, contextlib.redirect_stdout(captured):
                result = job.execute_in_process(
                    run_config=run_config,
                    instance=instance,
                    raise_on_error=False,
                    run_id=run_id,
                    partition_key=settings.tenant_id,
                )
        finally:
            if watcher:
                watcher.stop()
        report = _report(result, job, log)
        log(f"Full log of the run (dbt output included): {run_log}")
        report.run_seconds = time.perf_counter() - started
        report.step_seconds = _step_seconds(instance, result.run_id)
    TenantRegistry.of(settings).record_run(
        settings.tenant_id,
        result.run_id,
        status="success" if report.success else "failed",
        failed_checks=len(report.failed_checks),
        first_failure=(report.failures or report.failed_checks or [None])[0],
        champions=report.champions,
        headlines=report.headlines,
    )
    if TenantRegistry.of(settings).get(settings.tenant_id) is not None:
        _refresh_operator_view(settings, log)
    _send_alerts(settings, report, result.run_id, log)
    return report


def _send_alerts(settings: Settings, report: GraphRunReport, run_id: str, log: Log) -> None:
    """Like the operator's table: an alert that cannot be sent is reported, and the run keeps its outcome."""
    try:
        delivery = alert_on_run(settings, report, run_id)
    except Exception as error:  # noqa: BLE001 - reported; the run's outcome is not the alert's
        log(f"warning: alerts were not sent: {error}")
        return
    for alert in delivery.sent:
        log(f"  alert sent: {alert.subject}")
    for error in delivery.errors:
        log(f"warning: an alert sink failed: {error}")


def _refresh_operator_view(settings: Settings, log: Log) -> None:
    """The operator's table is a view of the registry: when it cannot be written (a database
    down), this run's own tables stand, and the next run rewrites it whole."""
    try:
        publish_tenant_status(settings)
    except Exception as error:  # noqa: BLE001 - reported, and the run's outcome is not the table's
        log(f"warning: the operator's table ops.tenant_status was not refreshed: {error}")


def cancel_run(settings: Settings, run_id: str, message: str) -> list[str]:
    """Mark a run whose process was killed as canceled (unless it had finished); the assets it
    materialized before, as ``layer/table``."""
    prepare_dagster_home(settings)
    with dg.DagsterInstance.get() as instance:
        run = instance.get_run_by_id(run_id)
        if run is None:
            return []
        if not run.is_finished:
            instance.report_run_canceled(run, message)
        records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records
        return ["/".join(record.event_log_entry.dagster_event.asset_key.path) for record in records]


def _step_seconds(instance: dg.DagsterInstance, run_id: str) -> dict[str, float]:
    started: dict[str, float] = {}
    seconds: dict[str, float] = {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type_value == "STEP_START":
            started[event.step_key] = entry.timestamp
        elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE") and event.step_key in started:
            seconds[event.step_key] = entry.timestamp - started[event.step_key]
    return seconds


def _report(result: dg.ExecuteInProcessResult, job, log: Log) -> GraphRunReport:
    report = report_from_events(result.all_events, success=result.success, log=log)
    all_keys = {"/".join(key.path) for key in job.asset_layer.executable_asset_keys}
    report.not_run = sorted(all_keys - set(report.materialized))
    return report


def report_from_events(events, *, success: bool, log: Log) -> GraphRunReport:
    """A run's report from its Dagster events: those of a run in this process, or a finished run's
    read back from the instance (the alerts sensor)."""
    report = GraphRunReport(success=success)
    for event in events:
        if event.event_type_value == "ASSET_MATERIALIZATION":
            materialization = event.event_specific_data.materialization
            name = "/".join(materialization.asset_key.path)
            rows = materialization.metadata.get("dagster/row_count")
            report.materialized[name] = rows.value if rows is not None else None
            champion = materialization.metadata.get("champion_version")
            if champion is not None and champion.value is not None:
                report.champions[name] = str(champion.value)
            if "headline" in materialization.metadata:
                report.headlines[name] = materialization.metadata["headline"].value
            for phase in ("loading", "quality_checks"):
                timing = materialization.metadata.get(f"seconds_{phase}")
                if timing is not None:
                    report.raw_phase_seconds[phase] = timing.value
            log(f"  materialized {name}" + (f" ({rows.value:,} rows)" if rows is not None else ""))
        elif event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            label = f"{'/'.join(evaluation.asset_key.path)}:{evaluation.check_name}"
            figures = {
                key: float(value.value)
                for key, value in evaluation.metadata.items()
                if isinstance(value.value, int | float) and not isinstance(value.value, bool)
            }
            judged = evaluation.metadata.get(JUDGED)
            if judged is not None and judged.value is False:
                report.unjudged_checks.append(label)
            else:
                report.checks[label] = (evaluation.passed, figures)
            if evaluation.passed:
                report.passed_checks += 1
            elif evaluation.severity == dg.AssetCheckSeverity.ERROR:
                report.failed_checks.append(label)
                log(f"  FAILED check {label}: {_metadata_summary(evaluation.metadata)}")
            else:
                report.warned_checks.append(label)
                log(f"  warning   {label}: {_metadata_summary(evaluation.metadata)}")
        elif event.event_type_value == "STEP_FAILURE":
            failure = event.event_specific_data
            user_failure = failure.user_failure_data
            # dg.Failure carries a readable description; other errors their message.
            if user_failure is not None:
                message = user_failure.description or "failed"
                report.bad_input |= "bad_input" in user_failure.metadata
            else:
                message = _error_message(failure.error)
            report.failures.append(f"{event.step_key}: {message}")
            log(f"  FAILED step {event.step_key}: {message}")
    return report


def _error_message(error) -> str:
    """The error's message with its causes: Dagster wraps the asset's own exception in a step error
    whose message says only which op failed."""
    if error is None:
        return "failed"
    parts = []
    while error is not None:
        parts.append(error.message.strip().removesuffix(":"))
        error = error.cause
    return ": ".join(parts)


def _metadata_summary(metadata) -> str:
    parts = []
    for key in ("column", "expectation", "observed", "unexpected_count", "sample_rows"):
        if key in metadata:
            value = metadata[key].value
            parts.append(f"{key}={str(value)[:200]}")
    return ", ".join(parts)
