"""Monitoring end to end: the graph, the service and the feedback simulator on generated data
with a known truth (#15).

A long-history shop (customers who come back, a catalogue of 1,500 products) is built as of
fourteen weeks before its data ends. Its monitoring.yml measures lists over four weeks (a
fortnight of this small shop holds about 20 customers with a first purchase, fewer than the 30
a verdict needs). Four weeks of held-back days are replayed against the service; the next run
measures the lists: healthy, no recommender alert. Then the published lists are replaced by a
deliberately degraded model's (random products), the service serves them for four weeks, and
the next run trips recommender_health and sends exactly one alert to the file sink, naming the
tenant, the check, the figure, the threshold and the run; the degraded weeks also read worse
online (click-through) than the healthy ones. A run the same day after it (the new lists'
window not yet closed) judges nothing and clears nothing.
"""

import json
from datetime import date

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from apps.api.app import create_app
from apps.cli.simulate import ServiceFeed, replay
from orchestration.assets.monitoring.recommender_health import HEALTH_TABLE, SERVED_TABLE
from orchestration.runner import run_graph
from retail_intel.generator import generate
from retail_intel.generator.presets import preset_config
from retail_intel.warehouse import warehouse_for
from tests.support import make_settings

pytestmark = pytest.mark.slow
CHECK = "monitoring/recommender_health:recommender_health"


def _run(settings, as_of: date):
    report = run_graph(settings, as_of_date=as_of, log=lambda _: None)
    assert report.success, report.failures
    return report


def _serve_and_replay(settings, days: int, seed: int) -> pd.DataFrame:
    with TestClient(create_app(settings, refresh_seconds=0.2)) as client:
        return replay(settings, days, seed, ServiceFeed("the service", 10, client=client))


def _alerts(settings) -> list[dict]:
    path = settings.alerts_path
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _degrade(settings) -> None:
    """A model that learnt nothing: random products for every customer, in both the published
    lists and the copy of them that the next run measures."""
    warehouse = warehouse_for(settings)
    products = warehouse.read("marts", "products")["product_id"].to_numpy()
    rng = np.random.default_rng(0)
    tables = {}
    for table in (("ml", "recommendations"), SERVED_TABLE):
        lists = warehouse.read(*table)
        tables[table] = lists.assign(product_id=rng.choice(products, len(lists)))
    warehouse.write_many(tables)


def test_a_degraded_recommender_trips_its_health_check_once_and_healthy_lists_do_not(tmp_path):
    raw = tmp_path / "raw"
    generate(preset_config("long_history", orders=8000, seed=3), raw)
    settings = make_settings(tmp_path / "home", raw_dir_override=raw)
    settings.tenant_dir.mkdir(parents=True)
    (settings.tenant_dir / "monitoring.yml").write_text("recommender:\n  window_days: 28\n")

    _run(settings, date(2018, 7, 11))
    healthy = _serve_and_replay(settings, days=28, seed=1)
    _run(settings, date(2018, 8, 8))
    assert not [alert for alert in _alerts(settings) if alert["check"] == CHECK]
    health = warehouse_for(settings).read(*HEALTH_TABLE)
    (measured,) = health.itertuples()
    assert measured.customers >= 30 and measured.impressions == (healthy["event_type"] == "impression").sum()

    _degrade(settings)
    degraded = _serve_and_replay(settings, days=28, seed=2)
    _run(settings, date(2018, 9, 5))
    breaches = [alert for alert in _alerts(settings) if alert["check"] == CHECK]
    assert len(breaches) == 1
    (alert,) = breaches
    assert alert["state"] == "breach" and alert["tenant_id"] == "default" and alert["run_id"]
    assert alert["figure"] < alert["threshold"]

    health = warehouse_for(settings).read(*HEALTH_TABLE).sort_values("measured_at")
    first, last = health.iloc[0], health.iloc[-1]
    assert last["hit_rate"] < first["hit_rate"]
    assert last["click_through_rate"] < first["click_through_rate"]
    assert len(degraded) and len(healthy)

    _run(settings, date(2018, 9, 5))
    assert [alert for alert in _alerts(settings) if alert["check"] == CHECK] == breaches
