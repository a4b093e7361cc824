"""Alerts are sent once per breach, to every sink, and again only after the check cleared."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from retail_intel.alerts import AlertLedger, CheckOutcome, EmailSink, FileSink, WebhookSink, notify


def outcome(passed: bool, figure: float = 0.31, run_id: str = "run-1") -> CheckOutcome:
    return CheckOutcome("acme", "forecast_mape", passed, figure=figure, threshold=0.25, run_id=run_id)


def lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_one_message_per_breach_until_it_clears(tmp_path):
    sink, ledger = FileSink(tmp_path / "alerts.jsonl"), AlertLedger(tmp_path / "alerts.sqlite")
    for passed, run in ((True, "r0"), (False, "r1"), (False, "r2"), (False, "r3"), (True, "r4"), (False, "r5")):
        notify([outcome(passed, run_id=run)], [sink], ledger)
    sent = lines(tmp_path / "alerts.jsonl")
    assert [(alert["state"], alert["run_id"]) for alert in sent] == [
        ("breach", "r1"),
        ("cleared", "r4"),
        ("breach", "r5"),
    ]
    first = sent[0]
    assert (first["tenant_id"], first["check"], first["figure"], first["threshold"]) == (
        "acme",
        "forecast_mape",
        0.31,
        0.25,
    )
    assert first["subject"] == "[retail-intel] acme: forecast_mape breached: 0.31 against 0.25"
    # Another tenant's breach of the same check is its own.
    notify([CheckOutcome("globex", "forecast_mape", False, 0.4, 0.25, "g1")], [sink], ledger)
    assert lines(tmp_path / "alerts.jsonl")[-1]["tenant_id"] == "globex"


class _Receiver(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 - the http.server name
        _Receiver.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def webhook():
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    _Receiver.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", _Receiver.received
    server.shutdown()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_webhook_gets_the_json_body_and_a_sink_that_is_down_does_not_silence_the_breach(tmp_path, webhook):
    url, received = webhook
    ledger = AlertLedger(tmp_path / "alerts.sqlite")
    delivery = notify([outcome(False)], [WebhookSink(url)], ledger)
    assert [body["check"] for body in received] == ["forecast_mape"] and not delivery.errors

    down = WebhookSink(f"http://user:secret@127.0.0.1:{closed_port()}/hook", timeout=2)
    other = CheckOutcome("acme", "segment_stability", False, 0.6, 0.7, "run-1")
    delivery = notify([other], [down], ledger)
    assert delivery.sent == [] and len(delivery.errors) == 1 and "secret" not in delivery.errors[0]
    assert not ledger.is_open("acme", "segment_stability"), "nobody took it: it must be tried again"
    delivery = notify([other], [down, FileSink(tmp_path / "alerts.jsonl")], ledger)
    assert len(delivery.sent) == 1 and ledger.is_open("acme", "segment_stability")


def test_the_email_names_the_breach_in_its_subject(tmp_path, monkeypatch):
    sent = []

    class FakeSMTP:
        def __init__(self, host, port, timeout):
            self.calls = [("connect", host, port)]

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def starttls(self):
            self.calls.append(("starttls",))

        def login(self, user, password):
            self.calls.append(("login", user))

        def send_message(self, message):
            sent.append((message, self.calls))

    monkeypatch.setattr("smtplib.SMTP", FakeSMTP)
    sink = EmailSink("smtp.example.org", "alerts@example.org", ["ops@example.org"], username="alerts", password="pw")
    notify([outcome(False)], [sink], AlertLedger(tmp_path / "alerts.sqlite"))
    ((message, calls),) = sent
    assert message["Subject"] == "[retail-intel] acme: forecast_mape breached: 0.31 against 0.25"
    assert message["To"] == "ops@example.org" and ("starttls",) in calls and ("login", "alerts") in calls
    assert json.loads(message.get_content())["run_id"] == "run-1"
