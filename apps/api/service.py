"""One tenant's state that its requests share: built by ``Tenancy``, reached through ``deps.ServiceDep``."""

from __future__ import annotations

from collections import Counter

from fastapi import HTTPException

from apps.api.metrics import Metrics
from apps.api.schemas import Item, Recommendations
from apps.api.snapshot import Snapshot, Snapshots
from apps.experiment_serving import ARM_TABLES, ArmSource, ExperimentServer, arm_sources, version_loader
from apps.rules import BusinessRules, load_rules, rules_for_one
from ml.experiments.serving import Exposure, plan_of
from retail_intel.events import EventStore, now
from retail_intel.settings import Settings
from retail_intel.switch import OFF, EngineSwitch
from retail_intel.warehouse import warehouse_for

EXPERIMENT_DEPTH = 50


def listed(source: ArmSource, customer: str, categories: dict[str, str]) -> list[tuple]:
    """An arm's list as answer rows: (product_id, score, probability, category); a strategy's or
    another version's list has no calibrated probability, and its score is 1 / rank."""
    return [
        (product, 1.0 / rank, None, categories.get(product))
        for rank, product in enumerate(source.lists(customer), start=1)
    ]


class Service:
    """What one tenant's requests share: snapshots, rules, switch, events; and the app's metrics."""

    def __init__(
        self, settings: Settings, snapshots: Snapshots, metrics: Metrics, *, metrics_name: str | None = None
    ) -> None:
        self.settings = settings
        # How /metrics names this tenant in model versions: its id, or (serving many tenants)
        # a label that does not reveal it.
        self.metrics_name = metrics_name or settings.tenant_id
        self.snapshots = snapshots
        self.switch = EngineSwitch(settings.engine_switch_path)
        self.metrics = metrics  # the app's: every tenant's service reports to one /metrics
        self.events: EventStore | None = None
        self.experiments = ExperimentServer(
            settings.tenant_id, settings.experiments_path, lambda moment: self.events.since(moment)
        )
        self._arms: tuple[tuple[float, str], dict[str, ArmSource]] | None = None
        self.experiment_error: str | None = None  # why the running experiment is not served, if it is not
        self._rules: tuple[float, BusinessRules] | None = None
        self._reported_version: str | None = None

    def rules(self) -> BusinessRules:
        path = self.settings.rules_path
        modified = path.stat().st_mtime_ns
        if self._rules is None or self._rules[0] != modified:
            self._rules = (modified, load_rules(path))
        return self._rules[1]

    def snapshot(self) -> Snapshot:
        snapshot = self.snapshots.current()
        if snapshot is None:
            raise HTTPException(503, f"not ready: {self.snapshots.last_error or 'loading'}")
        reported = snapshot.model_version.replace(self.settings.tenant_id, self.metrics_name, 1)
        if reported != self._reported_version:  # only when a new champion arrived
            if self._reported_version is not None:  # this tenant's previous one; the names carry the tenant
                self.metrics.model_version.remove(self._reported_version)
            self.metrics.model_version.labels(reported).set(1)
            self._reported_version = reported
        return snapshot

    def snapshot_or_disabled(self, customer: str | None, request_id: str) -> Snapshot | Recommendations:
        if self.switch.state == OFF:
            return self.disabled(customer, request_id)
        return self.snapshot()

    def answer(
        self, snapshot: Snapshot, customer: str | None, candidates: list[tuple], k: int, request_id: str, **extra
    ) -> Recommendations:
        """``candidates``: (product_id, score, probability, category) tuples, best first."""
        rules = self.rules()
        state = extra.get("state") or (snapshot.states.get(customer) if customer else None)
        state = None if state is None or state != state else str(state)
        hits: Counter = Counter()
        kept, reason = rules_for_one(customer or "", state, candidates, rules, k, hits)
        for rule, count in hits.items():
            self.metrics.rule_hits.labels(rule).inc(count)
        items = [
            Item(
                product_id=product,
                rank=rank,
                score=score,
                probability=probability,
                band=band,
                category=None if category is None or category != category else str(category),
            )  # fmt: skip
            for product, rank, score, probability, category, band in kept
        ]
        return Recommendations(
            customer_unique_id=customer,
            status="ok" if items else "empty",
            reason=reason,
            items=items,
            cold_start=extra.get("cold_start", False),
            model_version=extra.get("model_version") or snapshot.model_version,
            rules_version=rules.version,
            engine=self.switch.state,
            request_id=request_id,
        )

    def disabled(self, customer: str | None, request_id: str) -> Recommendations:
        record = self.switch.current()
        return Recommendations(
            customer_unique_id=customer,
            status="disabled",
            reason=f"the recommendation engine is off (set by {record.changed_by} at {record.changed_at})",
            items=[],
            model_version=None,
            rules_version=self.rules().version,
            engine=OFF,
            request_id=request_id,
        )

    # ---- experiments ---------------------------------------------------------------------
    def arms(self, snapshot: Snapshot, experiment) -> dict[str, ArmSource]:
        """The running experiment's arms over this snapshot (built once per snapshot and experiment)."""
        key = (snapshot.loaded_at, experiment.name)
        if self._arms is None or self._arms[0] != key:
            lists = snapshot.lists
            # Read again here rather than kept in every snapshot: a service holding many tenants
            # would otherwise keep each one's marts in memory for experiments few of them run.
            marts = warehouse_for(self.settings).read_consistent(ARM_TABLES)
            sources = arm_sources(
                plan_of(experiment),
                marts,
                snapshot.lists_version,
                lambda customer: [row[0] for row in lists.get(customer, [])],
                snapshot.scorer,
                version_loader(self.settings, marts),
            )
            self._arms = (key, sources)
        return self._arms[1]

    def in_experiment(
        self, snapshot: Snapshot, customer: str | None, candidates_of, k: int, request_id: str, **extra
    ) -> Recommendations | None:
        """The answer of the running experiment's arm for this customer (exposure logged), or
        None when no experiment runs or the customer is outside it. ``candidates_of(arm_source)``
        gives an arm's (product_id, score, probability, category) rows, best first."""
        experiment = self.experiments.running() if customer else None
        if experiment is None:
            return None
        try:
            arms = self.arms(snapshot, experiment)
        except Exception as error:  # a version that will not load must not take serving down
            self.experiment_error = f"{experiment.name}: {type(error).__name__}: {error}"[:500]
            return None  # the champion answers, as outside the experiment; /readyz says why
        self.experiment_error = None
        rows: dict[str, dict[str, tuple]] = {}

        def ranked(arm: str) -> list[str]:
            if arm not in rows:
                rows[arm] = {row[0]: row for row in candidates_of(arms[arm])}
            return list(rows[arm])

        # As deep as the rules may need: blocked items and category caps still leave k to show.
        exposure = self.experiments.choose(customer, ranked, max(EXPERIMENT_DEPTH, 5 * k))
        if exposure is None:
            return None
        team_of = dict(zip(exposure.products, exposure.teams, strict=True))
        merged = [rows[team][product] for product, team in team_of.items()]
        answer = self.answer(snapshot, customer, merged, k, request_id, model_version=exposure.arm, **extra)
        shown = [item.product_id for item in answer.items]
        served = Exposure(exposure.experiment, exposure.arm, shown, [team_of[product] for product in shown])
        if self.events is not None:
            self.events.add(self.experiments.exposed(served, customer, request_id, now()))
        return answer
