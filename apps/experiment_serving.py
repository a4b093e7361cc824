"""Serving a tenant's running experiment: each arm's lists, the bandit's state, exposure rows.

Shared by the HTTP service (both recommendation endpoints) and the batch paths that read the
published lists (the feedback simulator's lists), so that an arm means the same list wherever it
is served. What a customer is shown is decided by ``ml.experiments.serving.serve``; this module
supplies what that needs:

- **arms** (``arm_sources``): a model version of the tenant's recommender (``<registered
  name>/<version>``: the champion's published lists and real-time scorer, or another version
  loaded from the registry and refit on today's marts as the champion is), or a strategy:
  ``popularity`` (the most bought products of the last 30 days), ``random`` (a catalogue
  shuffle per customer: the placebo that any model should beat), ``nothing`` (an empty list);
- **the bandit's state** (``BanditLog``): rebuilt from the served lists and their rewards (a
  click on a shown item or a purchase of one), oldest first, with the bandit's discount, so a
  restart loses nothing; a list counts once its client has reported on it (see
  ``BANDIT_PATIENCE``), not while its events are still on their way;
- **exposure rows**: one event per shown item, with the arm it counts for.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from ml.experiments.bandit import REWARD_EVENTS, DiscountedThompson
from ml.experiments.serving import Exposure, Plan, plan_of, serve
from retail_intel.events import EXPOSURE
from retail_intel.experiments import ExperimentStore

# How deep an arm's list goes: enough for k up to the API's maximum after the business rules.
DEPTH = 100
POPULAR_DAYS = 30
# The bandit's evidence: a discount of 0.999 leaves under 0.1% of a list served 7,000 lists ago.
BANDIT_MEMORY = 10_000
BANDIT_REFRESH = 25
# A served list counts as a failure once its client reported anything for it (an impression,
# a click elsewhere) without a reward, or, for a client that reports nothing, after this many
# later lists. Until then it is pending: counting lists whose events have not arrived yet as
# failures penalises the arm served most, the better one, and made convergence uneven when
# events arrive in batches (bench/bench_bandit_delay.py: 0.15 against 0.05 click rates, events
# in batches of 200, 400 lists, 60 seeds: the better arm's later share was 0.68 at the 5th
# percentile counting pending lists as failures, 0.87 leaving them out; at 0.06 against 0.03
# neither rule converges in 600 lists, medians 0.70 and 0.81).
BANDIT_PATIENCE = 1_000


@dataclass
class ArmSource:
    """One arm: its list for a customer (best first) and, for model versions, its real-time scorer."""

    name: str
    lists: Callable[[str], list[str]]
    scorer: object | None = None  # ml.recommender.serving scorer, for the real-time endpoint


def popularity_list(interactions: pd.DataFrame, days: int = POPULAR_DAYS, depth: int = DEPTH) -> list[str]:
    """The most bought products of the data's last ``days`` days (ties by product id)."""
    last = pd.Timestamp(interactions["last_purchased_at"].max())
    recent = interactions.loc[pd.to_datetime(interactions["last_purchased_at"]) > last - pd.Timedelta(days=days)]
    counts = recent.groupby("product_id")["purchase_count"].sum().reset_index()
    ranked = counts.sort_values(["purchase_count", "product_id"], ascending=[False, True])
    return ranked["product_id"].head(depth).tolist()


def random_list(catalogue: Sequence[str], salt: str, customer: str, depth: int = DEPTH) -> list[str]:
    """A shuffle of the catalogue fixed per (experiment, customer)."""
    seed = int.from_bytes(hashlib.sha256(f"{salt}\x1f{customer}".encode()).digest()[:8], "big")
    # A sample of ``depth`` without replacement costs O(depth), not a shuffle of the whole
    # catalogue on every request (300,000 products in the huge-catalogue shape).
    order = np.random.default_rng(seed).choice(len(catalogue), size=min(depth, len(catalogue)), replace=False)
    return [catalogue[i] for i in order]


