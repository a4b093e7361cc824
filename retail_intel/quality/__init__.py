"""Great Expectations suites on pandas frames: the raw tables and the marts.

The suites are YAML in the repository's ``expectations/`` folder (format: its README). A
check names a GX 1.x expectation class and its kwargs; the few kwargs that depend on the
data or on configuration are written as resolvers and filled in here before GX runs:

    {config: NAME}                          a field of QualityConfig
    {absent_from: {table: T, column: C}}    the distinct values of the check's column that
                                            table T's column C lacks (the orphans)
    {max_of: {table: T, column: C}}         the largest value of T.C (T may be the table checked)
    {days_before: {date: D, days: N}}       midnight of day D minus N days
    {calendar_days_between: {column: C}}    days from the first to the last day in C, both counted

    result = validate_table("raw", "olist_order_items_dataset", items,
                            context_frames={"olist_orders_dataset": orders, "olist_products_dataset": products})
    if result.blocking_failures: ...

Each call builds its own ephemeral GX context (a few milliseconds), so validations never
share state; when ``data_docs_dir`` is given the context also writes a Data Docs site there.
GX itself (about 2.5 s to import) is imported by the first validation only, so that callers
that merely declare the checks (load_checks) do not pay for it. (Importing it on a thread
while DuckDB parses the raw files saved nothing on 2 cores: the two took turns.)

Modules: ``model`` (checks, results, config), ``suites`` (the YAML suites and their
shorthands), ``resolvers`` (data-dependent kwargs), ``runner`` (GX and Data Docs).
"""

from __future__ import annotations

from retail_intel.quality.model import (
    LAYERS,
    SAMPLE_ROWS,
    SEVERITIES,
    Check,
    CheckResult,
    Layer,
    QualityConfig,
    QualityError,
    Severity,
    SuiteResult,
)
from retail_intel.quality.runner import validate_table, validate_tables
from retail_intel.quality.suites import context_tables, load_checks, load_suite, suite_path, tables_in_suite

__all__ = [
    "LAYERS",
    "SAMPLE_ROWS",
    "SEVERITIES",
    "Check",
    "CheckResult",
    "Layer",
    "QualityConfig",
    "QualityError",
    "Severity",
    "SuiteResult",
    "context_tables",
    "load_checks",
    "load_suite",
    "suite_path",
    "tables_in_suite",
    "validate_table",
    "validate_tables",
]
