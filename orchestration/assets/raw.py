"""The nine Olist files as raw assets, published only after their quality gate."""

import time

import dagster as dg
import duckdb

from orchestration.metadata import tables_metadata
from orchestration.partitions import PARTITIONED
from orchestration.quality import check_result, check_specs, describe_blocking, quality_config
from orchestration.resources import WarehouseResource
from retail_intel import quality
from retail_intel.monitoring_config import thresholds_for
from retail_intel.raw.contract import RAW_FILES
from retail_intel.raw.fingerprint import raw_folder_fingerprint
from retail_intel.raw.loader import RawInputError, load_raw_dir
from retail_intel.tenants import TenantRegistry
from retail_intel.warehouse import WarehouseBusyError


def raw_asset_key(table: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", table])


RAW_SPECS = [
    dg.AssetSpec(
        raw_asset_key(raw_file.table_name),
        group_name="raw",
        description=f"`{raw_file.file_name}` exactly as Olist publishes it, loaded with types.",
        kinds={"csv"},
    )
    for raw_file in RAW_FILES
]


@dg.multi_asset(
    name="raw_olist_files",
    specs=RAW_SPECS,
    check_specs=[
        *check_specs("raw", raw_asset_key),
        dg.AssetCheckSpec(
            "delivery_freshness",
            asset=raw_asset_key("olist_orders_dataset"),
            description="[warn] hours since the newest raw file was written, against freshness.raw_alert_hours",
        ),
    ],
    can_subset=True,
    **PARTITIONED,
    # A database that is briefly unreachable is worth retrying; bad files are not (they
    # raise Failure with allow_retries=False).
    retry_policy=dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL),
)
def raw_olist_files(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    """Validate the selected raw files (parsing, then the raw Great Expectations suite) and
    replace the published raw tables with them in one transaction. A blocking failure
    leaves every published table as it was."""
    settings = warehouse.settings()
    selected = [f for f in RAW_FILES if raw_asset_key(f.table_name) in context.selected_asset_keys]
    started = time.perf_counter()
    # Taken before reading: files changed during the run give another fingerprint, and a new run.
    fingerprint = raw_folder_fingerprint(settings.raw_dir) if len(selected) == len(RAW_FILES) else None
    with duckdb.connect() as staging:
        try:
            loaded = load_raw_dir(staging, settings.raw_dir, schema="raw", files=selected)
        except RawInputError as error:
            raise dg.Failure(
                description=f"{error}\nNothing was published.", metadata={"bad_input": True}, allow_retries=False
            ) from None
        frames = {
            t.raw_file.table_name: staging.execute(f'select * from raw."{t.raw_file.table_name}"').df() for t in loaded
        }
        loaded_at = time.perf_counter()
        # Reference checks (items -> orders, products) look at the tables this run loads and,
        # for the others, at what is published.
        context_frames = dict(frames)
        for raw_file in RAW_FILES:
            if raw_file.table_name not in context_frames and warehouse.exists("raw", raw_file.table_name):
                context_frames[raw_file.table_name] = warehouse.read("raw", raw_file.table_name)
        suite_results = quality.validate_tables(
            "raw",
            {table: frame for table, frame in frames.items() if table in quality.tables_in_suite("raw")},
            context_frames=context_frames,
            config=quality_config(settings),
            data_docs_dir=settings.quality_reports_dir / "raw",
        ).values()
        events = [
            check_result(raw_asset_key(result.table), check, result.data_docs_path)
            for result in suite_results
            for check in result.results
            if dg.AssetCheckKey(raw_asset_key(result.table), check.name) in context.selected_asset_check_keys
        ]
        checked_at = time.perf_counter()
        blocking = [failure for result in suite_results for failure in result.blocking_failures]
        if blocking:
            yield from events
            raise dg.Failure(description=describe_blocking(blocking), metadata={"bad_input": True}, allow_retries=False)
        try:
            warehouse.warehouse().publish_raw(staging, [t.raw_file for t in loaded])
        except WarehouseBusyError as error:
            # It already waited as long as it may; a retry would wait as long again.
            raise dg.Failure(description=str(error), allow_retries=False) from None
        published_at = time.perf_counter()
    if fingerprint is not None:
        # What the sensor compares the folder with, and what a run from another folder is warned about.
        TenantRegistry.of(settings).record_publish(settings.tenant_id, settings.raw_dir, fingerprint)

    data_docs = {result.table: result.data_docs_path for result in suite_results if result.data_docs_path}
    described = tables_metadata(settings, [("raw", table.raw_file.table_name) for table in loaded])
    for table in loaded:
        docs = data_docs.get(table.raw_file.table_name)
        yield dg.MaterializeResult(
            asset_key=raw_asset_key(table.raw_file.table_name),
            metadata={
                **({"data_docs": dg.MetadataValue.path(str(docs))} if docs else {}),
                **described[("raw", table.raw_file.table_name)],
                "source_file": dg.MetadataValue.path(str(settings.raw_dir / table.raw_file.file_name)),
                # For the whole step (all selected files), so that the benchmark can split it.
                "seconds_loading": round(loaded_at - started + published_at - checked_at, 3),
                "seconds_quality_checks": round(checked_at - loaded_at, 3),
            },
        )
    yield from events
    freshness_key = dg.AssetCheckKey(raw_asset_key("olist_orders_dataset"), "delivery_freshness")
    if freshness_key in context.selected_asset_check_keys:
        yield _delivery_freshness(settings, thresholds_for(settings)["freshness"])


def _delivery_freshness(settings, limits: dict[str, float]) -> dg.AssetCheckResult:
    """How long ago the client delivered: the newest raw file's modification time, not the
    newest order's date (history loaded today is fresh, whatever its dates)."""
    written = max(
        (settings.raw_dir / raw_file.file_name).stat().st_mtime
        for raw_file in RAW_FILES
        if (settings.raw_dir / raw_file.file_name).exists()
    )
    hours = (time.time() - written) / 3600
    return dg.AssetCheckResult(
        check_name="delivery_freshness",
        asset_key=raw_asset_key("olist_orders_dataset"),
        passed=hours <= limits["raw_alert_hours"],
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "value": round(hours, 2),
            "threshold": limits["raw_alert_hours"],
            "target": limits["raw_target_hours"],
            "raw_folder": dg.MetadataValue.path(str(settings.raw_dir)),
        },
    )
