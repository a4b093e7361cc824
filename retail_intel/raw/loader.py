"""Validate the nine raw Olist files and load them, typed, into a DuckDB schema.

Validation happens before anything is written where readers can see it: a missing file,
a missing or renamed column, or a value that does not parse stops the load with one
message naming the file, the column and the (1-based, header excluded) data row.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from retail_intel.raw.contract import RAW_FILES, ColumnType, RawFile

# The SQL type each contract type is stored as, in DuckDB and in PostgreSQL.
DUCKDB_TYPES: dict[ColumnType, str] = {
    "text": "VARCHAR",
    "integer": "BIGINT",
    "double": "DOUBLE",
    "money": "DECIMAL(14,2)",
    "timestamp": "TIMESTAMP",
}
_TYPE_WORDS: dict[ColumnType, str] = {
    "integer": "a whole number",
    "double": "a finite number",
    "money": "a finite amount (use '.' as the decimal separator)",
    "timestamp": "a timestamp (YYYY-MM-DD HH:MM:SS)",
}
# DECIMAL(14,2) holds up to 10^12; larger amounts are data errors, not prices.
_MAX_MONEY = 1e12
_ROW = "__row"


class RawInputError(Exception):
    """The raw folder cannot be loaded. The message is meant for the person who supplied it."""


@dataclass(frozen=True)
class LoadedTable:
    raw_file: RawFile
    rows: int


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _read_header(path: Path) -> list[str]:
    # utf-8-sig: files saved by spreadsheet tools start with a byte-order mark that
    # would otherwise become part of the first column's name.
    with path.open(newline="", encoding="utf-8-sig") as handle:
        try:
            header = next(csv.reader(handle))
        except StopIteration:
            raise RawInputError(f"{path.name}: the file is empty (no header row)") from None
        except (csv.Error, UnicodeDecodeError) as error:
            raise RawInputError(f"{path.name}: cannot read the header row: {error}") from None
    return [name.strip() for name in header]


def check_header(raw_file: RawFile, header: list[str]) -> None:
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        raise RawInputError(f"{raw_file.file_name}: column(s) {', '.join(map(repr, duplicated))} appear more than once")
    missing = [name for name in raw_file.column_names if name not in header]
    if missing:
        unexpected = [name for name in header if name not in raw_file.column_names]
        hint = f"; found unexpected column(s) {', '.join(map(repr, unexpected))}" if unexpected else ""
        raise RawInputError(
            f"{raw_file.file_name}: missing column(s) {', '.join(map(repr, missing))}{hint} "
            f"(expected the Olist header: {', '.join(raw_file.column_names)})"
        )


def _bad_value_condition(column: str, column_type: ColumnType) -> str:
    value = f"nullif(trim({_quote(column)}), '')"
    as_double = f"try_cast({value} AS DOUBLE)"
    if column_type == "timestamp":
        return f"{value} IS NOT NULL AND try_cast({value} AS TIMESTAMP) IS NULL"
    checks = [f"{as_double} IS NULL", f"NOT isfinite({as_double})"]
    if column_type == "integer":
        # DuckDB would round '1.5' to 2 when casting to an integer; a count must be whole.
        checks.append(f"{as_double} <> floor({as_double})")
        checks.append(f"abs({as_double}) > 9e18")
    if column_type == "money":
        checks.append(f"abs({as_double}) >= {_MAX_MONEY}")
    return f"{value} IS NOT NULL AND ({' OR '.join(checks)})"


def _typed_expression(column: str, column_type: ColumnType) -> str:
    value = f"nullif(trim({_quote(column)}), '')"
    if column_type == "text":
        # Free text (review messages) keeps its inner whitespace; only empty means NULL.
        return f"nullif({_quote(column)}, '') AS {_quote(column)}"
    if column_type == "integer":
        return f"CAST(CAST({value} AS DOUBLE) AS BIGINT) AS {_quote(column)}"
    return f"CAST({value} AS {DUCKDB_TYPES[column_type]}) AS {_quote(column)}"


def load_file(con: duckdb.DuckDBPyConnection, raw_file: RawFile, raw_dir: Path, schema: str) -> LoadedTable:
    path = raw_dir / raw_file.file_name
    if not path.is_file():
        raise RawInputError(f"{raw_file.file_name}: file not found in {raw_dir}")
    header = _read_header(path)
    check_header(raw_file, header)

    text_columns = "{" + ", ".join(f"'{name.replace(chr(39), chr(39) * 2)}': 'VARCHAR'" for name in header) + "}"
    staging_table = f"__text_{raw_file.table_name}"
    try:
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE {_quote(staging_table)} AS
            SELECT row_number() OVER () AS {_ROW}, *
            FROM read_csv(?, header = true, auto_detect = false, columns = {text_columns},
                          delim = ',', quote = '"', escape = '"', encoding = 'utf-8')
            """,
            [str(path)],
        )
    except duckdb.Error as error:
        first_line = str(error).strip().splitlines()[0]
        raise RawInputError(f"{raw_file.file_name}: not a readable CSV file: {first_line}") from None

    rows = con.execute(f"SELECT count(*) FROM {_quote(staging_table)}").fetchone()[0]
    if rows == 0 and not raw_file.may_be_empty:
        raise RawInputError(f"{raw_file.file_name}: the file has a header but no data rows")

    typed_columns = [(name, column_type) for name, column_type in raw_file.columns if column_type != "text"]
    if typed_columns and rows:
        first_bad_rows = con.execute(
            "SELECT "
            + ", ".join(
                f"min(CASE WHEN {_bad_value_condition(name, column_type)} THEN {_ROW} END)"
                for name, column_type in typed_columns
            )
            + f" FROM {_quote(staging_table)}"
        ).fetchone()
        failures = [
            (bad_row, name, column_type)
            for bad_row, (name, column_type) in zip(first_bad_rows, typed_columns, strict=True)
            if bad_row is not None
        ]
        if failures:
            bad_row, name, column_type = min(failures)
            value = con.execute(
                f"SELECT {_quote(name)} FROM {_quote(staging_table)} WHERE {_ROW} = ?", [bad_row]
            ).fetchone()[0]
            raise RawInputError(
                f"{raw_file.file_name}: column '{name}', row {bad_row}: cannot parse {value!r} as "
                f"{_TYPE_WORDS[column_type]}"
            )

    select_list = ", ".join(_typed_expression(name, column_type) for name, column_type in raw_file.columns)
    con.execute(
        f"CREATE OR REPLACE TABLE {_quote(schema)}.{_quote(raw_file.table_name)} AS "
        f"SELECT {select_list} FROM {_quote(staging_table)} ORDER BY {_ROW}"
    )
    con.execute(f"DROP TABLE {_quote(staging_table)}")
    return LoadedTable(raw_file, rows)


