"""`retail-intel monitor` on the age of the score tables: the last successful run's, alerted once
above the tenant's freshness.scores_alert_hours, not again while it lasts."""

import json
import sqlite3
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner

from apps.cli import main
from retail_intel.tenants import TenantRegistry
from tests.support import make_settings


def test_stale_score_tables_alert_once(tmp_path):
    settings = make_settings(tmp_path / "home")
    registry = TenantRegistry.of(settings)
    registry.add("default", raw_dir=tmp_path / "raw", by="test")
    registry.record_run("default", "old", status="success", failed_checks=0, first_failure=None, champions={})
    registry.record_run("default", "new", status="failed", failed_checks=1, first_failure="x", champions={})
    stale = (datetime.now(UTC) - timedelta(hours=50)).isoformat(timespec="seconds")
    with sqlite3.connect(settings.registry_path) as connection:
        connection.execute("UPDATE tenant_runs SET finished_at = ? WHERE run_id = 'old'", (stale,))

    first = CliRunner().invoke(main, ["--home", str(settings.home), "monitor"])
    assert first.exit_code == 0, first.output
    assert "score tables   50.0 h old (alert above 48 h) ALERT" in first.output
    assert "scores_freshness" in first.output  # among the open alerts
    CliRunner().invoke(main, ["--home", str(settings.home), "monitor"])
    sent = [json.loads(line) for line in settings.alerts_path.read_text().splitlines()]
    assert [(alert["state"], alert["check"]) for alert in sent] == [("breach", "scores_freshness")]
    assert sent[0]["threshold"] == 48 and sent[0]["figure"] > 48
