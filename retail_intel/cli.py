"""``retail-intel``: the platform's command line.

Exit codes: 0 success; 1 the build or a data test failed; 2 bad input (a raw file, an
option) or the warehouse is busy. On any failure the published warehouse is unchanged.
"""

from __future__ import annotations

import sys
import time
from datetime import date
from pathlib import Path

import click

from retail_intel.settings import TARGETS, Settings


def _fail(message: str, code: int) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Root of all state (warehouse, dbt logs, later MLflow and Dagster). Env: RETAIL_INTEL_HOME.",
)
@click.option(
    "--tenant", default=None, help="Tenant (client) id; each has its own data and warehouse. Env: RETAIL_INTEL_TENANT."
)
@click.pass_context
def main(ctx: click.Context, home: Path | None, tenant: str | None) -> None:
    """Retail intelligence platform: raw Olist orders to tested marts."""
    try:
        ctx.obj = Settings.from_env(home=home, tenant_id=tenant)
    except ValueError as error:
        _fail(str(error), 2)


@main.command()
@click.option("--orders", type=click.IntRange(min=1), default=10_000, show_default=True, help="Number of orders.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder to write the nine CSV files into.",
)
@click.option(
    "--seed", type=int, default=42, show_default=True, help="Random seed; the same seed gives identical files."
)
@click.option(
    "--repeat-rate",
    type=click.FloatRange(0, 1, max_open=True),
    default=0.03,
    show_default=True,
    help="Share of customers (people) who order more than once.",
)
@click.option(
    "--messy-rate",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="Multiplier on Olist-like rates of quirky records (0 = clean).",
)
def generate(orders: int, out_dir: Path, seed: int, repeat_rate: float, messy_rate: float) -> None:
    """Write a synthetic data set in the Olist Kaggle format."""
    from retail_intel.generator import GeneratorConfig
    from retail_intel.generator import generate as generate_files

    started = time.perf_counter()
    config = GeneratorConfig(orders=orders, seed=seed, repeat_rate=repeat_rate, messy_rate=messy_rate)
    counts = generate_files(config, out_dir)
    for file_name, rows in counts.items():
        click.echo(f"  {file_name:<42} {rows:>10,} rows")
    click.echo(f"Wrote {len(counts)} files to {out_dir.resolve()} in {time.perf_counter() - started:.1f}s")


@main.command()
@click.option(
    "--raw-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder with the nine Olist CSV files. Default: the sample shipped with the package.",
)
@click.option(
    "--target",
    type=click.Choice(TARGETS),
    default=None,
    help="Warehouse: duckdb (default, one file) or postgres (PG* environment variables).",
)
@click.option(
    "--warehouse",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="DuckDB file to publish to. Default: <home>/tenants/<tenant>/warehouse.duckdb.",
)
@click.option(
    "--as-of-date",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Build the marts as of this day (later orders ignored). Default: the last purchase day.",
)
@click.pass_obj
def run(settings: Settings, raw_dir: Path | None, target: str | None, warehouse: Path | None, as_of_date) -> None:
    """Load the raw files, build and test the marts, and publish them atomically."""
    from retail_intel.dbt_runner import DbtBuildError
    from retail_intel.raw.loader import RawInputError
    from retail_intel.warehouse import WarehouseBusyError, build_and_publish

    settings = settings.with_(
        **{
            k: v
            for k, v in {"raw_dir_override": raw_dir, "target": target, "warehouse_override": warehouse}.items()
            if v
        }
    )
    if settings.uses_shipped_sample:
        click.echo("No --raw-dir given: using the sample data shipped with the package.")
    started = time.perf_counter()
    as_of: date | None = as_of_date.date() if as_of_date else None
    try:
        result = build_and_publish(settings, as_of_date=as_of, log=click.echo)
    except RawInputError as error:
        _fail(f"{error}\nNothing was published; the warehouse is unchanged.", 2)
    except WarehouseBusyError as error:
        _fail(str(error), 2)
    except DbtBuildError as error:
        _fail(str(error), 1)
    click.echo(
        f"dbt: {result.dbt.models} models, {result.dbt.tests} data tests, {result.dbt.unit_tests} unit tests passed"
        + (f", {len(result.dbt.warnings)} warnings" if result.dbt.warnings else "")
    )
    click.echo(result.summary.render())
    click.echo(f"Done in {time.perf_counter() - started:.1f}s")


if __name__ == "__main__":
    main()
