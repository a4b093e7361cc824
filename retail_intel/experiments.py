"""Online experiments as data, per tenant: what runs, on whom, and who changed it.

An experiment has a kind (``ab``, ``bandit`` or ``interleaving``), arms (model versions such as
``acme.recommender/3``, or strategies: ``popularity``, ``nothing``), a salt (its own draws,
ml/experiments/assignment.py), a rollout share that ``advance`` raises stage by stage, a
primary metric and guardrails, and a status: draft, running, stopped. One experiment runs at a
time per tenant, so that a customer is never in two. Every change is audited (who, when, what),
like the engine switch. The store is a SQLite file in the tenant's folder; queries are
parameterized.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ml.registry import current_user

KINDS = ("ab", "bandit", "interleaving")
DRAFT, RUNNING, STOPPED = "draft", "running", "stopped"
# The staged rollout: a first test on a small share, then raised step by step.
STAGES = (0.10, 0.25, 0.50, 1.00)
# popularity: the most bought products lately; random: the placebo any model should beat;
# nothing: the recommend-nothing arm (what the lists are worth at all).
STRATEGIES = ("popularity", "random", "nothing")
METRICS = ("revenue_14d", "conversion", "click_rate")

_SCHEMA = """
create table if not exists experiments (
    name text primary key,
    kind text not null,
    arms text not null,
    salt text not null,
    rollout real not null,
    status text not null,
    primary_metric text not null,
    guardrails text not null,
    horizon_days integer not null,
    created_at text not null,
    created_by text not null,
    started_at text,
    stopped_at text,
    planned_per_arm integer not null default 0
);
create table if not exists experiment_audit (
    name text not null,
    at text not null,
    by text not null,
    action text not null,
    detail text not null
);
"""


class ExperimentError(ValueError):
    """A refused change; the message says why."""


@dataclass(frozen=True)
class Experiment:
    name: str
    kind: str
    arms: dict[str, float]  # arm -> weight
    salt: str
    rollout: float
    status: str
    primary_metric: str
    guardrails: list[str]
    horizon_days: int
    created_at: str
    created_by: str
    started_at: str | None
    stopped_at: str | None
    planned_per_arm: int = 0  # customers per arm (decided impressions, interleaving) before the verdict is read


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class ExperimentStore:
    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(self.path)) as connection:
            connection.row_factory = sqlite3.Row
            connection.executescript(_SCHEMA)
            columns = {row[1] for row in connection.execute("pragma table_info(experiments)")}
            if "planned_per_arm" not in columns:  # stores made before the fixed horizon was kept
                connection.execute("alter table experiments add column planned_per_arm integer not null default 0")
            with connection:
                yield connection

    def create(
        self,
        name: str,
        kind: str,
        arms: dict[str, float],
        *,
        primary_metric: str = "revenue_14d",
        guardrails: list[str] | None = None,
        horizon_days: int = 14,
        planned_per_arm: int = 0,
        by: str | None = None,
        salt: str | None = None,
    ) -> Experiment:
        """A draft. ``salt`` (default: a random one) fixes the draws; give one only to replay an
        experiment exactly (tests)."""
        if not name or not name.replace("-", "").replace("_", "").isalnum():
            raise ExperimentError(f"an experiment name is letters, digits, - and _; got {name!r}")
        if kind not in KINDS:
            raise ExperimentError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
        if len(arms) < 2 or any(weight <= 0 for weight in arms.values()):
            raise ExperimentError("an experiment needs at least two arms with positive weights")
        odd = [arm for arm in arms if arm not in STRATEGIES and not _is_version(arm)]
        if odd:
            raise ExperimentError(
                f"an arm is a model version <registered name>/<version> or one of {', '.join(STRATEGIES)}; "
                f"got {', '.join(odd)}"
            )
        if kind == "interleaving" and len(arms) != 2:
            raise ExperimentError("interleaving compares exactly two arms")
        if horizon_days < 1:
            raise ExperimentError(f"horizon_days must be at least 1, got {horizon_days}")
        if primary_metric not in METRICS:
            raise ExperimentError(f"the primary metric is one of {', '.join(METRICS)}, got {primary_metric!r}")
        if planned_per_arm < 0:
            raise ExperimentError(f"planned_per_arm cannot be negative, got {planned_per_arm}")
        who = by or current_user()
        with self._connection() as connection:
            if connection.execute("select 1 from experiments where name = ?", (name,)).fetchone():
                raise ExperimentError(f"an experiment named {name!r} exists already")
            connection.execute(
                "insert into experiments (name, kind, arms, salt, rollout, status, primary_metric, guardrails, "
                "horizon_days, created_at, created_by, planned_per_arm) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    name,
                    kind,
                    json.dumps(arms),
                    salt or secrets.token_hex(8),
                    0.0,
                    DRAFT,
                    primary_metric,
                    json.dumps(guardrails or []),
                    horizon_days,
                    _now(),
                    who,
                    planned_per_arm,
                ),
            )
            self._audit(connection, name, who, "create", f"{kind} over {', '.join(arms)}")
        return self.get(name)

    def get(self, name: str) -> Experiment:
        with self._connection() as connection:
            row = connection.execute("select * from experiments where name = ?", (name,)).fetchone()
        if row is None:
            raise ExperimentError(f"no experiment named {name!r}")
        return _experiment(row)

    def list(self) -> list[Experiment]:
        with self._connection() as connection:
            rows = connection.execute("select * from experiments order by created_at, name").fetchall()
        return [_experiment(row) for row in rows]

    def running(self) -> Experiment | None:
        return next((experiment for experiment in self.list() if experiment.status == RUNNING), None)

    def advance(self, name: str, to: float | None = None, *, by: str | None = None) -> Experiment:
        """Starts a draft at the first stage, or raises a running one's rollout to the next stage
        (or to ``to``); a rollout never goes down: customers once in stay in."""
        experiment = self.get(name)
        if experiment.status == STOPPED:
            raise ExperimentError(f"{name} is stopped; create a new experiment")
        if experiment.status == DRAFT:
            other = self.running()
            if other is not None:
                raise ExperimentError(f"{other.name} is running: one experiment at a time per tenant")
        target = to if to is not None else next((stage for stage in STAGES if stage > experiment.rollout), None)
        if target is None:
            raise ExperimentError(f"{name} is at 100% already")
        if not experiment.rollout < target <= 1:
            raise ExperimentError(f"the rollout only goes up, from {experiment.rollout:.0%} to at most 100%")
        who = by or current_user()
        with self._connection() as connection:
            connection.execute(
                "update experiments set rollout = ?, status = ?, started_at = coalesce(started_at, ?) where name = ?",
                (target, RUNNING, _now(), name),
            )
            self._audit(connection, name, who, "advance", f"{experiment.rollout:.0%} -> {target:.0%}")
        return self.get(name)

    def stop(self, name: str, *, by: str | None = None, reason: str = "") -> Experiment:
        experiment = self.get(name)
        if experiment.status == STOPPED:
            raise ExperimentError(f"{name} is stopped already")
        who = by or current_user()
        with self._connection() as connection:
            connection.execute(
                "update experiments set status = ?, stopped_at = ? where name = ?", (STOPPED, _now(), name)
            )
            self._audit(connection, name, who, "stop", reason or "-")
        return self.get(name)

    def record(self, name: str, action: str, detail: str, *, by: str | None = None) -> None:
        """An audit entry for something done with an experiment elsewhere (e.g. its winner promoted)."""
        self.get(name)
        with self._connection() as connection:
            self._audit(connection, name, by or current_user(), action, detail)

    def audit(self, name: str) -> list[dict[str, str]]:
        with self._connection() as connection:
            rows = connection.execute(
                "select at, by, action, detail from experiment_audit where name = ? order by rowid", (name,)
            ).fetchall()
        return [dict(row) for row in rows]

    @staticmethod
    def _audit(connection: sqlite3.Connection, name: str, by: str, action: str, detail: str) -> None:
        connection.execute("insert into experiment_audit values (?, ?, ?, ?, ?)", (name, _now(), by, action, detail))


def _is_version(arm: str) -> bool:
    name, _, version = arm.rpartition("/")
    return bool(name) and version.isdigit()


def _experiment(row: sqlite3.Row) -> Experiment:
    return Experiment(
        name=row["name"],
        kind=row["kind"],
        arms=json.loads(row["arms"]),
        salt=row["salt"],
        rollout=float(row["rollout"]),
        status=row["status"],
        primary_metric=row["primary_metric"],
        guardrails=json.loads(row["guardrails"]),
        horizon_days=int(row["horizon_days"]),
        created_at=row["created_at"],
        created_by=row["created_by"],
        started_at=row["started_at"],
        stopped_at=row["stopped_at"],
        planned_per_arm=int(row["planned_per_arm"]),
    )
