"""What a training run was trained on: data as-of date, data hash, dbt manifest hash, code commit."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pandas as pd

import retail_intel
from ml.registry import ModelRegistry
from orchestration.dbt_project import manifest_dir
from retail_intel.settings import Settings


def data_hash(frame: pd.DataFrame) -> str:
    """Order-sensitive content hash of a frame (column names included)."""
    digest = hashlib.sha256(",".join(map(str, frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()[:16]


def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.exists() else "missing"


def code_version() -> str:
    """The git commit when running from a checkout; the package version when installed from a wheel."""
    repository = Path(retail_intel.__file__).resolve().parents[1]
    if (repository / ".git").exists():
        completed = subprocess.run(
            ["git", "-C", str(repository), "rev-parse", "HEAD"], capture_output=True, text=True, check=False
        )
        if completed.returncode == 0:
            return completed.stdout.strip()
    return f"retail-intel {retail_intel.__version__}"


def lineage(settings: Settings, training_data: pd.DataFrame, as_of_date: object) -> dict[str, str]:
    return {
        "as_of_date": str(as_of_date),
        "data_hash": data_hash(training_data),
        "dbt_manifest_hash": _file_hash(manifest_dir(settings) / "manifest.json"),
        "git_commit": code_version(),
        "tenant": settings.tenant_id,
    }


def registry_for(settings: Settings) -> ModelRegistry:
    """The tenant's view of the one MLflow store: its own models only (``<tenant>.<model>``)."""
    settings.tenant_dir.mkdir(parents=True, exist_ok=True)
    settings.mlflow_store_dir.mkdir(parents=True, exist_ok=True)
    return ModelRegistry(
        settings.mlflow_tracking_uri, artifact_root=settings.mlflow_artifact_root, namespace=settings.tenant_id
    )
