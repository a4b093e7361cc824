"""``retail-intel export``: the tenant's tables in the files BI tools open (see apps/bi/)."""

from __future__ import annotations

from pathlib import Path

import click

from apps.cli.options import fail, warehouse_options
from retail_intel.settings import Settings


@click.group()
def export() -> None:
    """Export the tenant's tables for BI tools."""


@export.command("tableau")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder of the extracts. Default: <home>/tenants/<tenant>/tableau.",
)
@click.pass_obj
@warehouse_options
def tableau(settings: Settings, out: Path | None) -> None:
    """Hyper extracts of the segments, RFM, revenue with its forecast and the coupon targets, and
    live data sources (.tds, PostgreSQL) that connect as the tenant's read-only login."""
    from apps.bi.tableau import export_tableau
    from retail_intel.warehouse import TableMissing

    try:
        report = export_tableau(settings, out)
    except TableMissing as error:
        fail(f"{error} (build the warehouse first: `retail-intel run`)", 1)
    click.echo(f"Tableau extracts of tenant {settings.tenant_id} in {report.folder}:")
    for _name, path, rows in report.extracts:
        click.echo(f"  {path.name:<28} {rows:>10,} rows")
    for name, reason in report.skipped:
        click.echo(f"  {name + '.hyper':<28} skipped: {reason}")
    if report.datasources:
        click.echo(
            f"Live data sources ({len(report.datasources)}, one per table) in {report.folder / 'live'}: they connect "
            f"as {report.login}, and Tableau asks for its password."
        )
    else:
        click.echo(f"No live data source: {report.no_datasources}.")
    if not report.extracts:
        fail("no extract written: nothing the extracts read is published", 1)
