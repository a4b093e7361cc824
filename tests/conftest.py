"""Shared fixtures: generated raw folders, isolated settings, and the PostgreSQL server.

Every test gets its own RETAIL_INTEL_HOME under pytest's tmp dir, so nothing touches a
developer's real warehouse.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from retail_intel.generator import GeneratorConfig, generate
from retail_intel.settings import Settings
from tests.support import GraphRunReport, built_warehouse, clean_env, make_settings

SMALL_ORDERS = 3_000


@pytest.fixture(scope="session")
def generated_raw_dir(tmp_path_factory) -> Path:
    """A small, Olist-like messy raw folder (messy_rate 2 to exercise the quirks)."""
    out = tmp_path_factory.mktemp("raw") / "olist"
    generate(GeneratorConfig(orders=SMALL_ORDERS, seed=7, messy_rate=2.0), out)
    return out


@pytest.fixture
def raw_copy(generated_raw_dir, tmp_path) -> Path:
    """A private copy of the generated folder that a test may corrupt."""
    target = tmp_path / "raw_copy"
    shutil.copytree(generated_raw_dir, target)
    return target


@pytest.fixture
def settings(tmp_path) -> Settings:
    return make_settings(tmp_path / "home")


@pytest.fixture(scope="session")
def built_duckdb(tmp_path_factory, generated_raw_dir) -> tuple[Settings, GraphRunReport]:
    """One DuckDB build of the generated folder, shared by the read-only tests."""
    settings = make_settings(tmp_path_factory.mktemp("home"), raw_dir_override=generated_raw_dir)
    return settings, built_warehouse(settings)


@pytest.fixture(scope="session")
def graph_run(tmp_path_factory, generated_raw_dir):
    """The whole Dagster graph materialized once on the generated set (horizon 14, top 5)."""
    from orchestration.runner import run_graph

    settings = make_settings(tmp_path_factory.mktemp("graph-home"), raw_dir_override=generated_raw_dir)
    report = run_graph(settings, horizon=14, top_k=5, log=lambda _: None)
    return settings, report


def postgres_reachable() -> str | None:
    """None when the server named by the PG* variables answers, else the reason it does not."""
    if "PGHOST" not in os.environ:
        return "PGHOST is not set (.ci/start-postgres starts a server and prints the variables)"
    try:
        import psycopg2

        psycopg2.connect(connect_timeout=3).close()
    except Exception as error:  # the reason is reported, not swallowed: it becomes the skip/fail text
        return f"cannot connect to PostgreSQL at {os.environ.get('PGHOST')}:{os.environ.get('PGPORT')}: {error}"
    return None


@pytest.fixture(scope="session")
def postgres_env() -> dict[str, str]:
    reason = postgres_reachable()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI must test PostgreSQL for real: {reason}")
        pytest.skip(reason)
    return clean_env()


@pytest.fixture(scope="session")
def postgres_graph_run(postgres_env, generated_raw_dir, tmp_path_factory):
    """The whole graph on PostgreSQL for tenant ``graphpg`` (top 3), shared by the graph and
    serving tests; its schemas are dropped afterwards, since the database is shared."""
    import psycopg2

    from orchestration.runner import run_graph

    settings = Settings.from_env(postgres_env).with_(
        home=tmp_path_factory.mktemp("graph-pg") / "home",
        tenant_id="graphpg",
        target="postgres",
        raw_dir_override=generated_raw_dir,
    )
    report = run_graph(settings, top_k=3, log=lambda _: None)
    yield settings, report
    with psycopg2.connect() as connection, connection.cursor() as cursor:
        cursor.execute("select schema_name from information_schema.schemata where schema_name like 'graphpg\\_\\_%'")
        for (schema,) in cursor.fetchall():
            cursor.execute(f'drop schema "{schema}" cascade')


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium through chromium-driver (.ci/run installs both; no browser
    download). Outside CI the test is skipped, with the reason, when they are missing."""
    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and chromedriver):
        reason = "Debian's chromium and chromium-driver are not installed (.ci/run installs them)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    # The machine has no network: background fetches would only fail and slow the page down.
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1600,1000",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(chromedriver), options=options)
    yield driver
    driver.quit()


# The slow tier: a test that builds a warehouse or runs the whole graph (tens of seconds each on
# 2 cores), drives a browser or the installed command, or talks to PostgreSQL. The fast tier is
# `pytest -m "not slow"`; the plain `pytest` of the README runs both.
SLOW_FIXTURES = {"built_duckdb", "graph_run", "postgres_env", "postgres_graph_run", "published", "marts", "browser"}
SLOW_MODULES = {"test_cli.py", "test_cli_progress.py", "test_ui.py", "test_graph.py", "test_warehouse_duckdb.py"}


def pytest_collection_modifyitems(items) -> None:
    for item in items:
        if SLOW_FIXTURES & set(item.fixturenames) or item.path.name in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
