from __future__ import annotations

from pathlib import Path

import pytest

from retail_intel.settings import Settings, resource_dir


def test_every_location_derives_from_home_and_tenant(tmp_path):
    acme = Settings(home=tmp_path, tenant_id="acme", target="postgres")
    globex = acme.with_(tenant_id="globex")
    for getter in ("tenant_dir", "warehouse_path", "build_dir", "dbt_state_dir"):
        acme_path, globex_path = getattr(acme, getter), getattr(globex, getter)
        assert acme_path != globex_path
        assert tmp_path in acme_path.parents
    # One Dagster instance for every tenant, each one a partition: the platform's, in no tenant's folder.
    assert acme.dagster_home == globex.dagster_home == tmp_path / "platform" / "dagster"
    assert acme.registered_model_name("recommender") != globex.registered_model_name("recommender")
    # One MLflow store, which the operator browses; each tenant's models are named after it.
    assert acme.mlflow_tracking_uri == globex.mlflow_tracking_uri


def test_environment_variables_are_honoured(tmp_path):
    settings = Settings.from_env(
        {
            "RETAIL_INTEL_HOME": str(tmp_path / "h"),
            "RETAIL_INTEL_TENANT": "acme",
            "RETAIL_INTEL_TARGET": "postgres",
            "RETAIL_INTEL_RAW_DIR": str(tmp_path / "raw"),
            "MLFLOW_TRACKING_URI": "http://mlflow.internal:5000",
        }
    )
    assert settings.tenant_dir == tmp_path / "h" / "tenants" / "acme"
    assert settings.raw_dir == tmp_path / "raw" and not settings.uses_shipped_sample
    assert settings.mlflow_tracking_uri == "http://mlflow.internal:5000"


@pytest.mark.parametrize("bad", ["", "Acme", "1acme", "acme-corp", "a" * 40, "x; drop schema marts"])
def test_tenant_ids_that_cannot_be_schema_names_are_rejected(tmp_path, bad):
    with pytest.raises(ValueError, match="tenant id"):
        Settings(home=tmp_path, tenant_id=bad)


def test_password_never_appears_in_descriptions(tmp_path):
    settings = Settings.from_env({"PGPASSWORD": "s3cret", "PGHOST": "db", "RETAIL_INTEL_HOME": str(tmp_path)})
    from retail_intel.warehouse import warehouse_for

    assert "s3cret" not in warehouse_for(settings.with_(target="postgres")).description


def test_packaged_resources_are_found():
    assert (resource_dir("dbt_project") / "dbt_project.yml").is_file()
    assert isinstance(resource_dir("seeds"), Path)
