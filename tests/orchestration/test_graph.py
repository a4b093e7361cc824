"""The whole asset graph, materialized in-process against a temporary DuckDB."""

import csv
import os
import shutil
import subprocess
import sys
from datetime import timedelta

import duckdb
import pytest

from ml.forecast import default_candidates
from orchestration.runner import run_graph
from retail_intel.settings import Settings

SCORE_TABLES = ("ml.revenue_forecast", "ml.customer_segments", "ml.segment_summary", "ml.recommendations")


def make_settings(home, raw_dir) -> Settings:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETAIL_INTEL_")}
    return Settings.from_env(env).with_(home=home, raw_dir_override=raw_dir)


def snapshot(settings: Settings) -> dict[str, list[tuple]]:
    tables = ("marts.orders", "marts.daily_revenue", "marts.customer_rfm", *SCORE_TABLES)
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return {table: con.execute(f"select * from {table} order by all").fetchall() for table in tables}


@pytest.fixture(scope="module")
def good_run(graph_run):
    return graph_run


def test_whole_graph_materializes_and_passes_every_blocking_check(good_run):
    settings, report = good_run
    assert report.success, report.failures
    assert report.failed_checks == []
    assert report.passed_checks > 300  # dbt tests plus the quality suites
    assert report.not_run == []
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        forecast = con.execute(
            "select count(*), min(yhat), any_value(model_name), any_value(model_version) from ml.revenue_forecast"
        ).fetchone()
        recs = con.execute("select count(distinct customer_unique_id), max(rank) from ml.recommendations").fetchone()
        rfm_customers = con.execute("select count(*) from marts.customer_rfm").fetchone()[0]
        segments = con.execute("select count(*) from ml.customer_segments").fetchone()[0]
        serving = con.execute("select count(*) from serving.customer_recommendations").fetchone()[0]
    assert forecast[0] == 14 and forecast[1] >= 0
    assert forecast[2] in {candidate.name for candidate in default_candidates()}
    assert forecast[3] == "default.revenue_forecast/1"
    assert recs == (rfm_customers, 5)
    assert segments == rfm_customers
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        rec_versions = con.execute("select distinct model_version from ml.recommendations").fetchall()
        probability = con.execute(
            "select min(probability), max(probability), count(*) - count(probability) from ml.recommendations"
        ).fetchone()
        bought_again = con.execute(
            "select count(*) from ml.recommendations r join marts.user_item_interactions i using "
            "(customer_unique_id, product_id)"
        ).fetchone()[0]
        users = con.execute("select count(*), count(distinct model_version) from ml.user_embeddings").fetchone()
        items = con.execute("select count(*) from ml.item_embeddings").fetchone()[0]
        products = con.execute("select count(*) from marts.products").fetchone()[0]
        families = con.execute("select distinct model_family from ml.recommendations").fetchall()
    assert rec_versions == [("default.recommender/1",)]
    assert 0 <= probability[0] <= probability[1] <= 1 and probability[2] == 0
    assert bought_again == 0
    # The lists carry the champion's family, the one the registry holds; vectors where the family has them.
    from orchestration.lineage import registry_for

    champion = registry_for(settings).load("default.recommender", "1")
    assert families == [(champion.family,)]
    if champion.family in ("two_tower", "als"):
        assert users == (rfm_customers, 1) and items == products
    else:
        assert users[0] == 0 and items == 0
    assert serving == rfm_customers * 5
    assert report.materialized["marts/orders"] > 0
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        versions = con.execute("select distinct model_version from ml.customer_segments").fetchall()
        clusters = con.execute("select count(distinct cluster), count(*) - count(cluster) from ml.customer_segments")
        distinct_clusters, missing_clusters = clusters.fetchone()
    # The table is written by the registered champion, whose version it carries.
    assert versions == [("default.customer_segmenter/1",)]
    assert distinct_clusters >= 3 and missing_clusters == 0
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        metrics = con.execute("select model, role, metric from ml.model_metrics").fetchall()
    forecast_metrics = {metric for model, role, metric in metrics if model == "default.revenue_forecast"}
    # The model's figures stand beside its baselines', from the same backtest.
    assert {"prophet_wape", "ets_wape", "seasonal_naive_wape", "trailing_mean_wape"} <= forecast_metrics
    assert ("default.customer_segmenter", "champion", "silhouette") in metrics
    recommender_metrics = {metric for model, role, metric in metrics if model == "default.recommender"}
    for method in ("global_popularity", "recent_popularity", "item_knn", "ease", "als", champion.family):
        for protocol in ("full_catalog", "sampled_100"):
            assert f"{method}.{protocol}.all.hr_at_10" in recommender_metrics
        assert f"{method}:validation.full_catalog.all.hr_at_10" in recommender_metrics
    report = (settings.tenant_dir / "reports" / "model_report.md").read_text()
    assert "## default.revenue_forecast" in report and "seasonal_naive_wape" in report
    assert "## default.recommender" in report and "sampled_100" in report
    registry = registry_for(settings)
    assert registry.version_for("default.customer_segmenter", "champion") == "1"
    run = registry.client.get_run(registry.client.get_model_version("default.customer_segmenter", "1").run_id)
    assert {"lineage.as_of_date", "lineage.data_hash", "lineage.dbt_manifest_hash", "lineage.git_commit"} <= set(
        run.data.tags
    )


