"""The dbt project, built in one place, with its manifest prepared ahead of loading.

dbt is launched one way, through dagster-dbt's ``DbtCliResource`` (``dbt_cli``), with its
variables from ``dbt_vars`` and its environment from ``dbt_environ``.

The manifest is tenant-specific (schema names carry the tenant prefix), so it lives in
the tenant's dbt state folder. It is re-parsed only when a file of the dbt project or the
build variables change, never on every import.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject
from packaging import version

from retail_intel.settings import Settings
from retail_intel.warehouse import BuildWorkspace, warehouse_for

# Layers the dbt assets build inside a workspace; raw is published by the raw assets.
MODEL_LAYERS = ("staging", "intermediate", "marts")


def dbt_vars(settings: Settings, as_of_date: str | None = None) -> dict[str, object]:
    """The dbt variables of every dbt command: the tenant's schemas, the build workspace's suffix,
    and the as-of day when one is asked for."""
    warehouse = warehouse_for(settings)
    variables: dict[str, object] = {
        "schema_prefix": warehouse.schema_prefix,
        "schema_suffix": warehouse.build_schema_suffix,
    }
    if as_of_date:
        variables["as_of_date"] = as_of_date
    return variables


class DbtCli(DbtCliResource):
    """dagster-dbt's resource, without two steps it takes before every dbt command that cost
    about 3.5 s a build on 2 cores, whatever the data's size:

    - it runs ``dbt --version`` in a process of its own to learn the version: the dbt
      executable is this environment's (``dbt_cli``), so the installed dbt-core's version is it;
    - it loads dbt's profile and adapter into this process, used only by its optional
      row-count and column-metadata fetching: the dbt asset reads those itself, in one query
      for every model (``orchestration.metadata.tables_metadata``).

    Both are private names of dagster-dbt; tests/orchestration/test_definitions.py fails if
    a release renames them, so the saving cannot vanish unnoticed.
    """

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(importlib.metadata.version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:
        return None


def dbt_cli(settings: Settings) -> DbtCliResource:
    return DbtCli(
        project_dir=str(settings.dbt_project_dir),
        profiles_dir=str(settings.dbt_profiles_dir),
        target=settings.target,  # the dbt target is named like the warehouse
        # The dbt script of this interpreter's environment: works without an activated venv.
        dbt_executable=str(Path(sys.executable).parent / "dbt"),
    )


@contextmanager
def dbt_environ(settings: Settings, workspace: BuildWorkspace | None = None) -> Iterator[None]:
    """The environment dbt needs, inside the block: dagster-dbt hands this process's environment
    to dbt, and the profile reads where to build from it.

    DBT_TARGET_PATH names the folder of the prepared manifest, whose partial_parse.msgpack
    dagster-dbt copies into each invocation's own target folder: the build then skips dbt's
    full parse (about 4 s of a 100K build). dbt reuses that state only if the profile's
    connection details are those of the parse, so the parse runs with the build's environment.
    """
    values = {
        **(workspace or warehouse_for(settings)).dbt_environment(),
        "DBT_TARGET_PATH": str(manifest_dir(settings)),
        "DBT_LOG_PATH": str(settings.dbt_state_dir / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
        "DBT_USE_COLORS": "false",
    }
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def manifest_dir(settings: Settings) -> Path:
    return settings.dbt_state_dir / "manifest" / settings.target


def _fingerprint(settings: Settings) -> str:
    # The environment is in it because dbt's partial-parse state is only valid for the same profile.
    digest = hashlib.sha256(
        json.dumps([dbt_vars(settings), warehouse_for(settings).dbt_environment()], sort_keys=True).encode()
    )
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
    with dbt_environ(settings):
        invocation = dbt_cli(settings).cli(
            ["parse", "--vars", json.dumps(dbt_vars(settings))], target_path=target_dir, raise_on_error=False
        )
        succeeded = invocation.is_successful()  # reads dbt's output without echoing it
    if not succeeded or not manifest.exists():
        raise RuntimeError(f"dbt parse failed for {settings.dbt_project_dir}: {invocation.get_error()}")
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
