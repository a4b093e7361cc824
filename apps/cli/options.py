"""What several commands share: failing with an exit code, and the warehouse options."""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import NoReturn

import click

from retail_intel.settings import TARGETS, Settings


def fail(message: str, code: int) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def warehouse_options(command):
    """``--target`` and ``--warehouse`` for every command that reads or writes the warehouse: they
    replace the command's settings (passed as its first argument) before it runs."""

    @click.option(
        "--target",
        type=click.Choice(TARGETS),
        default=None,
        help="Warehouse: duckdb (default, one file) or postgres (PG* environment variables). Env: RETAIL_INTEL_TARGET.",
    )
    @click.option(
        "--warehouse",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="DuckDB file. Default: <home>/tenants/<tenant>/warehouse.duckdb. Env: RETAIL_INTEL_WAREHOUSE.",
    )
    @functools.wraps(command)
    def with_warehouse(settings: Settings, *args, target: str | None, warehouse: Path | None, **kwargs):
        changes = {"target": target, "warehouse_override": warehouse}
        settings = settings.with_(**{key: value for key, value in changes.items() if value})
        return command(settings, *args, **kwargs)

    return with_warehouse
