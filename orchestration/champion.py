"""The champion flow the ML assets share: this run's model is registered as challenger,
promoted only if it beats the champion on today's holdout, and the champion writes the
tables, which carry its version as ``<model name>/<version>``."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ml.registry import CHAMPION, LoggedVersion, Promotion
from orchestration.lineage import lineage, registry_for
from retail_intel.settings import Settings


@dataclass(frozen=True)
class Crowned:
    """What one run's champion flow decided, and the model that writes its tables."""

    model_name: str
    logged: LoggedVersion
    decision: Promotion
    champion_version: str
    champion: Any

    @property
    def challenger_version(self) -> str:
        return self.logged.version

    @property
    def version_label(self) -> str:
        """The tables' ``model_version``."""
        return f"{self.model_name}/{self.champion_version}"


class ChampionFlow:
    """One tenant's registered model (``model`` is its short name, e.g. ``"recommender"``)."""

    def __init__(self, settings: Settings, model: str) -> None:
        self.settings = settings
        self.model_name = settings.registered_model_name(model)
        self.registry = registry_for(settings)

    def crown(
        self,
        challenger: Any,
        *,
        trained_on: pd.DataFrame,
        as_of: str,
        input_example: pd.DataFrame,
        params: Mapping[str, Any],
        metrics: Mapping[str, float],
        artifacts: Mapping[str, bytes | str] | None = None,
        evaluate: Callable[[Any], float],
        metric: str,
        higher_is_better: bool,
        holdout: str,
        hold: str | None = None,
        log: logging.Logger,
        note: str | None = None,
        prepare: Callable[[Any], Any] | None = None,
        reuse_challenger: bool = False,
    ) -> Crowned:
        """Log ``challenger`` as a new version (lineage from ``trained_on`` as of ``as_of``),
        promote it if ``evaluate`` scores it better than the champion (see
        ``ModelRegistry.promote_if_better``; ``hold`` keeps the champion whatever the scores),
        log the decision (after ``note``) and load the champion.

        ``prepare`` turns a loaded version into the model that writes the tables (rebased or
        refit on today's data). ``reuse_challenger``: the in-memory challenger already is
        that model, so it is used as is when it was crowned.
        """
        logged = self.registry.log_model_version(
            model_name=self.model_name,
            model=challenger,
            input_example=input_example,
            params=params,
            metrics=metrics,
            lineage=lineage(self.settings, trained_on, as_of),
            artifacts=artifacts,
        )
        decision = self.registry.promote_if_better(
            self.model_name,
            logged.version,
            evaluate,
            metric=metric,
            higher_is_better=higher_is_better,
            holdout=holdout,
            hold=hold,
        )
        log.info(f"{self.model_name} v{logged.version}: {'' if note is None else f'{note}; '}{decision.reason}")
        champion_version = self.registry.version_for(self.model_name, CHAMPION)
        if reuse_challenger and champion_version == logged.version:
            champion = challenger
        else:
            champion = self.registry.load(self.model_name, champion_version)
            if prepare is not None:
                champion = prepare(champion)
        return Crowned(self.model_name, logged, decision, champion_version, champion)

    def log_metric(self, crowned: Crowned, key: str, value: float) -> None:
        """A figure of this run's version known only once its tables are written."""
        self.registry.client.log_metric(crowned.logged.run_id, key, value)
