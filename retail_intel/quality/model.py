"""What the suites are made of and what a validation reports: checks, results, run-time config."""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Layer = Literal["raw", "marts"]
Severity = Literal["error", "warn"]
LAYERS: tuple[Layer, ...] = ("raw", "marts")
SEVERITIES: tuple[Severity, ...] = ("error", "warn")
SAMPLE_ROWS = 10


class QualityError(Exception):
    """A suite cannot be run: a malformed check, a missing context table, or GX failing on a check."""


@dataclass(frozen=True)
class QualityConfig:
    """Run-time parameters that the suites read through ``{config: NAME}``."""

    # Days the latest purchase may lie before the as-of date before the marts count as stale.
    max_age_days: int = 2
    # Shares a required column must have filled, and prices must lie within 3 sigma: one minus
    # the tenant's data_quality.missing_share_alert and .price_outlier_share_alert.
    required_mostly: float = 0.99
    outlier_mostly: float = 0.999

    def __post_init__(self) -> None:
        for name in ("required_mostly", "outlier_mostly"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
                raise ValueError(f"{name} must be a share between 0 and 1, got {value!r}")
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
