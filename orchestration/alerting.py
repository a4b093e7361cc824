"""Which alerts a finished run sends: its own failure, and each check that failed or cleared.

The sinks are the tenant's alerts file (always) and, when configured in the environment (they
carry secrets), a webhook and e-mail. retail_intel/alerts.py sends each breach once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from retail_intel.alerts import AlertLedger, AlertSink, CheckOutcome, Delivery, EmailSink, FileSink, WebhookSink, notify
from retail_intel.settings import Settings

if TYPE_CHECKING:
    from orchestration.runner import GraphRunReport

RUN_CHECK = "run"
# Metadata a check reports its figure under, in order of preference; its threshold is "threshold".
FIGURE_KEYS = ("share_drifted", "observed", "unexpected_count", "value")


def sinks_for(settings: Settings) -> list[AlertSink]:
    env = settings.env
    sinks: list[AlertSink] = [FileSink(settings.alerts_path)]
    if env.get("RETAIL_INTEL_ALERT_WEBHOOK"):
        sinks.append(WebhookSink(env["RETAIL_INTEL_ALERT_WEBHOOK"]))
    if env.get("RETAIL_INTEL_ALERT_SMTP_HOST"):
        sinks.append(
            EmailSink(
                host=env["RETAIL_INTEL_ALERT_SMTP_HOST"],
                port=int(env.get("RETAIL_INTEL_ALERT_SMTP_PORT") or 587),
                sender=env.get("RETAIL_INTEL_ALERT_FROM") or "retail-intel@localhost",
                recipients=[address.strip() for address in env.get("RETAIL_INTEL_ALERT_TO", "").split(",") if address],
                username=env.get("RETAIL_INTEL_ALERT_SMTP_USER"),
                password=env.get("RETAIL_INTEL_ALERT_SMTP_PASSWORD"),
            )
        )
    return sinks


def run_outcomes(settings: Settings, report: GraphRunReport, run_id: str) -> list[CheckOutcome]:
    tenant = settings.tenant_id
    first_failure = (report.failures or report.failed_checks or [""])[0]
    outcomes = [CheckOutcome(tenant, RUN_CHECK, report.success, run_id=run_id, detail=first_failure[:500])]
    for label, (passed, figures) in sorted(report.checks.items()):
        figure = next((figures[key] for key in FIGURE_KEYS if key in figures), None)
        threshold = figures.get("threshold") if figure is not None else None
        outcomes.append(CheckOutcome(tenant, label, passed, figure, threshold, run_id))
    return outcomes


def alert_on_run(settings: Settings, report: GraphRunReport, run_id: str) -> Delivery:
    return notify(run_outcomes(settings, report, run_id), sinks_for(settings), AlertLedger(settings.alert_ledger_path))
