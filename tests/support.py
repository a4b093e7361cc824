"""Helpers the tests share: settings isolated from a developer's environment, and a test
warehouse built the way users build one, through the graph's ``build_warehouse`` job (raw
files through the marts, with their quality gates), in this process."""

from __future__ import annotations

import os
from pathlib import Path

from orchestration.runner import GraphRunReport, run_graph
from retail_intel.settings import Settings


def clean_env() -> dict[str, str]:
    """The process environment without any retail-intel variables a developer may have set."""
    return {key: value for key, value in os.environ.items() if not key.startswith("RETAIL_INTEL_")}


def make_settings(home: Path, **changes) -> Settings:
    return Settings.from_env(clean_env()).with_(home=home, **changes)


def build_warehouse(settings: Settings, **options) -> GraphRunReport:
    """The job's report, failed or not."""
    return run_graph(settings, job_name="build_warehouse", log=lambda _: None, **options)


def built_warehouse(settings: Settings, **options) -> GraphRunReport:
    """The job's report; the test fails here, with the steps' messages, if the build did not succeed."""
    report = build_warehouse(settings, **options)
    assert report.success, report.failures
    return report
