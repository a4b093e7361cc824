"""MLflow tracking and model registry behind one small interface.

Each training run is logged with its parameters, metrics (the baselines' beside the
model's), artifacts, lineage tags and the model itself; the model is registered as a new
version with the alias ``challenger``. It becomes ``champion`` only when it beats the
current champion on the same evaluation data, which the caller supplies as a function that
scores any loaded model: the champion is re-scored on today's holdout rather than compared
with a figure it earned on other data. A frozen model is never replaced. Every alias move
is recorded on the version (who, when, why), and rollback walks the champion history back.

Tests point it at a temporary SQLite store; nothing here knows about Dagster or the warehouse.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import mlflow
import mlflow.pyfunc
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

CHAMPION, CHALLENGER = "champion", "challenger"
_HISTORY_TAG = "champion_history"  # JSON list of versions, oldest first
_FROZEN_TAG = "frozen"

logging.getLogger("mlflow").setLevel(logging.WARNING)


class RegistryError(Exception):
    """A registry action that cannot be done (unknown model, frozen model, nothing to roll back)."""


class NotComparable(Exception):
    """Raised by an evaluation function when a version cannot be scored fairly on the holdout
    (for example, it was trained on part of it); the champion is then kept."""


class _Wrapped(mlflow.pyfunc.PythonModel):
    """Any Python model object whose ``predict`` takes a DataFrame, behind MLflow's pyfunc interface."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def predict(self, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> Any:  # noqa: ARG002
        return self.model.predict(model_input)


@dataclass(frozen=True)
class Promotion:
    model_name: str
    version: str
    promoted: bool
    reason: str
    challenger_score: float | None
    champion_version: str | None
    champion_score: float | None


@dataclass(frozen=True)
class LoggedVersion:
    model_name: str
    version: str
    run_id: str


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        return "unknown"


def _own_requirement() -> str:
    try:
        return f"retail-intel=={metadata.version('retail-intel')}"
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "retail-intel"


