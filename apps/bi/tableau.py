"""``retail-intel export tableau``: the tenant's Hyper extracts and live Tableau data sources.

Everything is read from the published warehouse through its interface, as of one publish. An
extract whose source is not published (no campaign scored yet, a model that did not train) is
skipped with the reason and its old file removed, so the folder never shows stale figures; the
others are written all the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from apps.bi.hyper import UnsupportedType, hyper_process, hyper_type_name, write_extract
from apps.bi.tables import EXTRACTS, LIVE_TABLES, Source
from apps.bi.tds import datasource_xml
from retail_intel.settings import Settings
from retail_intel.warehouse import TableDescription, warehouse_for

# What publishes each source, for the reason an extract is skipped.
_WRITTEN_BY = {("ml", "coupon_targets"): "retail-intel score"}


@dataclass
class TableauExport:
    folder: Path
    extracts: list[tuple[str, Path, int]] = field(default_factory=list)  # (name, file, rows)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (name, reason)
    datasources: list[Path] = field(default_factory=list)
    login: str | None = None  # the login the data sources connect as
    no_datasources: str | None = None  # why none was written


def export_tableau(settings: Settings, out: Path | None = None) -> TableauExport:
    warehouse = warehouse_for(settings)
    report = TableauExport(folder=out or settings.tableau_dir)
    wanted = list(dict.fromkeys([*(source for extract in EXTRACTS for source in extract.sources), *LIVE_TABLES]))
    present = [source for source in wanted if warehouse.exists(*source)]
    # Rows only of what the extracts hold; a live data source needs only the columns.
    extracted = [source for source in present if any(source in extract.sources for extract in EXTRACTS)]
    read = warehouse.read_consistent({f"{layer}.{table}": (layer, table) for layer, table in extracted})
    frames = {(layer, table): read[f"{layer}.{table}"] for layer, table in extracted}
    described = warehouse.describe(present)

    with hyper_process() as process:
        for extract in EXTRACTS:
            path = report.folder / f"{extract.name}.hyper"
            missing = [source for source in extract.sources if source not in frames]
            if missing:
                layer, table = missing[0]
                step = _WRITTEN_BY.get(missing[0], "retail-intel run")
                report.skipped.append((extract.name, f"{layer}.{table} is not published (`{step}` writes it)"))
                path.unlink(missing_ok=True)
                continue
            rows = extract.rows(frames)
            types = {column: _hyper_type(described, *extract.origin(column)) for column in rows.columns}
            report.extracts.append((extract.name, path, write_extract(process, path, extract.name, rows, types)))

    login = warehouse.reader_login()
    if login is None:
        report.no_datasources = (
            f"the warehouse is a DuckDB file ({warehouse.description}): Tableau opens the extracts; a live "
            "connection needs the PostgreSQL target"
        )
    elif not login.exists:
        report.no_datasources = (
            f"tenant {settings.tenant_id} has no BI login yet: `retail-intel tenants reader {settings.tenant_id}` "
            "creates it"
        )
    else:
        report.login = login.username
        live = report.folder / "live"
        live.mkdir(parents=True, exist_ok=True)
        for layer, table in (source for source in LIVE_TABLES if source in described):
            columns = _tableau_columns(described[(layer, table)])
            caption = f"{settings.tenant_id} {layer}.{table} (live)"
            path = live / f"{layer}.{table}.tds"
            path.write_text(datasource_xml(login, warehouse.schema(layer), table, columns, caption))
            report.datasources.append(path)
    return report


def _tableau_columns(description: TableDescription) -> list[tuple[str, str]]:
    """The columns a live data source declares; one of a type with no Tableau counterpart here is
    left out (Tableau still reads it from the connection) rather than stopping the export."""
    columns = []
    for name, kind in description.columns:
        try:
            columns.append((name, hyper_type_name(kind, name)))
        except UnsupportedType:
            continue
    return columns


def _hyper_type(described: dict[Source, TableDescription], source: Source, column: str) -> str:
    kinds = dict(described[source].columns)
    if column not in kinds:
        raise KeyError(f"{source[0]}.{source[1]} has no column {column!r}")
    return hyper_type_name(kinds[column], column)
