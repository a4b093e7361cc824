"""Great Expectations suites as Dagster asset checks: specs from the suites, results to events.

Error-severity checks are blocking: their failure stops everything downstream in the
run. Warnings are recorded and block nothing.
"""

from __future__ import annotations

import dagster as dg

from retail_intel import quality
from retail_intel.monitoring_config import thresholds_for
from retail_intel.settings import Settings

SAMPLE_ROWS_SHOWN = 10


def check_specs(layer: str, asset_key_for_table) -> list[dg.AssetCheckSpec]:
    specs = []
    for table in quality.tables_in_suite(layer):
        for check in quality.load_checks(layer, table):
            specs.append(
                dg.AssetCheckSpec(
                    name=check.name,
                    asset=asset_key_for_table(table),
                    blocking=check.severity == "error",
                    description=f"[{check.severity}] {check.why}",
                )
            )
    return specs


def check_result(asset_key: dg.AssetKey, result: quality.CheckResult, data_docs_path) -> dg.AssetCheckResult:
    metadata: dict[str, object] = {
        "expectation": result.expectation,
        "column": result.column or "(table)",
        "observed": dg.MetadataValue.text(str(result.observed)),
    }
    if result.unexpected_count is not None:
        metadata["unexpected_count"] = int(result.unexpected_count)
    if result.unexpected_percent is not None:
        metadata["unexpected_percent"] = float(result.unexpected_percent)
    if result.sample_rows:
        metadata["sample_rows"] = dg.MetadataValue.json(result.sample_rows[:SAMPLE_ROWS_SHOWN])
    if data_docs_path is not None:
        metadata["data_docs"] = dg.MetadataValue.path(str(data_docs_path))
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name=result.name,
        passed=result.passed,
        severity=dg.AssetCheckSeverity.ERROR if result.severity == "error" else dg.AssetCheckSeverity.WARN,
        metadata=metadata,
        description=result.why,
    )


def describe_blocking(failures: list[quality.CheckResult]) -> str:
    lines = ["Blocking data-quality checks failed; nothing downstream was built from this data:"]
    for failure in failures:
        sample = f"; sample rows: {failure.sample_rows[:3]}" if failure.sample_rows else ""
        lines.append(
            f"- {failure.table}.{failure.column or '(table)'}: {failure.name} ({failure.expectation}), "
            f"observed {failure.observed}{sample}"
        )
    return "\n".join(lines)


def quality_config(settings: Settings, **overrides: object) -> quality.QualityConfig:
    """The suites' run-time parameters with the tenant's data-quality thresholds (monitoring.yml):
    a required column may be missing in ``missing_share_alert`` of rows, prices may lie beyond
    3 sigma in ``price_outlier_share_alert`` of them."""
    limits = thresholds_for(settings)["data_quality"]
    return quality.QualityConfig(
        required_mostly=1 - limits["missing_share_alert"],
        outlier_mostly=1 - limits["price_outlier_share_alert"],
        **overrides,
    )