def load_raw_dir(
    con: duckdb.DuckDBPyConnection, raw_dir: Path, schema: str = "raw", files: Sequence[RawFile] = RAW_FILES
) -> list[LoadedTable]:
    """Validate the files (by default all nine), then write them as typed tables into ``schema``.

    All files are checked before any table is replaced, so a bad file leaves the schema
    exactly as it was.
    """
    raw_dir = Path(raw_dir)
    if not raw_dir.is_dir():
        raise RawInputError(f"raw folder {raw_dir} does not exist or is not a folder")
    for raw_file in files:
        if not (raw_dir / raw_file.file_name).is_file():
            raise RawInputError(f"{raw_file.file_name}: file not found in {raw_dir}")
        check_header(raw_file, _read_header(raw_dir / raw_file.file_name))

    scratch = f"{schema}__loading"
    con.execute(f"DROP SCHEMA IF EXISTS {_quote(scratch)} CASCADE")
    con.execute(f"CREATE SCHEMA {_quote(scratch)}")
    try:
        loaded = [load_file(con, raw_file, raw_dir, scratch) for raw_file in files]
        con.execute("BEGIN TRANSACTION")
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote(schema)}")
        for table in loaded:
            name = _quote(table.raw_file.table_name)
            con.execute(f"CREATE OR REPLACE TABLE {_quote(schema)}.{name} AS SELECT * FROM {_quote(scratch)}.{name}")
        con.execute("COMMIT")
    finally:
        con.execute(f"DROP SCHEMA IF EXISTS {_quote(scratch)} CASCADE")
    return loaded
