"""Asset metadata read from the warehouse: row counts, column schema and a preview."""

from __future__ import annotations

import dagster as dg
import pandas as pd

from retail_intel.settings import Settings
from retail_intel.warehouse import warehouse_for

PREVIEW_ROWS = 5


def table_metadata(settings: Settings, layer: str, table: str) -> dict[str, object]:
    schema = settings.schema(layer)
    warehouse = warehouse_for(settings)
    columns = warehouse.query(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position",
        [schema, table],
    )
    (rows,) = warehouse.query(f"select count(*) from {warehouse.relation(layer, table)}")[0]
    return {
        "dagster/row_count": int(rows),
        "dagster/column_schema": dg.TableSchema(columns=[dg.TableColumn(name, kind) for name, kind in columns]),
        "dagster/table_name": f"{schema}.{table}",
    }


def frame_preview(frame: pd.DataFrame) -> dg.MetadataValue:
    return dg.MetadataValue.md(frame.head(PREVIEW_ROWS).to_markdown(index=False) if len(frame) else "(empty)")
