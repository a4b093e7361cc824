"""Alerts: a failed run, a failed blocking check or a threshold breach, sent once per breach.

A breach is keyed by (tenant, check). The first time a check fails it is sent to every sink
and recorded as open; while it stays open nothing more is sent; when the check passes again a
"cleared" message is sent and the breach closed, so the next failure is news again. A breach
is recorded as open only once at least one sink took it: when every sink failed (a webhook
down) the next evaluation tries again rather than staying silent.

Sinks: a JSON-lines file (what the tests read), a webhook (HTTP POST of the JSON body) and
e-mail through SMTP. Each message names the tenant, the check, the figure, the threshold and
the Dagster run. The open breaches live in a small SQLite file of the platform's state.
"""

from __future__ import annotations

import json
import smtplib
import sqlite3
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

BREACH, CLEARED = "breach", "cleared"


@dataclass(frozen=True)
class CheckOutcome:
    """One evaluation of one check of one tenant."""

    tenant_id: str
    check: str
    passed: bool
    figure: float | None = None
    threshold: float | None = None
    run_id: str | None = None
    detail: str = ""


@dataclass(frozen=True)
class Alert:
    state: str  # BREACH or CLEARED
    outcome: CheckOutcome
    sent_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def subject(self) -> str:
        outcome = self.outcome
        verb = "breached" if self.state == BREACH else "cleared"
        figure = "" if outcome.figure is None else f": {outcome.figure:.4g}"
        if outcome.figure is not None and outcome.threshold is not None:
            figure += f" against {outcome.threshold:.4g}"
        return f"[retail-intel] {outcome.tenant_id}: {outcome.check} {verb}{figure}"

    def body(self) -> dict[str, object]:
        return {"state": self.state, "sent_at": self.sent_at, "subject": self.subject, **asdict(self.outcome)}


class AlertSink(Protocol):
    name: str

    def send(self, alert: Alert) -> None: ...


class AlertDeliveryError(RuntimeError):
    """A sink could not take an alert; names the sink, never its credentials."""


@dataclass
class FileSink:
    path: Path
    name: str = "file"

    def send(self, alert: Alert) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(alert.body(), sort_keys=True) + "\n")


@dataclass
class WebhookSink:
    url: str
    timeout: float = 10.0
    name: str = "webhook"

    def send(self, alert: Alert) -> None:
        request = urllib.request.Request(
            self.url,
            data=json.dumps(alert.body()).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                if response.status >= 300:
                    raise AlertDeliveryError(f"webhook {_without_credentials(self.url)} answered {response.status}")
        except OSError as error:
            raise AlertDeliveryError(f"webhook {_without_credentials(self.url)}: {error}") from None


@dataclass
class EmailSink:
    host: str
    sender: str
    recipients: Sequence[str]
    port: int = 587
    username: str | None = None
    password: str | None = None  # from the environment or a secret store, never from a file in the repository
    starttls: bool = True
    name: str = "email"

    def send(self, alert: Alert) -> None:
        message = EmailMessage()
        message["Subject"] = alert.subject
        message["From"] = self.sender
        message["To"] = ", ".join(self.recipients)
        message.set_content(json.dumps(alert.body(), indent=2, sort_keys=True))
        try:
            with smtplib.SMTP(self.host, self.port, timeout=30) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as error:
            raise AlertDeliveryError(f"e-mail through {self.host}:{self.port}: {error}") from None


@dataclass
class Delivery:
    sent: list[Alert]
    errors: list[str]


class AlertLedger:
    """The open breaches, one row per (tenant, check)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(self.path, timeout=30)) as connection, connection:
            connection.execute(
                "CREATE TABLE IF NOT EXISTS open_breaches (tenant_id TEXT NOT NULL, check_name TEXT NOT NULL,"
                " opened_at TEXT NOT NULL, run_id TEXT, PRIMARY KEY (tenant_id, check_name))"
            )
            yield connection

    def is_open(self, tenant_id: str, check: str) -> bool:
        return (tenant_id, check) in self.open_breaches([tenant_id])

    def open_breaches(self, tenant_ids: Sequence[str]) -> set[tuple[str, str]]:
        """The open (tenant, check) pairs of these tenants, in one query: a run evaluates hundreds of checks."""
        placeholders = ", ".join("?" * len(tenant_ids))
        with self._connection() as connection:
            rows = connection.execute(
                f"SELECT tenant_id, check_name FROM open_breaches WHERE tenant_id IN ({placeholders})", list(tenant_ids)
            ).fetchall()
        return {(tenant, check) for tenant, check in rows}

    def open(self, outcome: CheckOutcome, at: str) -> None:
        with self._connection() as connection:
            connection.execute(
                "INSERT OR REPLACE INTO open_breaches VALUES (?, ?, ?, ?)",
                (outcome.tenant_id, outcome.check, at, outcome.run_id),
            )

    def forget(self, tenant_id: str) -> None:
        """A purged tenant's open breaches: gone with it, or a tenant re-added under the id would inherit them."""
        if self.path.exists():
            with self._connection() as connection:
                connection.execute("DELETE FROM open_breaches WHERE tenant_id = ?", (tenant_id,))

    def close(self, tenant_id: str, check: str) -> None:
        with self._connection() as connection:
            connection.execute("DELETE FROM open_breaches WHERE tenant_id = ? AND check_name = ?", (tenant_id, check))


def notify(outcomes: Sequence[CheckOutcome], sinks: Sequence[AlertSink], ledger: AlertLedger) -> Delivery:
    """Send what is news: a check that starts failing, and one that passes again."""
    delivery = Delivery([], [])
    open_now = ledger.open_breaches(sorted({outcome.tenant_id for outcome in outcomes})) if outcomes else set()
    for outcome in outcomes:
        was_open = (outcome.tenant_id, outcome.check) in open_now
        if outcome.passed == (not was_open):
            continue  # passing and closed, or still failing and already sent
        alert = Alert(CLEARED if outcome.passed else BREACH, outcome)
        taken = 0
        for sink in sinks:
            try:
                sink.send(alert)
                taken += 1
            except AlertDeliveryError as error:
                delivery.errors.append(f"{sink.name}: {error}")
        if taken == 0 and sinks:
            continue  # nobody took it: the next evaluation tries again
        delivery.sent.append(alert)
        if outcome.passed:
            ledger.close(outcome.tenant_id, outcome.check)
        else:
            ledger.open(outcome, alert.sent_at)
    return delivery


def _without_credentials(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}" if rest else url
