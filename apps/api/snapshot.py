"""What the service serves from: score tables read from the warehouse and the champion recommender.

A ``Snapshot`` is immutable: a refresh builds a new one and swaps it in whole, so a request
never sees tables from one run and a model from another half-way through. ``Snapshots``
decides when to rebuild: when the published warehouse changed (its ``signature``) or the
registry's ``champion`` alias moved, checked at most every ``refresh_seconds``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import pandas as pd

from ml.recommender.registered import RegisteredRecommender
from ml.recommender.serving import HistoryScorer, VectorScorer, realtime_scorer
from ml.registry import CHAMPION, ModelRegistry
from retail_intel.settings import Settings
from retail_intel.warehouse import TableMissing, warehouse_for

RECOMMENDER = "recommender"
SCORE_TABLES = {
    "recommendations": ("ml", "recommendations"),
    "segments": ("ml", "customer_segments"),
    "forecast": ("ml", "revenue_forecast"),
    "products": ("marts", "products"),
    "customers": ("marts", "customer_rfm"),
    "interactions": ("marts", "user_item_interactions"),
    "orders": ("marts", "orders"),
}


class NotReady(RuntimeError):
    """The warehouse has no score tables yet, or the registry no champion: run `retail-intel run`."""


def _read_all(settings: Settings) -> dict[str, pd.DataFrame]:
    try:
        return warehouse_for(settings).read_consistent(SCORE_TABLES)
    except TableMissing as error:
        raise NotReady(f"{error}: run `retail-intel run` first") from error


def warehouse_signature(settings: Settings) -> str:
    """Changes whenever a run publishes one of the tables served."""
    return warehouse_for(settings).signature(list(SCORE_TABLES.values()))


@dataclass(frozen=True)
class Snapshot:
    model_name: str
    model_version: str  # the registry's champion, "<registered name>/<version>": real time and similar items
    scorer: VectorScorer | HistoryScorer  # the champion's real-time scorer over today's customers and catalogue
    lists: dict[str, list[tuple]]  # customer -> (product_id, score, probability, category), best first
    lists_version: str  # the version that wrote ml.recommendations
    categories: dict[str, str]  # product_id -> category
    states: dict[str, str]  # customer_unique_id -> state
    segments: pd.DataFrame  # indexed by customer_unique_id
    forecast: pd.DataFrame
    item_ids: pd.Index
    warehouse_signature: str
    loaded_at: float

    @classmethod
    def load(cls, settings: Settings, registry: ModelRegistry) -> Snapshot:
        signature = warehouse_signature(settings)
        frames = _read_all(settings)
        model_name = settings.registered_model_name(RECOMMENDER)
        version = registry.version_for(model_name, CHAMPION)
        if version is None:
            raise NotReady(f"{model_name} has no champion in the registry: run `retail-intel run` first")
        registered: RegisteredRecommender = registry.load(model_name, version)
        model = registered.for_data(frames["interactions"], frames["customers"], frames["products"], frames["orders"])
        scorer = realtime_scorer(model, frames["customers"])
        recommendations = frames["recommendations"].sort_values(["customer_unique_id", "rank"], ignore_index=True)
        products = frames["products"].set_index("product_id")
        categories = products["category"].to_dict()
        lists: dict[str, list[tuple]] = {}
        for customer, product, score, probability in zip(
            *(recommendations[c].tolist() for c in ("customer_unique_id", "product_id", "score", "probability")),
            strict=True,
        ):
            lists.setdefault(customer, []).append((product, score, probability, categories.get(product)))
        versions = recommendations["model_version"].unique()
        return cls(
            model_name=model_name,
            model_version=f"{model_name}/{version}",
            scorer=scorer,
            lists=lists,
            lists_version=str(versions[0]) if len(versions) else model_name,
            categories=categories,
            states=frames["customers"].set_index("customer_unique_id")["customer_state"].to_dict(),
            segments=frames["segments"].set_index("customer_unique_id"),
            forecast=frames["forecast"].sort_values("date", ignore_index=True),
            item_ids=scorer.product_ids,
            warehouse_signature=signature,
            loaded_at=time.time(),
        )


class Snapshots:
    """The current snapshot; a background thread rebuilds it when something changed, so that
    requests never wait for a reload (only the first load happens before serving)."""

    def __init__(self, settings: Settings, registry: ModelRegistry, refresh_seconds: float = 10.0) -> None:
        self.settings = settings
        self.registry = registry
        self.refresh_seconds = refresh_seconds
        self._current: Snapshot | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None

    def _stale(self, snapshot: Snapshot) -> bool:
        model_name = self.settings.registered_model_name(RECOMMENDER)
        version = self.registry.version_for(model_name, CHAMPION)
        return (
            f"{model_name}/{version}" != snapshot.model_version
            or warehouse_signature(self.settings) != snapshot.warehouse_signature
        )

    def refresh(self, force: bool = False) -> Snapshot | None:
        """Reload if forced, never loaded, or changed; on failure keep serving the snapshot in hand."""
        with self._lock:
            try:
                if force or self._current is None or self._stale(self._current):
                    self._current = Snapshot.load(self.settings, self.registry)
                self.last_error = None
            except NotReady as error:
                self.last_error = str(error)
            except Exception as error:  # a broken reload must not take the service down
                self.last_error = f"reload failed: {type(error).__name__}: {error}"
            return self._current

    def current(self) -> Snapshot | None:
        return self._current

    def start(self) -> None:
        self.refresh(force=True)

        def watch() -> None:
            while not self._stop.wait(self.refresh_seconds):
                self.refresh()

        self._thread = threading.Thread(target=watch, name="snapshot-refresh", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
