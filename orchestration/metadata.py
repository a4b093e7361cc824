"""Asset metadata read from the warehouse: row counts, column schema and a preview."""

from __future__ import annotations

from contextlib import closing

import dagster as dg
import duckdb
import pandas as pd

from retail_intel.settings import Settings
from retail_intel.warehouse import postgres_connect

PREVIEW_ROWS = 5


def _query(settings: Settings, sql: str, params: list) -> list[tuple]:
    if settings.target == "duckdb":
        with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
            return con.execute(sql, params).fetchall()
    with closing(postgres_connect(settings)) as connection, connection.cursor() as cursor:
        cursor.execute(sql.replace("?", "%s"), params)
        return cursor.fetchall()


def table_metadata(settings: Settings, layer: str, table: str) -> dict[str, object]:
    schema = settings.schema(layer)
    columns = _query(
        settings,
        "select column_name, data_type from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position",
        [schema, table],
    )
    (rows,) = _query(settings, f'select count(*) from "{schema}"."{table}"', [])[0]
    return {
        "dagster/row_count": int(rows),
        "dagster/column_schema": dg.TableSchema(columns=[dg.TableColumn(name, kind) for name, kind in columns]),
        "dagster/table_name": f"{schema}.{table}",
    }


def frame_preview(frame: pd.DataFrame) -> dg.MetadataValue:
    return dg.MetadataValue.md(frame.head(PREVIEW_ROWS).to_markdown(index=False) if len(frame) else "(empty)")
