"""The suites as written in ``expectations/<layer>.yml``, with their shorthands expanded into checks."""

from __future__ import annotations

import copy
import functools
from pathlib import Path

import yaml

from retail_intel.quality.model import LAYERS, SEVERITIES, Check, Layer, QualityError
from retail_intel.settings import resource_dir


def suite_path(layer: Layer) -> Path:
    if layer not in LAYERS:
        raise ValueError(f"layer {layer!r} is not one of {', '.join(LAYERS)}")
    return resource_dir("expectations") / f"{layer}.yml"


def load_suite(layer: Layer) -> dict:
    """The suite file of a layer, parsed, exactly as written (the caller's own copy)."""
    path = suite_path(layer)
    suite = copy.deepcopy(_parsed(str(path), path.stat().st_mtime_ns))
    if not isinstance(suite, dict) or not isinstance(suite.get("tables"), dict):
        raise QualityError(f"{path}: expected a mapping with a 'tables' mapping")
    if suite.get("layer") != layer:
        raise QualityError(f"{path}: says layer {suite.get('layer')!r}, expected {layer!r}")
    return suite


@functools.lru_cache(maxsize=8)
def _parsed(path: str, modified_ns: int) -> object:
    # A run reads each suite a score of times (its tables, then each table's checks); parsing
    # the YAML each time took about half a second. The modification time keeps edits visible.
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def tables_in_suite(layer: Layer) -> list[str]:
    return list(load_suite(layer)["tables"])


def load_checks(layer: Layer, table: str, suite: dict | None = None) -> list[Check]:
    """The checks of one table, shorthands expanded, in suite order.

    ``columns`` (raw) becomes ``<alias>_columns_present`` plus one ``<alias>_<column>_type``
    check per column; ``required_columns`` (marts) becomes one ``<alias>_<column>_not_null``
    check per column with the suite's ``required_columns_rule``.
    """
    suite = load_suite(layer) if suite is None else suite
    where = f"{layer}.yml, table {table}"
    spec = suite["tables"].get(table)
    if spec is None:
        raise QualityError(f"{layer}.yml has no table {table!r}; it has {', '.join(suite['tables'])}")
    alias = spec.get("alias", table)
    checks: list[Check] = []

    columns = spec.get("columns") or {}
    if columns:
        checks.append(
            Check(
                name=f"{alias}_columns_present",
                table=table,
                expectation="ExpectTableColumnsToMatchSet",
                kwargs={"column_set": list(columns), "exact_match": False},
                severity="error",
                why=suite["columns_present_why"],
            )
        )
        for column, column_type in columns.items():
            type_spec = suite.get("column_types", {}).get(column_type)
            if type_spec is None:
                raise QualityError(f"{where}: column {column!r} has unknown type {column_type!r}")
            checks.append(
                Check(
                    name=f"{alias}_{column}_type",
                    table=table,
                    expectation="ExpectColumnValuesToBeInTypeList",
                    kwargs={"column": column, "type_list": list(type_spec["type_list"])},
                    severity="error",
                    why=f"{column} must be {column_type}: {type_spec['why']}",
                )
            )

    required = spec.get("required_columns") or []
    if required:
        rule = suite.get("required_columns_rule")
        if not rule:
            raise QualityError(f"{where}: required_columns needs a suite-level required_columns_rule")
        for column in required:
            checks.append(
                Check(
                    name=f"{alias}_{column}_not_null",
                    table=table,
                    expectation="ExpectColumnValuesToNotBeNull",
                    kwargs={"column": column, "mostly": rule["mostly"]},
                    severity=rule["severity"],
                    why=rule["why"],
                )
            )

    for position, raw_check in enumerate(spec.get("checks") or [], start=1):
        if not isinstance(raw_check, dict):
            raise QualityError(f"{where}: check #{position} is not a mapping")
        missing = [key for key in ("name", "expectation", "severity", "why") if not raw_check.get(key)]
        if missing:
            raise QualityError(f"{where}: check #{position} lacks {', '.join(missing)}")
        unknown = set(raw_check) - {"name", "expectation", "kwargs", "severity", "why"}
        if unknown:
            raise QualityError(f"{where}: check {raw_check['name']} has unknown key(s) {', '.join(sorted(unknown))}")
        checks.append(
            Check(
                name=raw_check["name"],
                table=table,
                expectation=raw_check["expectation"],
                kwargs=dict(raw_check.get("kwargs") or {}),
                severity=raw_check["severity"],
                why=raw_check["why"],
            )
        )

    seen: set[str] = set()
    for check in checks:
        if check.severity not in SEVERITIES:
            raise QualityError(f"{where}: check {check.name} has severity {check.severity!r}, not error or warn")
        if check.name in seen:
            raise QualityError(f"{where}: check name {check.name} appears twice")
        seen.add(check.name)
    return checks


def context_tables(layer: Layer, table: str) -> list[str]:
    """Other tables that validate_table needs in ``context_frames`` for this table."""
    needed: list[str] = []

    def visit(value: object) -> None:
        if isinstance(value, dict):
            if isinstance(value.get("table"), str) and value["table"] != table and value["table"] not in needed:
                needed.append(value["table"])
            for inner in value.values():
                visit(inner)
        elif isinstance(value, list):
            for inner in value:
                visit(inner)

    for check in load_checks(layer, table):
        visit(check.kwargs)
    return needed
