"""The dashboard as a person sees it: ``retail-intel dashboard`` started for real on the shipped
sample, every page opened in headless Chromium, its charts drawn and its figures the
warehouse's. Screenshots are kept in test-artifacts/ for a person to look at."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from apps.dashboard import data
from retail_intel.settings import Settings
from retail_intel.warehouse import warehouse_for
from tests.support import ARTIFACTS, clean_env, free_port, start_server

RETAIL_INTEL = str(Path(sys.executable).parent / "retail-intel")
# The shipped sample's last purchase day is 2018-10-17: a first run a month earlier gives the
# segments a previous run to have moved from.
EARLIER = "2018-09-17"


def _cli(home: Path, *args: str) -> None:
    result = subprocess.run(
        [RETAIL_INTEL, "--home", str(home), *args], env=clean_env(), capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@pytest.fixture(scope="module")
def sample_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("dashboard") / "home"
    _cli(home, "run", "--as-of-date", EARLIER)
    _cli(home, "run")
    _cli(home, "score", "--coupon", "0.002", "--high-visibility", "0.01")
    return home


@pytest.fixture(scope="module")
def dashboard(sample_home):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(
        [RETAIL_INTEL, "--home", str(sample_home), "dashboard", "--port", str(port), "--operator"],
        clean_env(),
        sample_home / "dashboard.log",
        f"{base}/_stcore/health",
        timeout=120,
    )
    yield base
    server.terminate()
    server.wait(timeout=30)


def expected_figures(home: Path) -> dict[str, tuple[int, list[str]]]:
    """Per page: the charts it must draw and the figures it must show, read from the warehouse
    with the views the pages use, written as a person reads them."""
    settings = Settings.from_env(clean_env()).with_(home=home)
    warehouse = warehouse_for(settings)
    revenue = data.revenue_view(warehouse)
    segments = data.segments_view(warehouse)
    lists = data.recommendations_view(warehouse)
    models = data.models_view(warehouse)
    tenants = data.operator_view(settings)
    assert segments.movement is not None and segments.moved_customers > 0, "the runs gave the segments no movement"
    assert lists.bands is not None, "the campaign wrote no coupon targets"
    failed = int((~models.checks["passed"].astype(bool)).sum())
    return {
        "": (
            1,
            [
                f"R$ {revenue.last_30_days:,.0f}",
                f"{revenue.orders_last_30_days:,}",
                f"R$ {revenue.forecast_next:,.0f}",
            ],
        ),
        "segments": (
            3,
            [
                f"{int(segments.summary['customers'].sum()):,}",
                f"{len(segments.summary)}",
                f"{segments.moved_customers:,}",
            ],
        ),
        "recommendations": (1, [f"{lists.customer_coverage:.1%}", f"{lists.catalogue_coverage:.1%}"]),
        "models": (2, [f"{failed} of {len(models.checks)}"]),
        "tenants": (1, ["1", str(tenants.engines["on"])]),
    }


def test_every_page_draws_its_charts_with_the_warehouse_figures(browser, dashboard, sample_home):
    from selenium.webdriver.common.by import By

    ARTIFACTS.mkdir(exist_ok=True)
    for page, (charts, figures) in expected_figures(sample_home).items():
        browser.get(f"{dashboard}/{page}")
        deadline = time.monotonic() + 90
        drawn, shown = [], []
        while time.monotonic() < deadline:
            drawn = [
                chart
                for chart in browser.find_elements(By.CSS_SELECTOR, '[data-testid="stVegaLiteChart"]')
                if chart.find_elements(By.CSS_SELECTOR, "canvas, svg")
            ]
            shown = [metric.text for metric in browser.find_elements(By.CSS_SELECTOR, '[data-testid="stMetricValue"]')]
            if len(drawn) >= charts and all(figure in shown for figure in figures):
                break
            time.sleep(0.5)
        browser.save_screenshot(str(ARTIFACTS / f"dashboard-{page or 'revenue'}.png"))
        errors = browser.find_elements(
            By.CSS_SELECTOR, '[data-testid="stException"], [data-testid="stAlertContentError"]'
        )
        assert not errors, f"page {page!r}: {[error.text[:500] for error in errors]}"
        assert "Page not found" not in browser.find_element(By.TAG_NAME, "body").text, page
        assert len(drawn) == charts, f"page {page!r} drew {len(drawn)} charts, expected {charts}"
        for figure in figures:
            assert figure in shown, f"page {page!r} shows {shown}, not {figure!r}"


def test_the_dashboard_refuses_a_port_in_use_with_a_message(sample_home):
    """Streamlit's own message reaches the user when the port is taken (and nothing hangs)."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [RETAIL_INTEL, "--home", str(sample_home), "dashboard", "--port", str(port)],
            env={**clean_env(), **({"PATH": os.environ["PATH"]})},
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode != 0
    assert str(port) in result.stdout + result.stderr
