"""Tableau's Hyper extracts, written and read with Tableau's own Hyper API (``tableauhyperapi``).

Rows go in through a Parquet file that Hyper reads itself (``external``), each column cast to
its declared type, rather than through the row-by-row ``Inserter``, which calls into Hyper
once per value from Python.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

# One extract holds one table, in Tableau's usual schema for extracts.
SCHEMA = "Extract"

# Hyper's type for a column of the warehouse, by the name either engine gives its type (the
# name before any "(precision)"): DuckDB's VARCHAR, BIGINT, DECIMAL(18,2), TIMESTAMP_NS, ...,
# PostgreSQL's text, double precision, timestamp without time zone, ...
_TYPE_NAMES: dict[str, str] = {
    **dict.fromkeys(("varchar", "text", "character varying", "character", "char", "bpchar", "string"), "text"),
    **dict.fromkeys(("bigint", "int8", "long", "ubigint", "uinteger", "hugeint"), "big_int"),
    **dict.fromkeys(("integer", "int", "int4", "smallint", "int2", "tinyint", "int1", "usmallint", "utinyint"), "int"),
    **dict.fromkeys(
        ("double", "double precision", "float", "float4", "float8", "real", "decimal", "numeric"), "double"
    ),
    **dict.fromkeys(("date",), "date"),
    **dict.fromkeys(("boolean", "bool"), "bool"),
    # DuckDB's type of a column written with no value at all: nothing to lose as text.
    "null": "text",
}
# Arrow's type for the Parquet file Hyper reads the rows from; dates travel as timestamps and
# are cast to DATE by Hyper.
_ARROW_TYPES = {
    "text": "string",
    "big_int": "int64",
    "int": "int64",
    "double": "float64",
    "timestamp": "timestamp[us]",
    "date": "timestamp[us]",
    "bool": "bool",
}

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
    name = warehouse_type.strip().strip('"').lower().split("(")[0].strip()
    if name.startswith(("timestamp", "datetime")):
        return "timestamp"
    if name in _TYPE_NAMES:
        return _TYPE_NAMES[name]
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
        pq.write_table(_arrow_table(frame, types), parquet)
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


def _arrow_table(frame: pd.DataFrame, types: Mapping[str, str]) -> pa.Table:
    """The rows with each column's Arrow type fixed by its declared type, not guessed from the
    values: a column with no value (an empty table, a forecast not made) is still typed."""
    arrays = []
    for column in frame.columns:
        values = frame[column]
        kind = types[column]
        if kind in ("timestamp", "date"):
            values = pd.to_datetime(values).astype("datetime64[us]")
        elif kind == "text":
            values = values.astype(object).where(values.notna(), None)
        arrays.append(pa.array(values, type=pa.type_for_alias(_ARROW_TYPES[kind]), from_pandas=True))
    return pa.Table.from_arrays(arrays, names=[str(column) for column in frame.columns])


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