def arm_sources(
    plan: Plan,
    frames: dict[str, pd.DataFrame],
    champion_version: str,
    champion_lists: Callable[[str], list[str]],
    champion_scorer: object | None,
    load_version: Callable[[str], object],
) -> dict[str, ArmSource]:
    """Every arm of ``plan``. ``frames``: the published interactions, customers, products and
    orders; ``load_version(arm)``: the registered model of a version arm, refit on ``frames``."""
    from ml.recommender.serving import realtime_scorer

    sources: dict[str, ArmSource] = {}
    catalogue = sorted(frames["products"]["product_id"].tolist())
    for arm in plan.arms:
        if arm == champion_version:
            sources[arm] = ArmSource(arm, champion_lists, champion_scorer)
        elif arm == "popularity":
            popular = popularity_list(frames["interactions"])
            sources[arm] = ArmSource(arm, lambda _customer, popular=popular: popular)
        elif arm == "random":
            sources[arm] = ArmSource(arm, lambda customer: random_list(catalogue, plan.salt, customer))
        elif arm == "nothing":
            sources[arm] = ArmSource(arm, lambda _customer: [])
        else:
            model = load_version(arm)
            table = model.recommend(frames["customers"], DEPTH)
            table = table.sort_values(["customer_unique_id", "rank"])
            by_customer = table.groupby("customer_unique_id")["product_id"].agg(list).to_dict()
            scorer = realtime_scorer(model, frames["customers"])
            sources[arm] = ArmSource(arm, lambda customer, lists=by_customer: lists.get(customer, []), scorer)
    return sources


ARM_TABLES = {
    "interactions": ("marts", "user_item_interactions"),
    "customers": ("marts", "customer_rfm"),
    "products": ("marts", "products"),
    "orders": ("marts", "orders"),
}


def version_loader(settings, frames: dict[str, pd.DataFrame]) -> Callable[[str], object]:
    """``load(arm)``: the registered recommender version ``<registered name>/<version>`` of this
    tenant, refit on ``frames`` as the champion is for serving. Another tenant's or model's name
    is refused: the registry is the tenant's own view."""
    from orchestration.lineage import registry_for

    registry = registry_for(settings)

    def load(arm: str):
        name, _, version = arm.rpartition("/")
        if name != settings.registered_model_name("recommender") or not version.isdigit():
            raise ValueError(
                f"arm {arm!r} is neither a strategy nor a version of {settings.registered_model_name('recommender')}"
            )
        registered = registry.load(name, version)
        return registered.for_data(frames["interactions"], frames["customers"], frames["products"], frames["orders"])

    return load


def published_arms(settings, plan: Plan, recommendations: pd.DataFrame) -> dict[str, ArmSource]:
    """The arms of ``plan`` from the published tables (batch paths: no real-time scorers)."""
    from retail_intel.warehouse import warehouse_for

    frames = warehouse_for(settings).read_consistent(ARM_TABLES)
    ranked = recommendations.sort_values(["customer_unique_id", "rank"])
    champion = ranked.groupby("customer_unique_id")["product_id"].agg(list).to_dict()
    version = str(ranked["model_version"].iloc[0]) if len(ranked) else ""
    return arm_sources(
        plan, frames, version, lambda customer: champion.get(customer, []), None, version_loader(settings, frames)
    )


class BanditLog:
    """The lists a bandit served and their rewards, in serving order; its state on demand."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self._served: OrderedDict[str, tuple[str, set]] = OrderedDict()  # request -> (arm, products shown)
        self._rewarded: set[str] = set()
        self._answered: set[str] = set()  # requests the client reported any event for
        self._state: DiscountedThompson | None = None
        self._changes = 0
        self._lock = threading.Lock()

    def served(self, request_id: str, arm: str, products: Sequence[str]) -> None:
        with self._lock:
            self._served[request_id] = (arm, set(products))
            while len(self._served) > BANDIT_MEMORY:
                forgotten = self._served.popitem(last=False)[0]
                self._rewarded.discard(forgotten)
                self._answered.discard(forgotten)
            self._changes += 1

    def observed(self, events: Sequence[dict]) -> None:
        """Clients' events; a click on or a purchase of a shown item rewards its list."""
        with self._lock:
            for event in events:
                request = event.get("request_id")
                if request not in self._served or event.get("event_type") == EXPOSURE:
                    continue
                if request not in self._answered:
                    self._answered.add(request)
                    self._changes += 1
                if event.get("event_type") not in REWARD_EVENTS or request in self._rewarded:
                    continue
                if event.get("product_id") in self._served[request][1]:
                    self._rewarded.add(request)
                    self._changes += 1

    def state(self) -> DiscountedThompson:
        with self._lock:
            if self._state is None or self._changes >= BANDIT_REFRESH:
                settled = len(self._served) - BANDIT_PATIENCE  # lists served before this one are settled
                outcomes = [
                    (arm, float(request in self._rewarded))
                    for index, (request, (arm, _)) in enumerate(self._served.items())
                    if request in self._answered or index < settled
                ]
                self._state = DiscountedThompson.replayed(list(self.plan.arms), outcomes)
                self._changes = 0
            return self._state

    @classmethod
    def from_events(cls, plan: Plan, events: pd.DataFrame) -> BanditLog:
        """Rebuilt from the event store (what a restarted service does)."""
        log = cls(plan)
        if events.empty:
            return log
        shown = events.loc[(events["event_type"] == EXPOSURE) & (events["experiment"] == plan.name)]
        shown = shown.sort_values(["occurred_at", "request_id"])
        for request, rows in shown.groupby("request_id", sort=False):
            log.served(request, rows["arm"].iloc[0], rows["product_id"].dropna().tolist())
        later = events.loc[events["request_id"].isin(set(shown["request_id"])) & (events["event_type"] != EXPOSURE)]
        log.observed(later.to_dict("records"))
        return log


