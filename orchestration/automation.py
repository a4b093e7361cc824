"""When the graph runs: nightly, and when new raw files land."""

import hashlib
import json

import dagster as dg

from orchestration.resources import WarehouseResource
from retail_intel.raw.contract import RAW_FILES

everything = dg.define_asset_job("refresh_everything", selection=dg.AssetSelection.all())

# Raw files through the marts, with their gates and no model: what a data engineer reruns after
# changing a dbt model, and what the warehouse tests and the pipeline benchmark run.
warehouse = dg.define_asset_job(
    "build_warehouse",
    selection=dg.AssetSelection.groups("raw").downstream() - dg.AssetSelection.groups("ml", "serving"),
)

# The platform runs overnight and sleeps during the day: the BI dashboards are read in
# business hours against tables that do not change under them.
nightly = dg.ScheduleDefinition(
    name="nightly_refresh",
    job=everything,
    cron_schedule="0 2 * * *",
    execution_timezone="America/Sao_Paulo",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)


def raw_folder_fingerprint(raw_dir) -> str | None:
    """Names, sizes and modification times of the nine files; None until all nine are there."""
    entries = []
    for raw_file in RAW_FILES:
        path = raw_dir / raw_file.file_name
        if not path.is_file():
            return None
        stat = path.stat()
        entries.append((raw_file.file_name, stat.st_size, stat.st_mtime_ns))
    return hashlib.sha256(json.dumps(entries).encode()).hexdigest()


@dg.sensor(job=everything, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING)
def new_raw_files(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    """Starts a full refresh when the raw folder holds a complete, changed set of files."""
    fingerprint = raw_folder_fingerprint(warehouse.settings().raw_dir)
    if fingerprint is None:
        return dg.SkipReason("the raw folder does not hold all nine Olist files yet")
    if fingerprint == context.cursor:
        return dg.SkipReason("no raw file changed since the last run")
    context.update_cursor(fingerprint)
    return dg.RunRequest(run_key=fingerprint)
