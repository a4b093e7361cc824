"""The service's health read from its own /metrics: p99 latency from the histogram, the share of
5xx from the request counter; `retail-intel monitor --api` alerts a breach once."""

from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from click.testing import CliRunner
from prometheus_client import generate_latest

from apps.api.metrics import Metrics
from apps.cli import main
from apps.cli.api_health import api_health
from tests.support import make_settings


def service_metrics(slow: int, errors: int) -> str:
    """98 requests at 4 ms and ``slow`` at 800 ms; ``errors`` of them answered 500."""
    metrics = Metrics()
    for index in range(98 + slow):
        metrics.latency.labels("/v1/recommendations").observe(0.8 if index >= 98 else 0.004)
        status = "500" if index < errors else "200"
        metrics.requests.labels("/v1/recommendations", status).inc()
    return generate_latest(metrics.registry).decode()


def test_p99_and_the_error_rate_come_from_the_services_own_metrics():
    healthy = api_health(service_metrics(slow=0, errors=0))
    assert healthy.requests == 98 and healthy.p99_ms == 5.0 and healthy.error_rate == 0.0  # the 5 ms bucket
    slow = api_health(service_metrics(slow=2, errors=3))
    assert slow.p99_ms == 1000.0 and slow.error_rate == pytest.approx(0.03)
    assert api_health("").p99_ms is None and api_health("").error_rate is None


@pytest.fixture
def service():
    body = {"text": ""}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server name
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body["text"].encode())

        def log_message(self, *args) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", body
    server.shutdown()


def test_monitor_alerts_a_slow_failing_service_once(tmp_path, service, monkeypatch):
    for key in [key for key in os.environ if key.startswith("RETAIL_INTEL_")]:
        monkeypatch.delenv(key)
    url, body = service
    settings = make_settings(tmp_path / "home")
    body["text"] = service_metrics(slow=2, errors=3)
    shown = CliRunner().invoke(main, ["--home", str(settings.home), "monitor", "--api", url]).output
    assert "api_p99_latency_ms     1000 (alert above 300) ALERT" in shown
    assert "api_error_rate         0.03 (alert above 0.01) ALERT" in shown
    assert "open alerts    2" in shown
    CliRunner().invoke(main, ["--home", str(settings.home), "monitor", "--api", url])
    sent = [json.loads(line) for line in settings.alerts_path.read_text().splitlines()]
    assert sorted(alert["check"] for alert in sent) == ["api_error_rate", "api_p99_latency_ms"]

    body["text"] = service_metrics(slow=0, errors=0)
    shown = CliRunner().invoke(main, ["--home", str(settings.home), "monitor", "--api", url]).output
    assert "open alerts    none" in shown
    unreachable = CliRunner().invoke(main, ["--home", str(settings.home), "monitor", "--api", "http://127.0.0.1:9"])
    assert unreachable.exit_code == 1 and "cannot read http://127.0.0.1:9/metrics" in unreachable.output
