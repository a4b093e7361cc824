"""ml.model_metrics and the evaluation report: every model's figures beside its baselines."""

import dagster as dg
import pandas as pd

from ml.registry import CHAMPION
from orchestration.lineage import registry_for
from orchestration.metadata import frame_preview
from orchestration.partitions import PARTITIONED
from orchestration.resources import WarehouseResource

REPORT_NAME = "model_report.md"
# The recommender names its figures method.protocol.segment.metric (both protocols, three segments).
RANKING_PARTS = 4


def metrics_table(registry, tenant_id: str) -> pd.DataFrame:
    """One row per (model, role, metric): the champion's figures and this run's version's."""
    rows = []
    for model in registry.client.search_registered_models(filter_string=f"name LIKE '{tenant_id}.%'"):
        versions = registry.client.search_model_versions(f"name = '{model.name}'")
        if not versions:
            continue
        latest = max(versions, key=lambda version: int(version.version))
        champion = registry.version_for(model.name, CHAMPION)
        roles = {"latest": str(latest.version)}
        if champion is not None:
            roles["champion"] = champion
        for role, version in roles.items():
            model_version = registry.client.get_model_version(model.name, version)
            run = registry.client.get_run(model_version.run_id)
            for metric, value in sorted(run.data.metrics.items()):
                rows.append(
                    {
                        "model": model.name,
                        "role": role,
                        "version": int(version),
                        "metric": metric,
                        "value": float(value),
                        "as_of_date": run.data.tags.get("lineage.as_of_date", ""),
                        "decision": model_version.tags.get("promotion.decision", ""),
                    }
                )
    columns = ["model", "role", "version", "metric", "value", "as_of_date", "decision"]
    return pd.DataFrame(rows, columns=columns)


def render_report(table: pd.DataFrame) -> str:
    lines = ["# Model evaluation report", ""]
    for model, frame in table.groupby("model", sort=True):
        wide = frame.pivot_table(index="metric", columns="role", values="value", aggfunc="first")
        versions = frame.groupby("role")["version"].first().to_dict()
        decision = frame.loc[frame["role"] == "latest", "decision"].iloc[0] if (frame["role"] == "latest").any() else ""
        lines.append(f"## {model}")
        lines.append("")
        lines.append(
            ", ".join(f"{role}: version {version}" for role, version in sorted(versions.items()))
            + (f"; this run's version was {decision}" if decision else "")
        )
        lines.append("")
        ranking = wide.index.str.count(r"\.") == RANKING_PARTS - 1
        wide.columns = [f"{role} (v{versions[role]})" for role in wide.columns]
        lines.append(wide.loc[~ranking].to_markdown(floatfmt=".4g"))
        lines.append("")
        ranking_rows = frame.loc[frame["metric"].isin(wide.index[ranking])]
        for version, rows in ranking_rows.groupby("version", sort=True):
            roles = " = ".join(sorted(rows["role"].unique()))
            lines += _ranking_tables(rows.loc[rows["role"] == rows["role"].iloc[0]], f"{roles} (v{version})")
    return "\n".join(lines)


def _ranking_tables(frame: pd.DataFrame, label: str) -> list[str]:
    """Ranking figures named method.protocol.segment.metric: one table per protocol, methods side by side."""
    if frame.empty:
        return []
    parts = frame["metric"].str.split(".", expand=True)
    parts.columns = ["method", "protocol", "segment", "measure"]
    table = pd.concat([parts, frame[["value"]]], axis=1)
    lines = []
    for protocol, rows in table.groupby("protocol", sort=True):
        wide = rows.pivot_table(index=["segment", "method"], columns="measure", values="value", aggfunc="first")
        lines += [f"{label}, {protocol}:", "", wide.to_markdown(floatfmt=".4f"), ""]
    return lines


@dg.asset(
    key=["ml", "model_metrics"],
    group_name="ml",
    deps=[["ml", "revenue_forecast"], ["ml", "customer_segments"], ["ml", "recommendations"]],
    kinds={"mlflow"},
    **PARTITIONED,
)
def model_metrics(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Every registered model's metrics, for the champion and for the version this run trained,
    baselines included (metrics are named by method, e.g. `seasonal_naive_wape` beside
    `prophet_wape`). Also written as a Markdown report in the tenant's reports folder."""
    settings = warehouse.settings()
    table = metrics_table(registry_for(settings), settings.tenant_id)
    report = render_report(table)
    path = settings.tenant_dir / "reports" / REPORT_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": warehouse.write("ml", "model_metrics", table),
            "report_path": dg.MetadataValue.path(str(path)),
            "report": dg.MetadataValue.md(report),
            "preview": frame_preview(table),
        }
    )
