"""The Dagster home a run prepares stores its event log with connections kept open, and stores
and reads events as Dagster's own SQLite storage does."""

from __future__ import annotations

from sqlite3 import dbapi2

import dagster as dg
import pytest

from orchestration.event_storage import PooledSqliteEventLogStorage
from orchestration.runner import DAGSTER_YAML_MARKER, prepare_dagster_home
from tests.support import make_settings

CHECKS = 20


@dg.asset(check_specs=[dg.AssetCheckSpec(f"check_{index}", asset="table") for index in range(CHECKS)])
def table():
    yield dg.MaterializeResult(metadata={"rows": 3})
    for index in range(CHECKS):
        yield dg.AssetCheckResult(check_name=f"check_{index}", passed=index != 0)


@pytest.fixture
def settings(tmp_path, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)  # prepare_dagster_home sets it; monkeypatch restores it
    return make_settings(tmp_path / "home")


def test_a_run_stores_its_events_opening_each_database_once(settings, monkeypatch):
    prepare_dagster_home(settings)
    opened = []
    real_connect = dbapi2.connect  # what SQLAlchemy's SQLite dialect calls

    def counting_connect(*args, **kwargs):
        opened.append(args[0] if args else kwargs.get("database"))
        return real_connect(*args, **kwargs)

    monkeypatch.setattr(dbapi2, "connect", counting_connect)
    with dg.DagsterInstance.get() as instance:
        assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
        result = dg.materialize([table], instance=instance)
        stored = instance.get_records_for_run(result.run_id, limit=1000).records
        event_log = [path for path in opened if "history/runs/" in str(path)]
        # Dagster's own storage opens a database for every statement: about three per event.
        assert len(stored) > 2 * CHECKS
        assert len(event_log) < 10, f"{len(event_log)} SQLite connections for {len(stored)} events"
        assert len(set(event_log)) == 2  # the run's own database and the cross-run index

    # Read back as Dagster reads them, from a second instance on the same home.
    with dg.DagsterInstance.get() as reader:
        materialization = reader.get_latest_materialization_event(dg.AssetKey("table"))
        assert materialization.asset_materialization.metadata["rows"].value == 3
        check = reader.event_log_storage.get_latest_asset_check_execution_by_key(
            [dg.AssetCheckKey(dg.AssetKey("table"), "check_0")]
        )[dg.AssetCheckKey(dg.AssetKey("table"), "check_0")]
        assert check.run_id == result.run_id and check.status.value == "FAILED"


def test_a_wiped_history_starts_again(settings):
    prepare_dagster_home(settings)
    with dg.DagsterInstance.get() as instance:
        dg.materialize([table], instance=instance)
        instance.wipe()
        assert instance.get_runs() == []
        second = dg.materialize([table], instance=instance)
        assert [run.run_id for run in instance.get_runs()] == [second.run_id]
        assert instance.get_records_for_run(second.run_id, limit=1000).records


def test_a_dagster_yaml_written_by_someone_else_is_kept(settings):
    config = settings.dagster_home / "dagster.yaml"
    config.parent.mkdir(parents=True)
    config.write_text("telemetry:\n  enabled: false\n")  # what earlier versions of the platform wrote
    prepare_dagster_home(settings)
    assert config.read_text().startswith(DAGSTER_YAML_MARKER)

    own = "telemetry:\n  enabled: true\nrun_queue:\n  max_concurrent_runs: 2\n"
    config.write_text(own)
    prepare_dagster_home(settings)
    assert config.read_text() == own


def test_the_ui_is_told_of_a_runs_events_as_they_are_stored(settings):
    """The UI's live event log waits for Dagster's file watcher to see the run's database change.
    With WAL and connections kept open, events stayed in the -wal file and the UI saw nothing
    until a checkpoint, hundreds of events later: each write to a run's database checkpoints."""
    import time

    from dagster._core.events.log import EventLogEntry
    from dagster._core.utils import make_new_run_id

    prepare_dagster_home(settings)
    with dg.DagsterInstance.get() as instance:
        storage = instance.event_log_storage
        run_id = make_new_run_id()
        seen: list[str] = []

        def callback(entry, _cursor) -> None:
            seen.append(entry.user_message)

        def store(message: str) -> None:
            storage.store_event(
                EventLogEntry(error_info=None, level="INFO", user_message=message, run_id=run_id, timestamp=time.time())
            )

        store("first")  # creates the run's database, which the watcher then follows
        storage.watch(run_id, None, callback)
        try:
            for message in ("second", "third"):
                store(message)
                deadline = time.monotonic() + 10
                while message not in seen and time.monotonic() < deadline:
                    time.sleep(0.1)
                assert message in seen, f"the watcher never saw {message!r}; it saw {seen}"
        finally:
            storage.end_watch(run_id, callback)