def test_quality_reports_are_written(good_run):
    settings, _ = good_run
    pages = list(settings.quality_reports_dir.rglob("*.html"))
    assert pages, f"no Data Docs under {settings.quality_reports_dir}"


def rewrite(path, edit):
    with path.open(newline="", encoding="utf-8") as handle:
        header, *rows = list(csv.reader(handle))
    rows = edit(header, rows)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def duplicate_order_ids(raw):
    rewrite(raw / "olist_orders_dataset.csv", lambda header, rows: rows + rows[:3])
    return "orders_order_id_unique", "order_id"


def negative_price(raw):
    def edit(header, rows):
        rows[4][header.index("price")] = "-12.50"
        return rows

    rewrite(raw / "olist_order_items_dataset.csv", edit)
    return "order_items_price_non_negative", "price"


@pytest.mark.parametrize(
    "corrupt", [duplicate_order_ids, negative_price], ids=["duplicate-order-ids", "negative-price"]
)
def test_blocking_check_stops_downstream_and_keeps_published_tables(good_run, tmp_path, corrupt):
    published, _ = good_run
    # A tenant of its own, first built from the good data, then fed the bad file.
    home = tmp_path / "home"
    raw = tmp_path / "raw"
    shutil.copytree(published.raw_dir, raw)
    settings = make_settings(home, raw)
    assert run_graph(settings, log=lambda _: None).success
    before = snapshot(settings)

    check_name, column = corrupt(raw)
    lines: list[str] = []
    report = run_graph(settings, log=lines.append)

    assert not report.success
    assert report.bad_input
    failed = [label for label in report.failed_checks if label.endswith(check_name)]
    assert failed, report.failed_checks
    printed = next(line for line in lines if check_name in line)
    assert f"column={column}" in printed and "sample_rows=" in printed
    # Nothing downstream of the gate ran, and nothing published changed.
    assert not any(name.startswith(("staging/", "marts/", "ml/", "serving/")) for name in report.materialized)
    assert "marts/orders" in report.not_run and "ml/recommendations" in report.not_run
    assert snapshot(settings) == before


@pytest.mark.postgres
def test_whole_graph_on_postgres(postgres_graph_run):
    """The same graph, switched to PostgreSQL by the one environment setting, for a second tenant."""
    import psycopg2

    _, report = postgres_graph_run
    assert report.success, report.failures
    assert report.failed_checks == []
    with psycopg2.connect() as connection, connection.cursor() as cursor:
        cursor.execute("select count(*), max(rank) from graphpg__ml.recommendations")
        recommendations, max_rank = cursor.fetchone()
        cursor.execute("select count(*) from graphpg__marts.customer_rfm")
        (customers,) = cursor.fetchone()
        cursor.execute("select count(*) from graphpg__serving.customer_recommendations")
        (serving,) = cursor.fetchone()
    assert (recommendations, max_rank) == (customers * 3, 3)
    assert serving == recommendations


# A BI tool's session: opened before the run, read again after it, on the same connection.
READER = """
import sys, duckdb
connection = duckdb.connect(sys.argv[1], read_only=True)
query = "select count(*), max(purchased_at) from marts.orders"
print(repr(connection.execute(query).fetchone()), flush=True)
sys.stdin.readline()
print(repr(connection.execute(query).fetchone()), flush=True)
print(repr(connection.execute("select count(*) from ml.customer_segments").fetchone()), flush=True)
"""


def test_a_read_only_session_held_through_a_run_neither_blocks_it_nor_sees_it_change(good_run, tmp_path):
    published, _ = good_run
    settings = make_settings(tmp_path / "home", published.raw_dir)
    assert run_graph(settings, log=lambda _: None).success
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        last_purchase = con.execute("select max(purchased_at) from marts.orders").fetchone()[0]
        segments = con.execute("select count(*) from ml.customer_segments").fetchone()[0]

    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(settings.warehouse_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        seen_before = reader.stdout.readline()
        # An earlier as-of date: every mart and score table is rebuilt from fewer orders.
        as_of = (last_purchase - timedelta(days=90)).date()
        report = run_graph(settings, as_of_date=as_of, log=lambda _: None)
        assert report.success, report.failures
        reader.stdin.write("\n")
        reader.stdin.flush()
        seen_after, segments_seen = reader.stdout.readline(), reader.stdout.readline()
        assert reader.wait(60) == 0
    finally:
        reader.kill()
    # The open session kept the version it opened, whole: marts and score tables alike.
    assert seen_after == seen_before and segments_seen.strip() == repr((segments,))
    # A new session sees the new version.
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        now = con.execute("select count(*), max(purchased_at) from marts.orders").fetchone()
    assert repr(now) != seen_before.strip() and now[1].date() <= as_of
