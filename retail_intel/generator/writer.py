"""Write the generated arrow tables as Olist-format CSV files with DuckDB."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa

from retail_intel.raw.contract import RAW_FILES


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def write_tables(
    tables: dict[str, pa.Table], out_dir: Path, progress: Callable[[str], None] | None = None
) -> dict[str, int]:
    """Write one CSV per contract file; returns {file_name: data_row_count}.

    Header = the contract's column names in order; timestamps 'YYYY-MM-DD HH:MM:SS';
    money (held as integer cents) with two decimals; NULL as an empty field; text
    quoted only when needed (RFC 4180, quotes doubled).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    con = duckdb.connect()
    try:
        con.execute("SET preserve_insertion_order = true")
        for raw in RAW_FILES:
            table = tables[raw.file_name]
            if table.column_names != raw.column_names:
                raise AssertionError(f"{raw.file_name}: columns {table.column_names} != contract")
            select = []
            for name, kind in raw.columns:
                col = _quote_ident(name)
                if kind == "money":
                    select.append(f"CAST({col} / 100 AS DECIMAL(18, 2)) AS {col}")
                elif kind == "timestamp":
                    select.append(f"strftime({col}, '%Y-%m-%d %H:%M:%S') AS {col}")
                else:
                    select.append(col)
            if progress:
                progress(f"writing {raw.file_name} ({table.num_rows:,} rows)")
            con.register("generated", table)
            path = (out_dir / raw.file_name).as_posix().replace("'", "''")
            con.execute(
                f"COPY (SELECT {', '.join(select)} FROM generated) TO '{path}' "
                "(FORMAT csv, HEADER true, DELIMITER ',', QUOTE '\"', ESCAPE '\"')"
            )
            con.unregister("generated")
            counts[raw.file_name] = table.num_rows
    finally:
        con.close()
    return counts