class ExperimentServer:
    """A tenant's running experiment as its serving paths see it; re-read when the store changes."""

    def __init__(
        self,
        tenant: str,
        store_path: Path,
        history: Callable[[datetime], pd.DataFrame] | None = None,
        seed: int | None = None,
    ) -> None:
        self.tenant = tenant
        self.store = ExperimentStore(store_path)
        self._history = history  # events since a moment: where a bandit's log is rebuilt from
        self._seen: tuple[int, int] | None = None
        self._experiment = None
        self._bandit: BanditLog | None = None
        self._rng = np.random.default_rng(seed)  # the bandit's draws and the team draft's coins
        self._lock = threading.Lock()

    def running(self):
        """The running experiment, or None; the store is read again only when its file changed."""
        path = self.store.path
        stat = path.stat() if path.exists() else None
        mark = (stat.st_mtime_ns, stat.st_size) if stat else None
        with self._lock:
            if mark != self._seen:
                self._seen = mark
                experiment = self.store.running() if mark else None
                if experiment is None or self._experiment is None or experiment.name != self._experiment.name:
                    self._bandit = None
                self._experiment = experiment
            return self._experiment

    def bandit(self, plan: Plan) -> BanditLog:
        with self._lock:
            if self._bandit is None or self._bandit.plan.name != plan.name:
                started = self._experiment.started_at if self._experiment else None
                events = pd.DataFrame()
                if self._history is not None and started:
                    events = self._history(datetime.fromisoformat(started).replace(tzinfo=None))
                self._bandit = BanditLog.from_events(plan, events)
            elif self._bandit.plan != plan:  # the rollout moved: same evidence, new share
                self._bandit.plan = plan
            return self._bandit

    def choose(self, customer: str, lists: Callable[[str], Sequence[str]], k: int) -> Exposure | None:
        experiment = self.running()
        if experiment is None:
            return None
        plan = plan_of(experiment)
        bandit = self.bandit(plan) if plan.kind == "bandit" else None
        exposure = serve(plan, self.tenant, customer, lists, k, self._rng, bandit.state() if bandit else None)
        return exposure

    def exposed(self, exposure: Exposure, customer: str | None, request_id: str, at: datetime) -> list[dict]:
        """The exposure rows of a served list (one per item shown) for the event store."""
        if self._bandit is not None and self._bandit.plan.name == exposure.experiment:
            self._bandit.served(request_id, exposure.arm, exposure.products)
        # An empty list (the recommend-nothing arm) is still a visit in the arm: one row, no product.
        shown = list(zip(exposure.products, exposure.teams, strict=True)) or [(None, exposure.arm)]
        return [
            {
                "event_id": uuid.uuid4().hex,
                "event_type": EXPOSURE,
                "customer_unique_id": customer,
                "product_id": product,
                "model_version": team,
                "request_id": request_id,
                "occurred_at": at,
                "received_at": at,
                "experiment": exposure.experiment,
                "arm": team,
            }
            for product, team in shown
        ]

    def observed(self, events: Sequence[dict]) -> None:
        """Clients' events: a click on or a purchase of a shown item rewards the bandit's choice."""
        if self._bandit is not None:
            self._bandit.observed(events)
