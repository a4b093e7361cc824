"""Champion/challenger promotion on a temporary local MLflow store."""

import os

import numpy as np
import pandas as pd
import pytest

from ml.registry import CHALLENGER, CHAMPION, ModelRegistry, RegistryError


class ConstantModel:
    """Predicts one number; its quality on the holdout is how close that number is to 10."""

    def __init__(self, value: float) -> None:
        self.value = value

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return np.full(len(frame), self.value)


HOLDOUT = pd.DataFrame({"x": [1.0, 2.0, 3.0]})


def mae_on_holdout(model) -> float:
    return float(np.abs(model.predict(HOLDOUT) - 10.0).mean())


@pytest.fixture
def registry(tmp_path):
    return ModelRegistry(f"sqlite:///{tmp_path / 'mlflow.db'}", artifact_root=tmp_path / "artifacts")


def log(registry, value: float, model_name: str = "acme.forecast") -> str:
    logged = registry.log_model_version(
        model_name=model_name,
        model=ConstantModel(value),
        input_example=HOLDOUT,
        params={"value": value},
        metrics={"mae": mae_on_holdout(ConstantModel(value)), "baseline_mae": 5.0},
        lineage={"as_of_date": "2018-10-17", "data_hash": "abc", "dbt_manifest_hash": "def", "git_commit": "123"},
        artifacts={"report.md": "# report"},
    )
    return logged.version


def promote(registry, version):
    return registry.promote_if_better(
        "acme.forecast", version, mae_on_holdout, metric="mae", higher_is_better=False, holdout="test"
    )


def test_first_version_becomes_champion_and_a_better_one_replaces_it(registry, tmp_path):
    first = log(registry, 7.0)
    assert registry.version_for("acme.forecast", CHALLENGER) == first
    assert promote(registry, first).promoted
    assert registry.version_for("acme.forecast", CHAMPION) == first
    assert registry.version_for("acme.forecast", CHALLENGER) is None

    better = log(registry, 9.0)
    decision = promote(registry, better)
    assert decision.promoted and decision.champion_version == first
    assert decision.challenger_score == pytest.approx(1.0) and decision.champion_score == pytest.approx(3.0)
    assert registry.version_for("acme.forecast", CHAMPION) == better
    assert list((tmp_path / "artifacts").rglob("report.md")), "artifacts go under the given root, not ./mlruns"


def test_worse_challenger_is_not_promoted_and_the_comparison_is_recorded(registry):
    champion = log(registry, 9.0)
    promote(registry, champion)
    worse = log(registry, 2.0)
    decision = promote(registry, worse)
    assert not decision.promoted
    assert registry.version_for("acme.forecast", CHAMPION) == champion
    assert registry.version_for("acme.forecast", CHALLENGER) == worse
    tags = registry.client.get_model_version("acme.forecast", worse).tags
    assert tags["promotion.decision"] == "kept as challenger"
    assert tags["promotion.champion_version"] == champion
    assert "does not beat" in tags["promotion.reason"]


def test_frozen_champion_is_kept_even_against_a_better_model(registry):
    champion = log(registry, 5.0)
    promote(registry, champion)
    registry.freeze("acme.forecast", by="marketing")
    better = log(registry, 10.0)
    assert not promote(registry, better).promoted
    assert registry.version_for("acme.forecast", CHAMPION) == champion
    with pytest.raises(RegistryError, match="frozen"):
        registry.promote("acme.forecast", better)
    registry.unfreeze("acme.forecast")
    registry.promote("acme.forecast", better, by="analyst")
    assert registry.version_for("acme.forecast", CHAMPION) == better


def test_rollback_restores_the_previous_champion(registry):
    first = log(registry, 8.0)
    promote(registry, first)
    second = log(registry, 9.5)
    promote(registry, second)
    assert registry.rollback("acme.forecast") == first
    assert registry.version_for("acme.forecast", CHAMPION) == first
    with pytest.raises(RegistryError, match="no earlier champion"):
        registry.rollback("acme.forecast")


def test_loaded_champion_is_the_logged_model_and_versions_are_listed(registry):
    version = log(registry, 6.5)
    promote(registry, version)
    assert registry.load("acme.forecast", version).value == 6.5
    listing = registry.versions("acme.forecast")
    assert listing.loc[0, "aliases"] == CHAMPION and listing.loc[0, "decision"] == "promoted"
    with pytest.raises(RegistryError, match="no registered model"):
        registry.freeze("acme.unknown")


def test_using_a_tenants_store_leaves_the_environment_alone(tmp_path, monkeypatch):
    """MLflow exports the URI it is pointed at; another tenant's settings, read from the
    environment later in the same process, must not inherit this tenant's store."""
    from retail_intel.settings import Settings

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    acme = ModelRegistry(f"sqlite:///{tmp_path / 'acme.db'}", artifact_root=tmp_path / "acme")
    log(acme, 9.0)
    assert "MLFLOW_TRACKING_URI" not in os.environ and "MLFLOW_REGISTRY_URI" not in os.environ
    other = Settings.from_env(dict(os.environ)).with_(home=tmp_path / "home", tenant_id="globex")
    assert other.mlflow_tracking_uri == f"sqlite:///{tmp_path / 'home' / 'platform' / 'mlflow.db'}"
    # An operator's explicit choice is kept as it was.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.internal:5000")
    log(acme, 8.0)
    assert os.environ["MLFLOW_TRACKING_URI"] == "http://mlflow.internal:5000"


def test_tenants_share_one_store_and_none_touches_anothers_models(tmp_path):
    """One store the operator browses; through its own namespace a tenant lists, loads,
    promotes, freezes or logs only its own models, and purging it leaves the others'."""
    uri = f"sqlite:///{tmp_path / 'platform.db'}"
    acme = ModelRegistry(uri, artifact_root=tmp_path / "acme", namespace="acme")
    globex = ModelRegistry(uri, artifact_root=tmp_path / "globex", namespace="globex")
    # A tenant whose id starts like another's, and whose "_" LIKE would take for any character.
    acme_x = ModelRegistry(uri, artifact_root=tmp_path / "acme_x", namespace="acme_x")
    ours = log(acme, 9.0)
    log(globex, 8.0, model_name="globex.forecast")
    log(acme_x, 8.0, model_name="acme_x.forecast")

    assert set(acme.versions()["model"]) == {"acme.forecast"}
    assert set(ModelRegistry(uri).versions()["model"]) == {"acme.forecast", "globex.forecast", "acme_x.forecast"}
    for action in (
        lambda: acme.versions("globex.forecast"),
        lambda: acme.version_for("globex.forecast", CHAMPION),
        lambda: acme.load("globex.forecast", "1"),
        lambda: acme.promote("globex.forecast", "1", by="test"),
        lambda: acme.freeze("globex.forecast", by="test"),
        lambda: acme.rollback("globex.forecast", by="test"),
        lambda: log(acme, 1.0, model_name="globex.forecast"),
        lambda: log(acme, 1.0, model_name="acme_x.forecast"),
    ):
        with pytest.raises(RegistryError, match="tenant 'acme' has no model"):
            action()
    assert len(globex.versions("globex.forecast")) == 1 and not globex.is_frozen("globex.forecast")

    assert acme.load("acme.forecast", ours).value == 9.0
    assert acme.delete_namespace() == ["acme.forecast"]
    assert set(ModelRegistry(uri).versions()["model"]) == {"globex.forecast", "acme_x.forecast"}
    with pytest.raises(RegistryError, match="needs a namespace"):
        ModelRegistry(uri).delete_namespace()
