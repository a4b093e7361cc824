"""Everything in the code location. Every tenant is a partition of it; ``settings`` name the
tenant it was started for (its dbt manifest, and the default of a run without a partition)."""

from __future__ import annotations

import dagster as dg

from orchestration.alert_sensors import alerts_after_failure, alerts_after_success
from orchestration.assets.dbt import build_dbt_assets
from orchestration.assets.ml.coupon_targets import coupon_targets
from orchestration.assets.ml.customer_segments import customer_segments
from orchestration.assets.ml.model_metrics import model_metrics
from orchestration.assets.ml.recommendations import recommendations
from orchestration.assets.ml.revenue_forecast import revenue_forecast
from orchestration.assets.monitoring.data_drift import data_drift
from orchestration.assets.monitoring.experiment_results import experiment_results
from orchestration.assets.monitoring.model_health import model_health
from orchestration.assets.monitoring.recommender_bias import recommender_bias
from orchestration.assets.monitoring.recommender_health import recommender_health
from orchestration.assets.raw import raw_olist_files
from orchestration.assets.serving import customer_recommendations
from orchestration.automation import everything, new_raw_files, nightly_refresh, tenant_partitions, warehouse
from orchestration.checks.marts_quality import marts_quality
from orchestration.dbt_project import dbt_project_for
from orchestration.exposures import exposure_assets
from orchestration.resources import resources_for
from retail_intel.settings import Settings


def build_definitions(settings: Settings) -> dg.Definitions:
    project = dbt_project_for(settings)
    assets = [
        raw_olist_files,
        build_dbt_assets(project),
        revenue_forecast,
        customer_segments,
        recommendations,
        model_metrics,
        customer_recommendations,
        data_drift,
        experiment_results,
        model_health,
        recommender_bias,
        recommender_health,
        coupon_targets,
        *exposure_assets(project),
    ]
    return dg.Definitions(
        assets=assets,
        asset_checks=[marts_quality],
        jobs=[everything, warehouse],
        schedules=[nightly_refresh],
        sensors=[new_raw_files, tenant_partitions, alerts_after_success, alerts_after_failure],
        resources=resources_for(settings),
        # One writer at a time: DuckDB allows a single writing process per file.
        executor=dg.in_process_executor,
    )
