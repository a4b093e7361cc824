"""Tableau's Hyper extracts, written and read with Tableau's own Hyper API (``tableauhyperapi``).

Rows go in through a Parquet file that Hyper reads itself (``external``), each column cast to
its declared type: about a second for a million rows, where the row-by-row ``Inserter`` takes
minutes in Python.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from pathlib import Path

import pandas as pd

# One extract holds one table, in Tableau's usual schema for extracts.
SCHEMA = "Extract"

# Hyper's type for a column of the warehouse, by the name either engine gives its type.
_TYPE_PREFIXES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("varchar", "text", "character", "string"), "text"),
    (("bigint", "int8", "hugeint", "long"), "big_int"),
    (("integer", "int4", "int", "smallint", "int2", "tinyint"), "int"),
    (("double", "float", "real", "decimal", "numeric"), "double"),
    (("timestamp", "datetime"), "timestamp"),
    (("date",), "date"),
    (("boolean", "bool"), "bool"),
)


# The same types in Hyper's SQL, for the casts of the insert.
_SQL_NAMES = {
    "text": "TEXT",
    "big_int": "BIGINT",
    "int": "INTEGER",
    "double": "DOUBLE PRECISION",
    "timestamp": "TIMESTAMP",
    "date": "DATE",
    "bool": "BOOLEAN",
}


class UnsupportedType(ValueError):
    """A warehouse column whose type has no Hyper counterpart here."""


def hyper_type_name(warehouse_type: str, column: str) -> str:
    """``text``, ``big_int``, ``int``, ``double``, ``timestamp``, ``date`` or ``bool`` (a name of
    ``tableauhyperapi.SqlType``) for a warehouse type such as ``DECIMAL(18,2)`` or ``double precision``.
    Money (numeric) becomes double, as the warehouse hands it to Python and Tableau reads both
    as a decimal number."""
    lowered = warehouse_type.strip().lower()
    for prefixes, name in _TYPE_PREFIXES:
        if lowered.startswith(prefixes):
            return name
    raise UnsupportedType(f"column {column!r}: no Hyper type for the warehouse type {warehouse_type!r}")


@contextlib.contextmanager
def hyper_process() -> Iterator[object]:
    """One Hyper server for several extracts; it writes no log file and sends no telemetry."""
    from tableauhyperapi import HyperProcess, Telemetry

    with HyperProcess(Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU, parameters={"log_config": ""}) as process:
        yield process


def write_extract(process, path: Path, table: str, frame: pd.DataFrame, types: Mapping[str, str]) -> int:
    """Write ``frame`` as table ``Extract.<table>`` of a new ``.hyper`` file at ``path`` (replacing
    it only once complete), each column of the Hyper type named in ``types``; returns the rows."""
    from tableauhyperapi import Connection, CreateMode, SqlType, TableDefinition, TableName, escape_string_literal

    columns = list(frame.columns)
    missing = [column for column in columns if column not in types]
    if missing:
        raise UnsupportedType(f"extract {table}: no type for the columns {missing}")
    definition = TableDefinition(
        TableName(SCHEMA, table),
        [TableDefinition.Column(column, getattr(SqlType, types[column])()) for column in columns],
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=f".{path.stem}.") as scratch:
        parquet = Path(scratch) / "rows.parquet"
        _parquet_frame(frame).to_parquet(parquet, index=False, coerce_timestamps="us", allow_truncated_timestamps=True)
        building = Path(scratch) / path.name
        with Connection(process.endpoint, str(building), CreateMode.CREATE_AND_REPLACE) as connection:
            connection.catalog.create_schema(SCHEMA)
            connection.catalog.create_table(definition)
            select = ", ".join(f"CAST({_quote(column)} AS {_SQL_NAMES[types[column]]})" for column in columns)
            rows = connection.execute_command(
                f"INSERT INTO {definition.table_name} SELECT {select} "
                f"FROM external({escape_string_literal(str(parquet))}, FORMAT => 'parquet')"
            )
        os.replace(building, path)
    return int(rows)


def read_extract(process, path: Path) -> tuple[str, dict[str, str], pd.DataFrame]:
    """The one table of an extract: its name, each column's Hyper type (as ``write_extract``
    names them) and its rows, dates as ``datetime.date`` and timestamps as ``datetime``."""
    from tableauhyperapi import Connection

    with Connection(process.endpoint, str(path)) as connection:
        (table_name,) = connection.catalog.get_table_names(SCHEMA)
        definition = connection.catalog.get_table_definition(table_name)
        types = {column.name.unescaped: _type_name(column.type) for column in definition.columns}
        rows = connection.execute_list_query(f"SELECT * FROM {table_name}")
    frame = pd.DataFrame([[_python_value(value) for value in row] for row in rows], columns=list(types), dtype=object)
    return table_name.name.unescaped, types, frame


def _parquet_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Plain Parquet types: pandas' nullable and string extension types become what Arrow writes
    for any reader (Hyper reads int64, double, bool, string, timestamp[us])."""
    plain = {}
    for column in frame.columns:
        values = frame[column]
        if isinstance(values.dtype, pd.StringDtype) or values.dtype == object:
            plain[column] = values.astype(object).where(values.notna(), None)
        elif pd.api.types.is_extension_array_dtype(values.dtype) and pd.api.types.is_numeric_dtype(values.dtype):
            plain[column] = values.astype("float64")
        else:
            plain[column] = values
    return pd.DataFrame(plain)


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _type_name(sql_type) -> str:
    from tableauhyperapi import TypeTag

    names = {
        TypeTag.TEXT: "text",
        TypeTag.BIG_INT: "big_int",
        TypeTag.INT: "int",
        TypeTag.DOUBLE: "double",
        TypeTag.TIMESTAMP: "timestamp",
        TypeTag.DATE: "date",
        TypeTag.BOOL: "bool",
    }
    return names.get(sql_type.tag, str(sql_type))


def _python_value(value):
    """Hyper's Date and Timestamp as Python's own (other values already are)."""
    if value is None or isinstance(value, str | int | float | bool | date | datetime):
        return value
    if hasattr(value, "to_datetime"):
        return value.to_datetime()
    if hasattr(value, "to_date"):
        return value.to_date()
    return value
