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
GX itself (about 2 s to import) is imported by the first validation only, so that callers
that merely declare the checks (load_checks) do not pay for it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import unquote, urlparse

import pandas as pd
import yaml

from retail_intel.settings import resource_dir

if TYPE_CHECKING:
    from great_expectations.expectations.expectation import Expectation

Layer = Literal["raw", "marts"]
Severity = Literal["error", "warn"]
LAYERS: tuple[Layer, ...] = ("raw", "marts")
SEVERITIES: tuple[Severity, ...] = ("error", "warn")
SAMPLE_ROWS = 10
_GX_SEVERITY = {"error": "critical", "warn": "warning"}
_DOCS_SITE = "retail_intel"


class QualityError(Exception):
    """A suite cannot be run: a malformed check, a missing context table, or GX failing on a check."""


@dataclass(frozen=True)
class QualityConfig:
    """Run-time parameters that the suites read through ``{config: NAME}``."""

    # Days the latest purchase may lie before the as-of date before the marts count as stale.
    max_age_days: int = 2

    def __post_init__(self) -> None:
        if isinstance(self.max_age_days, bool) or not isinstance(self.max_age_days, numbers.Integral):
            raise ValueError(f"max_age_days must be a whole number of days, got {self.max_age_days!r}")
        if self.max_age_days < 0:
            raise ValueError(f"max_age_days must be >= 0, got {self.max_age_days}")


@dataclass(frozen=True)
class CheckResult:
    name: str
    table: str
    column: str | None
    expectation: str
    severity: Severity
    passed: bool
    # GX's observed value where it reports one (a maximum, a row count, a dtype), else the
    # number of unexpected rows. Always JSON-serialisable.
    observed: object
    unexpected_count: int | None
    unexpected_percent: float | None
    # Up to SAMPLE_ROWS offending rows, every column, JSON-serialisable; [] when the check
    # passed or is not about rows.
    sample_rows: list[dict]
    why: str


@dataclass(frozen=True)
class SuiteResult:
    suite: Layer
    table: str
    results: list[CheckResult]
    data_docs_path: Path | None = None

    @property
    def blocking_failures(self) -> list[CheckResult]:
        return [result for result in self.results if result.severity == "error" and not result.passed]

    @property
    def warnings(self) -> list[CheckResult]:
        return [result for result in self.results if result.severity == "warn" and not result.passed]

    @property
    def passed(self) -> bool:
        return not self.blocking_failures


@dataclass(frozen=True)
class Check:
    """One check of a suite, as written or expanded from a shorthand (see load_checks)."""

    name: str
    table: str
    expectation: str
    kwargs: dict[str, Any]
    severity: Severity
    why: str

    @property
    def column(self) -> str | None:
        return self.kwargs.get("column") or self.kwargs.get("column_A")

    @property
    def columns(self) -> list[str]:
        """Every column of the checked table that the check reads."""
        names = [self.kwargs.get(key) for key in ("column", "column_A", "column_B")]
        names += list(self.kwargs.get("column_list") or [])
        return [name for name in names if isinstance(name, str)]


# ---- suites ----------------------------------------------------------------------------------


def suite_path(layer: Layer) -> Path:
    if layer not in LAYERS:
        raise ValueError(f"layer {layer!r} is not one of {', '.join(LAYERS)}")
    return resource_dir("expectations") / f"{layer}.yml"


def load_suite(layer: Layer) -> dict:
    """The suite file of a layer, parsed, exactly as written."""
    path = suite_path(layer)
    with path.open(encoding="utf-8") as handle:
        suite = yaml.safe_load(handle)
    if not isinstance(suite, dict) or not isinstance(suite.get("tables"), dict):
        raise QualityError(f"{path}: expected a mapping with a 'tables' mapping")
    if suite.get("layer") != layer:
        raise QualityError(f"{path}: says layer {suite.get('layer')!r}, expected {layer!r}")
    return suite


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


