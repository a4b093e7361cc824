"""Each asset a run materializes, told as it happens: a thread reads the run's event log while
the run executes in the same process (the run's own output goes to its log file)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import dagster as dg

_EVENTS = {
    dg.DagsterEventType.STEP_START,
    dg.DagsterEventType.ASSET_MATERIALIZATION,
    dg.DagsterEventType.STEP_FAILURE,
}


class AssetProgress(threading.Thread):
    """Tells ``report`` "[n/total] <asset> +<seconds into its step>" for every materialization of
    run ``run_id``, and each failed step; ``stop()`` reads what is left and ends the thread."""

    def __init__(
        self,
        instance: dg.DagsterInstance,
        run_id: str,
        total: int,
        report: Callable[[str], None],
        poll_seconds: float = 0.5,
    ) -> None:
        super().__init__(name=f"progress-{run_id[:8]}", daemon=True)
        self.instance, self.run_id, self.total, self.report = instance, run_id, total, report
        self.poll_seconds = poll_seconds
        self._stopping = threading.Event()
        self._cursor: str | None = None
        self._step_started: dict[str, float] = {}
        self._done = 0

    def run(self) -> None:
        try:
            while not self._stopping.wait(self.poll_seconds):
                self._read()
            self._read()
        except Exception as error:  # progress is a courtesy: the run goes on, and says why it stopped
            self.report(f"progress stopped ({type(error).__name__}: {error}); the run goes on")

    def stop(self) -> None:
        self._stopping.set()
        self.join(timeout=30)

    def _read(self) -> None:
        while True:
            page = self.instance.get_records_for_run(self.run_id, cursor=self._cursor, of_type=_EVENTS)
            for record in page.records:
                self._tell(record.event_log_entry)
            self._cursor = page.cursor
            if not page.has_more:
                return

    def _tell(self, entry) -> None:
        event = entry.dagster_event
        if event.event_type == dg.DagsterEventType.STEP_START:
            self._step_started[event.step_key] = entry.timestamp
        elif event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            self._done += 1
            into = entry.timestamp - self._step_started.get(event.step_key, entry.timestamp)
            self.report(f"[{self._done}/{self.total}] {event.asset_key.to_user_string()}  +{into:.1f} s")
        else:
            self.report(f"step {event.step_key} failed")