class ModelRegistry:
    """One MLflow store, seen by one tenant: with a ``namespace`` (the tenant id) every model it
    logs, reads, promotes, freezes or lists is named ``<namespace>.<model>``, and a name outside
    it is refused before MLflow is asked, so that no tenant's run touches another's models in
    the store they share. Without one (the operator's view, the tests) every model is visible."""

    def __init__(self, tracking_uri: str, artifact_root: Path | None = None, namespace: str | None = None) -> None:
        self.tracking_uri = tracking_uri
        self.artifact_root = artifact_root
        self.namespace = namespace
        self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)

    def _own(self, model_name: str) -> str:
        if self.namespace is not None and not model_name.startswith(f"{self.namespace}."):
            raise RegistryError(
                f"tenant {self.namespace!r} has no model {model_name!r}: its models are named {self.namespace}.*"
            )
        return model_name

    # ---- logging -----------------------------------------------------------------------
    def _experiment_id(self, experiment: str) -> str:
        existing = self.client.get_experiment_by_name(experiment)
        if existing is not None:
            return existing.experiment_id
        location = (self.artifact_root / experiment).as_uri() if self.artifact_root else None
        return self.client.create_experiment(experiment, artifact_location=location)

    def log_model_version(
        self,
        *,
        model_name: str,
        model: Any,
        input_example: pd.DataFrame,
        params: Mapping[str, Any],
        metrics: Mapping[str, float],
        lineage: Mapping[str, str],
        artifacts: Mapping[str, bytes | str] | None = None,
        experiment: str | None = None,
    ) -> LoggedVersion:
        """Log a training run and register its model as a new version aliased ``challenger``.

        ``metrics`` holds the model's and the baselines' figures (name them so), ``lineage``
        the data as-of date, data hash, dbt manifest hash and git commit. ``artifacts`` are
        files to attach (name -> bytes or text): plots, the evaluation report.
        """
        self._own(model_name)
        self._activate()
        with mlflow.start_run(experiment_id=self._experiment_id(experiment or model_name)) as run:
            mlflow.log_params({key: str(value)[:500] for key, value in params.items()})
            mlflow.log_metrics({key: float(value) for key, value in metrics.items() if value is not None})
            mlflow.set_tags({f"lineage.{key}": value for key, value in lineage.items()})
            with tempfile.TemporaryDirectory() as scratch:
                for name, content in (artifacts or {}).items():
                    path = Path(scratch) / name
                    path.write_bytes(content if isinstance(content, bytes) else content.encode())
                    mlflow.log_artifact(str(path))
            output_example = model.predict(input_example)
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=_Wrapped(model),
                signature=infer_signature(input_example, output_example),
                input_example=input_example,
                registered_model_name=model_name,
                # What loading the model needs is this package (its classes are pickled) and,
                # through it, the pinned dependencies. Left to MLflow, the requirements are
                # inferred by loading the model in a child process: 3-4 s per version.
                pip_requirements=[_own_requirement()],
            )
        version = str(info.registered_model_version)
        self.client.set_registered_model_alias(model_name, CHALLENGER, version)
        self.client.set_model_version_tag(model_name, version, "logged_at", _now())
        return LoggedVersion(model_name, version, run.info.run_id)

    # ---- reading -----------------------------------------------------------------------
    def version_for(self, model_name: str, alias: str) -> str | None:
        try:
            return str(self.client.get_model_version_by_alias(self._own(model_name), alias).version)
        except MlflowException:
            return None

    def load(self, model_name: str, version: str) -> Any:
        """The Python model object of a version (not the pyfunc wrapper)."""
        self._activate()
        pyfunc = mlflow.pyfunc.load_model(f"models:/{self._own(model_name)}/{version}")
        return pyfunc.unwrap_python_model().model

    def metrics_of(self, model_name: str, version: str) -> dict[str, float]:
        """The metrics a version was logged with (its own evaluation); empty for an unknown version."""
        try:
            model_version = self.client.get_model_version(self._own(model_name), version)
            return dict(self.client.get_run(model_version.run_id).data.metrics)
        except MlflowException:
            return {}

    def attach(self, model_name: str, version: str, file_name: str, text: str) -> None:
        """A text file (a report written after the version was logged) on the version's run."""
        self._activate()
        try:
            run_id = self.client.get_model_version(self._own(model_name), version).run_id
            self.client.log_text(run_id, text, file_name)
        except MlflowException as error:
            raise RegistryError(f"cannot attach {file_name} to {model_name} version {version}: {error}") from None

    def tag(self, model_name: str, version: str, tags: dict[str, str]) -> None:
        """Record facts on a version (e.g. the experiment that promoted it)."""
        try:
            for key, value in tags.items():
                self.client.set_model_version_tag(self._own(model_name), version, key, value)
        except MlflowException as error:
            raise RegistryError(f"cannot tag {model_name} version {version}: {error}") from None

    def is_frozen(self, model_name: str) -> bool:
        return self._model_tags(model_name).get(_FROZEN_TAG) == "true"

    def versions(self, model_name: str | None = None) -> pd.DataFrame:
        """One row per version: aliases, frozen flag, promotion record; of this namespace's models only."""
        if model_name:
            query = f"name = '{self._own(model_name)}'"
        else:
            # Tenant ids are [a-z0-9_]: "_" is LIKE's any-character, hence the exact check below.
            query = f"name LIKE '{self.namespace}.%'" if self.namespace else None
        rows = []
        for version in self.client.search_model_versions(query):
            if self.namespace and not version.name.startswith(f"{self.namespace}."):
                continue
            model = self.client.get_registered_model(version.name)
            rows.append(
                {
                    "model": version.name,
                    "version": int(version.version),
                    "aliases": ",".join(sorted(a for a, v in model.aliases.items() if str(v) == str(version.version))),
                    "frozen": model.tags.get(_FROZEN_TAG) == "true",
                    "logged_at": version.tags.get("logged_at", ""),
                    "decision": version.tags.get("promotion.decision", ""),
                    "run_id": version.run_id,
                }
            )
        columns = ["model", "version", "aliases", "frozen", "logged_at", "decision", "run_id"]
        return pd.DataFrame(rows, columns=columns).sort_values(["model", "version"], ignore_index=True)

    # ---- decisions ---------------------------------------------------------------------
    def promote_if_better(
        self,
        model_name: str,
        version: str,
        evaluate: Callable[[Any], float],
        *,
        metric: str,
        higher_is_better: bool,
        holdout: str,
        hold: str | None = None,
    ) -> Promotion:
        """Score the challenger and the current champion with the same ``evaluate`` (same
        holdout) and move ``champion`` only if the challenger is strictly better.

        ``hold``: a reason not to promote whatever the scores (a person froze the engine);
        recorded like a frozen model's."""
        challenger_score = float(evaluate(self.load(model_name, version)))
        champion_version = self.version_for(model_name, CHAMPION)
        champion_score = None
        if self.is_frozen(model_name):
            promoted, reason = False, "the model is frozen: the champion is kept"
        elif hold and champion_version is not None:
            promoted, reason = False, f"{hold}: the champion is kept"
        elif champion_version is None:
            promoted, reason = True, "first version: no champion to beat"
        else:
            try:
                champion_score = float(evaluate(self.load(model_name, champion_version)))
            except NotComparable as error:
                champion_score = None
                promoted, reason = False, f"not compared, the champion is kept: champion v{champion_version} {error}"
            else:
                better = challenger_score > champion_score if higher_is_better else challenger_score < champion_score
                promoted = better
                verdict = "beats" if better else "does not beat"
                reason = (
                    f"{metric} {challenger_score:.6g} {verdict} champion v{champion_version}'s {champion_score:.6g} "
                    f"({'higher' if higher_is_better else 'lower'} is better)"
                )
        record = {
            "promotion.decision": "promoted" if promoted else "kept as challenger",
            "promotion.reason": reason,
            "promotion.metric": metric,
            "promotion.holdout": holdout,
            "promotion.challenger_score": f"{challenger_score:.6g}",
            "promotion.champion_version": champion_version or "",
            "promotion.champion_score": "" if champion_score is None else f"{champion_score:.6g}",
            "promotion.decided_at": _now(),
        }
        for key, value in record.items():
            self.client.set_model_version_tag(model_name, version, key, value)
        if promoted:
            self._set_champion(model_name, version, by="automatic comparison")
        return Promotion(model_name, version, promoted, reason, challenger_score, champion_version, champion_score)

    def promote(self, model_name: str, version: str, *, by: str | None = None) -> None:
        """A person makes ``version`` the champion (refused while the model is frozen)."""
        self._require_unfrozen(model_name, "promote")
        self.client.get_model_version(model_name, version)  # raises for an unknown version
        self._set_champion(model_name, version, by=by or current_user())

    def rollback(self, model_name: str, *, by: str | None = None) -> str:
        """Make the previous champion the champion again; returns its version."""
        self._require_unfrozen(model_name, "roll back")
        history = self._history(model_name)
        if len(history) < 2:
            raise RegistryError(f"{model_name} has no earlier champion to roll back to")
        history.pop()
        previous = history[-1]
        self.client.set_registered_model_alias(model_name, CHAMPION, previous)
        self.client.set_registered_model_tag(model_name, _HISTORY_TAG, json.dumps(history))
        self.client.set_model_version_tag(model_name, previous, "champion.restored_by", by or current_user())
        self.client.set_model_version_tag(model_name, previous, "champion.restored_at", _now())
        return previous

    def freeze(self, model_name: str, *, by: str | None = None) -> None:
        self._model_tags(model_name)  # raises for an unknown model
        self.client.set_registered_model_tag(model_name, _FROZEN_TAG, "true")
        self.client.set_registered_model_tag(model_name, "frozen_by", by or current_user())
        self.client.set_registered_model_tag(model_name, "frozen_at", _now())

    def unfreeze(self, model_name: str, *, by: str | None = None) -> None:
        self._model_tags(model_name)
        self.client.set_registered_model_tag(model_name, _FROZEN_TAG, "false")
        self.client.set_registered_model_tag(model_name, "unfrozen_by", by or current_user())
        self.client.set_registered_model_tag(model_name, "unfrozen_at", _now())

    def delete_namespace(self) -> list[str]:
        """Delete this namespace's registered models and their experiments (a purged tenant);
        returns the models' names. Refused without a namespace: it would empty the store."""
        if self.namespace is None:
            raise RegistryError("delete_namespace needs a namespace: without one it would delete every tenant's models")
        found = self.client.search_registered_models(filter_string=f"name LIKE '{self.namespace}.%'")
        names = sorted(model.name for model in found if model.name.startswith(f"{self.namespace}."))
        for name in names:
            self.client.delete_registered_model(name)
        for experiment in self.client.search_experiments(filter_string=f"name LIKE '{self.namespace}.%'"):
            if experiment.name.startswith(f"{self.namespace}."):
                self.client.delete_experiment(experiment.experiment_id)
        return names

    # ---- internals ---------------------------------------------------------------------
    def _activate(self) -> None:
        """Point MLflow's process-wide (fluent) API at this store. It is not restored after
        use: "restoring" MLflow 3's implicit default would create ./mlflow.db in the working
        directory.

        MLflow also exports the URI as MLFLOW_TRACKING_URI / MLFLOW_REGISTRY_URI, for child
        processes. Left there, the next tenant's settings, read from the environment in the
        same process (a code server, a test session), would take this tenant's store as an
        explicit override: the variables are put back as they were.
        """
        saved = {name: os.environ.get(name) for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def _model_tags(self, model_name: str) -> dict[str, str]:
        try:
            return dict(self.client.get_registered_model(self._own(model_name)).tags)
        except MlflowException:
            raise RegistryError(f"no registered model named {model_name!r}") from None

    def _history(self, model_name: str) -> list[str]:
        return json.loads(self._model_tags(model_name).get(_HISTORY_TAG, "[]"))

    def _require_unfrozen(self, model_name: str, action: str) -> None:
        if self.is_frozen(model_name):
            raise RegistryError(f"{model_name} is frozen: unfreeze it before you {action}")

    def _set_champion(self, model_name: str, version: str, *, by: str) -> None:
        history = self._history(model_name)
        if not history or history[-1] != version:
            history.append(version)
        self.client.set_registered_model_alias(model_name, CHAMPION, version)
        self.client.set_registered_model_tag(model_name, _HISTORY_TAG, json.dumps(history))
        self.client.set_model_version_tag(model_name, version, "champion.promoted_by", by)
        self.client.set_model_version_tag(model_name, version, "champion.promoted_at", _now())
        if self.version_for(model_name, CHALLENGER) == version:
            self.client.delete_registered_model_alias(model_name, CHALLENGER)
