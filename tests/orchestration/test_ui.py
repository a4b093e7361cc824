"""The Dagster UI, as a person sees it: the webserver started for real, read by headless Chromium.

Needs Debian's chromium and chromium-driver (.ci/run installs them). Outside CI the test
is skipped, with the reason, when they are missing. The screenshots are kept in
test-artifacts/ for a person to look at.
"""

import os
import shutil
import sys
import time
from pathlib import Path

import pytest

from orchestration.runner import prepare_dagster_home, run_graph
from retail_intel.settings import Settings
from retail_intel.warehouse import MART_TABLES
from tests.support import ARTIFACTS, free_port, start_server

LOCATION = "orchestration.definitions"


@pytest.fixture(scope="module")
def webserver(tmp_path_factory, generated_raw_dir):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RETAIL_INTEL_", "DAGSTER_HOME"))}
    home = tmp_path_factory.mktemp("ui-home")
    # A run whose raw orders repeat three order ids: the UI must show the blocking failure.
    raw = home / "raw"
    shutil.copytree(generated_raw_dir, raw)
    orders = raw / "olist_orders_dataset.csv"
    lines = orders.read_text(encoding="utf-8").splitlines(keepends=True)
    orders.write_text("".join(lines + lines[1:4]), encoding="utf-8")
    settings = Settings.from_env(env).with_(home=home)
    assert not run_graph(settings.with_(raw_dir_override=raw), log=lambda _: None).success
    prepare_dagster_home(settings)  # sets DAGSTER_HOME in this process; the child gets it too
    env.update(RETAIL_INTEL_HOME=str(home), DAGSTER_HOME=str(settings.dagster_home))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(
        [str(Path(sys.executable).parent / "dagster-webserver"), "-m", LOCATION, "-h", "127.0.0.1", "-p", str(port)],
        env,
        home / "webserver.log",
        f"{base}/server_info",
        timeout=180,
    )
    yield base
    server.terminate()
    server.wait(timeout=30)


def page_text(browser, url: str, expected: str, timeout: float = 90, reload: bool = True) -> str:
    """Load a page and wait until the React app shows ``expected`` (or give up with the text seen)."""
    if reload:
        browser.get(url)
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        # A first visit opens a newsletter dialog over the page.
        for button in browser.find_elements("xpath", "//button[normalize-space()='Skip']"):
            button.click()
        text = browser.find_element("tag name", "body").text
        if expected in text:
            return text
        time.sleep(1)
    pytest.fail(f"{url} never showed {expected!r}; it showed: {text[:1500]}")


def test_marts_are_listed_in_the_asset_graph(browser, webserver):
    ARTIFACTS.mkdir(exist_ok=True)
    listing = page_text(browser, f"{webserver}/locations/{LOCATION}/asset-groups/marts/list", "marts / daily_revenue")
    browser.save_screenshot(str(ARTIFACTS / "dagster-marts-list.png"))
    for mart in MART_TABLES:
        assert f"marts / {mart}" in listing

    lineage = page_text(browser, f"{webserver}/asset-groups", "serving")
    browser.save_screenshot(str(ARTIFACTS / "dagster-lineage.png"))
    for group in ("raw", "staging", "intermediate", "marts", "ml", "serving", "bi"):
        assert group in lineage.split("\n")

    # dbt's exposures: the dashboard downstream of the tables it reads.
    exposure = page_text(browser, f"{webserver}/assets/bi/retail_intel_dashboard?view=lineage", "segment_movement")
    browser.save_screenshot(str(ARTIFACTS / "dagster-exposure-lineage.png"))
    for upstream in ("daily_revenue", "revenue_forecast", "model_health"):
        assert upstream in exposure


def test_blocking_failure_is_shown_with_its_column(browser, webserver):
    ARTIFACTS.mkdir(exist_ok=True)
    page_text(browser, f"{webserver}/assets/raw/olist_orders_dataset?view=checks", "orders_order_id_unique")
    browser.find_element("xpath", "//*[normalize-space()='orders_order_id_unique']").click()
    details = page_text(browser, browser.current_url, "ExpectColumnValuesToBeUnique", timeout=30, reload=False)
    browser.save_screenshot(str(ARTIFACTS / "dagster-failed-check.png"))
    assert "This is a blocking asset check" in details
    assert "Failed" in details
    for shown in ("column", "order_id", "sample_rows", "unexpected_count"):
        assert shown in details
