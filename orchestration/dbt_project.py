"""The dbt project, built in one place, with its manifest prepared ahead of loading.

The manifest is tenant-specific (schema names carry the tenant prefix), so it lives in
the tenant's dbt state folder. It is re-parsed only when a file of the dbt project or the
build variables change, never on every import.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

from dagster_dbt import DbtProject

from retail_intel.dbt_runner import dbt_command, dbt_environment
from retail_intel.settings import Settings
from retail_intel.warehouse import BUILD_SUFFIX

# Layers the dbt assets build inside a workspace; raw is published by the raw assets.
MODEL_LAYERS = ("staging", "intermediate", "marts")


def dbt_build_vars(settings: Settings) -> dict[str, object]:
    """Variables of the Dagster-driven build: models go to the workspace, raw is read as published."""
    suffix = "" if settings.target == "duckdb" else BUILD_SUFFIX
    return {"schema_prefix": settings.schema_prefix, "schema_suffix": suffix, "raw_schema_suffix": ""}


def manifest_dir(settings: Settings) -> Path:
    return settings.dbt_state_dir / "manifest" / settings.target


def _fingerprint(settings: Settings) -> str:
    digest = hashlib.sha256(json.dumps(dbt_build_vars(settings), sort_keys=True).encode())
    project_dir = settings.dbt_project_dir
    for path in sorted(project_dir.rglob("*")):
        if path.is_file() and path.suffix in {".sql", ".yml", ".yaml", ".csv", ".md"} and "target" not in path.parts:
            digest.update(str(path.relative_to(project_dir)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def prepare_manifest(settings: Settings) -> Path:
    """Run `dbt parse` when the project or its variables changed; return the manifest path."""
    target_dir = manifest_dir(settings)
    manifest = target_dir / "manifest.json"
    stamp = target_dir / "fingerprint"
    fingerprint = _fingerprint(settings)
    if manifest.exists() and stamp.exists() and stamp.read_text() == fingerprint:
        return manifest
    target_dir.mkdir(parents=True, exist_ok=True)
    env = dbt_environment(settings) | {"DBT_TARGET_PATH": str(target_dir)}
    completed = subprocess.run(
        dbt_command(settings, "parse", dbt_build_vars(settings)), env=env, capture_output=True, text=True
    )
    if completed.returncode != 0 or not manifest.exists():
        raise RuntimeError(f"dbt parse failed for {settings.dbt_project_dir}:\n{completed.stdout[-3000:]}")
    stamp.write_text(fingerprint)
    return manifest


def dbt_project_for(settings: Settings) -> DbtProject:
    prepare_manifest(settings)
    return DbtProject(
        project_dir=settings.dbt_project_dir,
        target_path=manifest_dir(settings),
        profiles_dir=settings.dbt_profiles_dir,
        target=settings.target,
    )