# ---- resolvers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Resolution:
    check: Check
    frame: pd.DataFrame
    context_frames: Mapping[str, pd.DataFrame]
    config: QualityConfig

    def fail(self, message: str) -> QualityError:
        return QualityError(f"check {self.check.name} on {self.check.table}: {message}")

    def column_of(self, argument: object, resolver: str) -> pd.Series:
        if not isinstance(argument, dict) or not isinstance(argument.get("column"), str):
            raise self.fail(f"{resolver} needs {{table: ..., column: ...}}, got {argument!r}")
        table = argument.get("table", self.check.table)
        if table == self.check.table:
            frame = self.frame
        elif table in self.context_frames:
            frame = self.context_frames[table]
        else:
            raise self.fail(f"{resolver} reads table {table!r}: pass it in context_frames")
        if argument["column"] not in frame.columns:
            raise self.fail(f"{resolver} reads {table}.{argument['column']}, which that frame lacks")
        return frame[argument["column"]]


def _config(argument: object, resolution: _Resolution) -> object:
    if argument not in {config_field.name for config_field in dataclasses.fields(resolution.config)}:
        raise resolution.fail(f"config {argument!r} is not a field of QualityConfig")
    return getattr(resolution.config, argument)


def _absent_from(argument: object, resolution: _Resolution) -> list:
    # The suite asks "every value is in the other column". Handing GX the other column's
    # values as a value_set took over 10 s for the 100K order ids on the 114K-row items
    # table: GX 1.x re-serialises an expectation's kwargs on every metric lookup. The
    # orphans, the values that are NOT there, are the same test inverted
    # (ExpectColumnValuesToNotBeInSet) and usually none or a handful.
    column = resolution.check.kwargs.get("column")
    if not isinstance(column, str) or column not in resolution.frame.columns:
        raise resolution.fail("absent_from needs the check's own column to be in the frame")
    reference = resolution.column_of(argument, "absent_from").dropna().unique()
    values = pd.Series(resolution.frame[column].dropna().unique())
    orphans = values[~values.isin(reference)]
    return sorted((_plain(value) for value in orphans), key=str)


def _max_of(argument: object, resolution: _Resolution) -> object:
    values = resolution.column_of(argument, "max_of").dropna()
    if values.empty:
        raise resolution.fail(f"max_of {argument!r}: the column has no values")
    return _plain(values.max())


def _days_before(argument: object, resolution: _Resolution) -> datetime:
    if not isinstance(argument, dict) or set(argument) != {"date", "days"}:
        raise resolution.fail(f"days_before needs {{date: ..., days: ...}}, got {argument!r}")
    days = argument["days"]
    if isinstance(days, bool) or not isinstance(days, numbers.Integral):
        raise resolution.fail(f"days_before: days must be a whole number, got {days!r}")
    day = pd.Timestamp(argument["date"]).normalize()
    return (day - pd.Timedelta(days=int(days))).to_pydatetime()


def _calendar_days_between(argument: object, resolution: _Resolution) -> int:
    days = pd.to_datetime(resolution.column_of(argument, "calendar_days_between").dropna()).dt.normalize()
    if days.empty:
        return 0
    return (days.max() - days.min()).days + 1


_RESOLVERS: dict[str, Callable[[Any, _Resolution], object]] = {
    "config": _config,
    "absent_from": _absent_from,
    "max_of": _max_of,
    "days_before": _days_before,
    "calendar_days_between": _calendar_days_between,
}


def _resolve(value: object, resolution: _Resolution) -> object:
    """Resolvers nest: the innermost are evaluated first."""
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)) in _RESOLVERS:
            name, argument = next(iter(value.items()))
            return _RESOLVERS[name](_resolve(argument, resolution), resolution)
        return {key: _resolve(inner, resolution) for key, inner in value.items()}
    if isinstance(value, list):
        return [_resolve(inner, resolution) for inner in value]
    return value


# ---- validation ------------------------------------------------------------------------------


def _plain(value: object) -> object:
    """A numpy/pandas scalar as the plain Python value GX and JSON accept."""
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return value.item()
    return value


