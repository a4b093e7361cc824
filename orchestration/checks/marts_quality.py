"""The marts' Great Expectations suite as asset checks; error severity blocks the ML assets."""

import dagster as dg

from orchestration.quality import check_result, check_specs, describe_blocking, quality_config
from orchestration.resources import WarehouseResource
from retail_intel import quality


def mart_key(table: str) -> dg.AssetKey:
    return dg.AssetKey(["marts", table])


class MartsQualityConfig(dg.Config):
    max_age_days: int = quality.QualityConfig().max_age_days


@dg.multi_asset_check(specs=check_specs("marts", mart_key), can_subset=True, name="marts_quality")
def marts_quality(context: dg.AssetCheckExecutionContext, config: MartsQualityConfig, warehouse: WarehouseResource):
    """Validate the published marts; failed error-severity checks stop everything downstream."""
    settings = warehouse.settings()
    tables = sorted({key.asset_key.path[-1] for key in context.selected_asset_check_keys})
    # Cross-table checks (freshness compares orders with the RFM as-of date) need their peers.
    marts = {table: ("marts", table) for table in quality.tables_in_suite("marts")}
    frames = warehouse.warehouse().read_consistent(marts)
    blocking = []
    results = quality.validate_tables(
        "marts",
        {table: frames[table] for table in tables},
        context_frames=frames,
        config=quality_config(settings, max_age_days=config.max_age_days),
        data_docs_dir=settings.quality_reports_dir / "marts",
    )
    for table, result in results.items():
        blocking += result.blocking_failures
        for check in result.results:
            if dg.AssetCheckKey(mart_key(table), check.name) in context.selected_asset_check_keys:
                yield check_result(mart_key(table), check, result.data_docs_path)
    if blocking:
        context.log.error(describe_blocking(blocking))
