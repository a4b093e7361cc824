"""Asset metadata read from the warehouse: row counts, column schema and a preview."""

from __future__ import annotations

import dagster as dg
import pandas as pd

from retail_intel.settings import Settings
from retail_intel.warehouse import warehouse_for

PREVIEW_ROWS = 5


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