def _jsonable(value: object) -> object:
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (datetime, date, pd.Timestamp)):
        return value.isoformat()
    return json.loads(json.dumps(value, default=str))


def _rows(frame: pd.DataFrame, index: list) -> list[dict]:
    if not index:
        return []
    # to_json turns NaN/NaT into null, timestamps into ISO text and numpy scalars into numbers.
    return json.loads(frame.loc[list(index)].to_json(orient="records", date_format="iso", date_unit="s"))


def _for_gx(frame: pd.DataFrame) -> pd.DataFrame:
    # A unique RangeIndex makes GX's unexpected indices point at exactly one row each.
    frame = frame.reset_index(drop=True)
    # GX 1.24 compares a column's dtype with a type name by ==, and pandas 3's default "str"
    # dtype equals no name GX can build; as object columns, GX checks text value by value.
    text = [name for name, dtype in frame.dtypes.items() if isinstance(dtype, pd.StringDtype)]
    return frame.astype({name: object for name in text}) if text else frame


def _expectation(check: Check, kwargs: dict[str, Any]) -> Expectation:
    import great_expectations.expectations as gxe
    from great_expectations.expectations.expectation import Expectation

    expectation_class = getattr(gxe, check.expectation, None)
    if not (isinstance(expectation_class, type) and issubclass(expectation_class, Expectation)):
        raise QualityError(f"check {check.name}: {check.expectation!r} is not a Great Expectations expectation")
    try:
        return expectation_class(
            **kwargs, meta={"check": check.name}, notes=check.why, severity=_GX_SEVERITY[check.severity]
        )
    except Exception as error:  # pydantic's message names the bad argument; the check name is added
        raise QualityError(f"check {check.name} ({check.expectation}): invalid kwargs: {error}") from error


def _missing_column_result(check: Check, missing: list[str]) -> CheckResult:
    # GX would raise on every check of a missing column; the <alias>_columns_present check
    # already reports it in GX, so its dependants fail plainly instead of aborting the suite.
    return CheckResult(
        name=check.name,
        table=check.table,
        column=check.column,
        expectation=check.expectation,
        severity=check.severity,
        passed=False,
        observed=f"missing column(s): {', '.join(missing)}",
        unexpected_count=None,
        unexpected_percent=None,
        sample_rows=[],
        why=check.why,
    )


def _raised_exception(exception_info: object) -> str | None:
    """GX reports exceptions per expectation or per metric; the first message, if any."""
    if not isinstance(exception_info, dict):
        return None
    if exception_info.get("raised_exception"):
        return str(exception_info.get("exception_message") or exception_info.get("exception_traceback"))
    for inner in exception_info.values():
        if isinstance(inner, dict) and inner.get("raised_exception"):
            return str(inner.get("exception_message") or inner.get("exception_traceback"))
    return None


def _check_result(check: Check, gx_result: dict, frame: pd.DataFrame) -> CheckResult:
    passed = bool(gx_result["success"])
    details = gx_result.get("result") or {}
    unexpected_count = details.get("unexpected_count")
    unexpected_percent = details.get("unexpected_percent")
    if "observed_value" in details:
        observed = details["observed_value"]
    else:
        observed = unexpected_count
    index = details.get("partial_unexpected_index_list") or []
    return CheckResult(
        name=check.name,
        table=check.table,
        column=check.column,
        expectation=check.expectation,
        severity=check.severity,
        passed=passed,
        observed=_jsonable(observed),
        unexpected_count=None if unexpected_count is None else int(unexpected_count),
        unexpected_percent=None if unexpected_percent is None else float(unexpected_percent),
        sample_rows=[] if passed else _rows(frame, index[:SAMPLE_ROWS]),
        why=check.why,
    )


