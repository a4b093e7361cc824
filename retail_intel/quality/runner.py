"""Running a layer's checks with Great Expectations and turning GX's results into CheckResults."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

import pandas as pd

from retail_intel.quality.model import SAMPLE_ROWS, Check, CheckResult, Layer, QualityConfig, QualityError, SuiteResult
from retail_intel.quality.resolvers import Resolution, resolve
from retail_intel.quality.suites import load_checks

if TYPE_CHECKING:
    from great_expectations.expectations.expectation import Expectation

_GX_SEVERITY = {"error": "critical", "warn": "warning"}
_DOCS_SITE = "retail_intel"


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
    # dtype (NaN for missing) equals no name GX can build. "string" (pd.NA for missing, the
    # same Arrow storage) equals pd.StringDtype(), so the suite's StringDtype type passes on
    # the dtype alone. As object columns, as before, GX checked the text value by value:
    # 52 columns, about 3 s of the raw gate at 100K orders.
    text = [name for name, dtype in frame.dtypes.items() if isinstance(dtype, pd.StringDtype)]
    return frame.astype({name: pd.StringDtype() for name in text}) if text else frame


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
    """Runs one table's checks with GX on the frame; see validate_tables."""
    return validate_tables(
        layer, {table: frame}, context_frames=context_frames, config=config, data_docs_dir=data_docs_dir
    )[table]


def validate_tables(
    layer: Layer,
    frames: Mapping[str, pd.DataFrame],
    *,
    context_frames: Mapping[str, pd.DataFrame] | None = None,
    config: QualityConfig = QualityConfig(),  # noqa: B008 - frozen, so one shared default is safe
    data_docs_dir: Path | None = None,
) -> dict[str, SuiteResult]:
    """Runs each table's checks with GX on its frame; results per table in the order of
    ``frames``, each table's checks in suite order.

    One GX context serves every table and, with ``data_docs_dir``, the Data Docs site is built
    once for all of them: built per table, GX compiled its page templates and rewrote the
    site's index nine times, about a third of the raw gate at 100K orders.

    ``context_frames`` holds the other tables that cross-table checks read (the tables in
    ``frames`` are added to it). Raises QualityError when a check is malformed, needs a table
    missing from the context, or GX raises while evaluating it (never reported as passed).
    """
    import great_expectations as gx
    from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

    for table, frame in frames.items():
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"frame of {table} must be a pandas DataFrame, got {type(frame).__name__}")
    if data_docs_dir is not None:
        data_docs_dir = Path(data_docs_dir).resolve()
    context_frames = {**(context_frames or {}), **frames}
    context = gx.get_context(mode="ephemeral", project_config=_context_config(data_docs_dir))
    data_source = context.data_sources.add_pandas(layer)

    outcomes = {}
    for table, frame in frames.items():
        checks = load_checks(layer, table)
        gx_frame = _for_gx(frame)
        results: dict[str, CheckResult] = {}
        expectations = []
        for check in checks:
            missing = [name for name in check.columns if name not in gx_frame.columns]
            if missing:
                results[check.name] = _missing_column_result(check, missing)
                continue
            kwargs = resolve(check.kwargs, Resolution(check, gx_frame, context_frames, config))
            expectations.append(_expectation(check, kwargs))
        batch_definition = data_source.add_dataframe_asset(table).add_batch_definition_whole_dataframe(table)
        suite = context.suites.add_or_update(gx.ExpectationSuite(name=f"{layer}.{table}", expectations=expectations))
        validation = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{layer}.{table}", data=batch_definition, suite=suite)
        )
        checkpoint = context.checkpoints.add(
            gx.Checkpoint(
                name=f"{layer}.{table}",
                validation_definitions=[validation],
                result_format={"result_format": "SUMMARY", "partial_unexpected_count": SAMPLE_ROWS},
            )
        )
        [(result_id, suite_result)] = checkpoint.run(batch_parameters={"dataframe": gx_frame}).run_results.items()

        by_name = {check.name: check for check in checks}
        for gx_result in suite_result.results:
            name = gx_result.expectation_config.meta["check"]
            raised = _raised_exception(gx_result.exception_info)
            if raised is not None:
                raise QualityError(f"check {name} ({by_name[name].expectation}) on {layer}.{table} raised: {raised}")
            results[name] = _check_result(by_name[name], gx_result.to_json_dict(), gx_frame)
        outcomes[table] = (result_id, suite.name, [results[check.name] for check in checks])

    docs: dict[str, Path] = {}
    if data_docs_dir is not None:
        identifiers = []
        for result_id, suite_name, _ in outcomes.values():
            identifiers += [result_id, ExpectationSuiteIdentifier(name=suite_name)]
        context.build_data_docs(site_names=[_DOCS_SITE], resource_identifiers=identifiers)
        for table, (result_id, _, _) in outcomes.items():
            [site] = context.get_docs_sites_urls(resource_identifier=result_id, site_names=[_DOCS_SITE])
            docs[table] = Path(unquote(urlparse(site["site_url"]).path))
    return {
        table: SuiteResult(suite=layer, table=table, results=results, data_docs_path=docs.get(table))
        for table, (_, _, results) in outcomes.items()
    }
