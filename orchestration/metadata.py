"""Asset metadata: row counts, column schema and a preview read from the warehouse, and a
model's headline figure beside its best simple baseline's."""

from __future__ import annotations

import dagster as dg
import pandas as pd

from retail_intel.settings import Settings
from retail_intel.warehouse import warehouse_for

PREVIEW_ROWS = 5

# Metadata a check sets to False when it judged nothing this run (too little data, a window
# still open): it sends no alert, neither a breach nor a clearance (orchestration/runner.py).
JUDGED = "judged"


def tables_metadata(settings: Settings, tables: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, object]]:
    """Row count, column schema and name of each published table, read in one go."""
    warehouse = warehouse_for(settings)
    descriptions = warehouse.describe(tables)
    return {
        (layer, table): {
            "dagster/row_count": description.rows,
            "dagster/column_schema": dg.TableSchema(
                columns=[dg.TableColumn(name, kind) for name, kind in description.columns]
            ),
            "dagster/table_name": f"{warehouse.schema(layer)}.{table}",
        }
        for (layer, table), description in descriptions.items()
    }


def frame_preview(frame: pd.DataFrame) -> dg.MetadataValue:
    return dg.MetadataValue.md(frame.head(PREVIEW_ROWS).to_markdown(index=False) if len(frame) else "(empty)")


def headline(
    metric: str, model: str, scores: dict[str, float], baselines: tuple[str, ...], *, higher_is_better: bool
) -> dg.MetadataValue:
    """The chosen model's figure on this run's evaluation beside the best of the simple baselines
    evaluated with it (which may be the chosen model itself): what the operator's table shows."""
    present = {name: float(scores[name]) for name in baselines if name in scores and pd.notna(scores[name])}
    best = (max if higher_is_better else min)(present, key=present.__getitem__) if present else None
    value = scores.get(model)
    return dg.MetadataValue.json(
        {
            "metric": metric,
            "model": model,
            "value": None if value is None or pd.isna(value) else round(float(value), 6),
            "baseline": best,
            "baseline_value": None if best is None else round(present[best], 6),
            "higher_is_better": higher_is_better,
        }
    )