def _context_config(data_docs_dir: Path | None):
    """Stores in memory; with data_docs_dir, a Data Docs site there.

    The site's index lists what GX's suite and validation-result stores hold and deletes
    pages they do not know, so with docs those two stores are files beside the site
    (``<data_docs_dir>/.gx``): every validation written into the folder stays listed.
    """
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    defaults = InMemoryStoreBackendDefaults()
    if data_docs_dir is not None:
        for store_name, folder in (
            (defaults.expectations_store_name, "expectations"),
            (defaults.validation_results_store_name, "validation_results"),
        ):
            defaults.stores[store_name]["store_backend"] = {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(data_docs_dir / ".gx" / folder),
            }
        defaults.data_docs_sites = {
            _DOCS_SITE: {
                "class_name": "SiteBuilder",
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(data_docs_dir)},
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            }
        }
    return DataContextConfig(
        store_backend_defaults=defaults,
        progress_bars=ProgressBarsConfig(globally=False),
        analytics_enabled=False,
    )


def validate_table(
    layer: Layer,
    table: str,
    frame: pd.DataFrame,
    *,
    context_frames: Mapping[str, pd.DataFrame] | None = None,
    config: QualityConfig = QualityConfig(),  # noqa: B008 - frozen, so one shared default is safe
    data_docs_dir: Path | None = None,
) -> SuiteResult:
    """Runs the table's checks with GX on the frame; results in suite order.

    Raises QualityError when a check is malformed, needs a table missing from
    ``context_frames``, or GX raises while evaluating it (never reported as passed).
    """
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction

    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
    checks = load_checks(layer, table)
    if data_docs_dir is not None:
        data_docs_dir = Path(data_docs_dir).resolve()
    gx_frame = _for_gx(frame)
    context_frames = context_frames or {}

    results: dict[str, CheckResult] = {}
    expectations = []
    for check in checks:
        missing = [name for name in check.columns if name not in gx_frame.columns]
        if missing:
            results[check.name] = _missing_column_result(check, missing)
            continue
        kwargs = _resolve(check.kwargs, _Resolution(check, gx_frame, context_frames, config))
        expectations.append(_expectation(check, kwargs))

    context = gx.get_context(mode="ephemeral", project_config=_context_config(data_docs_dir))
    actions = [] if data_docs_dir is None else [UpdateDataDocsAction(name="data_docs", site_names=[_DOCS_SITE])]
    batch_definition = (
        context.data_sources.add_pandas(layer).add_dataframe_asset(table).add_batch_definition_whole_dataframe(table)
    )
    suite = context.suites.add_or_update(gx.ExpectationSuite(name=f"{layer}.{table}", expectations=expectations))
    validation = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{layer}.{table}", data=batch_definition, suite=suite)
    )
    checkpoint = context.checkpoints.add(
        gx.Checkpoint(
            name=f"{layer}.{table}",
            validation_definitions=[validation],
            actions=actions,
            result_format={"result_format": "SUMMARY", "partial_unexpected_count": SAMPLE_ROWS},
        )
    )
    outcome = checkpoint.run(batch_parameters={"dataframe": gx_frame})
    [(result_id, suite_result)] = outcome.run_results.items()

    by_name = {check.name: check for check in checks}
    for gx_result in suite_result.results:
        name = gx_result.expectation_config.meta["check"]
        raised = _raised_exception(gx_result.exception_info)
        if raised is not None:
            raise QualityError(f"check {name} ({by_name[name].expectation}) on {layer}.{table} raised: {raised}")
        results[name] = _check_result(by_name[name], gx_result.to_json_dict(), gx_frame)

    data_docs_path = None
    if data_docs_dir is not None:
        [site] = context.get_docs_sites_urls(resource_identifier=result_id, site_names=[_DOCS_SITE])
        data_docs_path = Path(unquote(urlparse(site["site_url"]).path))
    return SuiteResult(
        suite=layer,
        table=table,
        results=[results[check.name] for check in checks],
        data_docs_path=data_docs_path,
    )


__all__ = [
    "Check",
    "CheckResult",
    "QualityConfig",
    "QualityError",
    "SuiteResult",
    "context_tables",
    "load_checks",
    "load_suite",
    "tables_in_suite",
    "validate_table",
]
