"""``retail-intel tenants``: the clients the platform serves, each with its own raw folder."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import click

from apps.cli.options import fail
from retail_intel.settings import DEFAULT_TENANT, Settings
from retail_intel.tenants import ARCHIVED, TenantError, TenantRegistry, label_key, resolve, tenant_label


def _registry(settings: Settings) -> TenantRegistry:
    return TenantRegistry.of(settings)


def _user(by: str | None) -> str:
    from ml.registry import current_user

    return by or current_user()


def _own_settings(settings: Settings, tenant_id: str) -> Settings:
    """Another tenant's settings: its registered folder and warehouse, not the invoking tenant's."""
    return resolve(settings.with_(tenant_id=tenant_id, raw_dir_override=None, warehouse_override=None))


@click.group()
def tenants() -> None:
    """Add, list, show and remove tenants (client companies)."""


@tenants.command("add")
@click.argument("tenant_id")
@click.option(
    "--raw-dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="The tenant's own folder of the nine Olist CSV files; automation reads only this folder.",
)
@click.option("--name", default=None, help="Display name (default: the id).")
@click.option(
    "--warehouse",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="DuckDB file. Default: <home>/tenants/<id>/warehouse.duckdb.",
)
@click.option("--by", default=None, help="Who (default: the user running the command).")
@click.pass_obj
def tenants_add(settings: Settings, tenant_id: str, raw_dir: Path, name: str | None, warehouse, by) -> None:
    """Register TENANT_ID with its raw folder."""
    from retail_intel.raw.fingerprint import raw_folder_fingerprint

    try:
        tenant = _registry(settings).add(
            tenant_id, raw_dir=raw_dir, display_name=name, warehouse=warehouse, by=_user(by), own_raw_dir=True
        )
    except (TenantError, ValueError) as error:
        fail(str(error), 2)
    click.echo(f"tenant {tenant.tenant_id!r} ({tenant.display_name}) added; raw folder {tenant.raw_dir}")
    if raw_folder_fingerprint(tenant.raw_dir) is None:
        click.echo(f"note: {tenant.raw_dir} does not hold all nine Olist files yet; the sensor waits for them.")
    _announce_reader(_own_settings(settings, tenant.tenant_id))
    click.echo(f"Build it now with: retail-intel --tenant {tenant.tenant_id} run")


def _announce_reader(settings: Settings) -> None:
    """Create (or give a new password to) the tenant's read-only BI login and print it once."""
    import secrets

    from retail_intel.warehouse import warehouse_for

    warehouse = warehouse_for(settings)
    password = secrets.token_urlsafe(24)
    role = warehouse.create_reader(password)
    if role is None:
        click.echo(f"BI tools read the tenant's own warehouse file, read-only: {settings.warehouse_path}")
        return
    click.echo(f"BI login (reads this tenant's schemas only): user {role}, password {password}")
    click.echo("The password is shown once; `retail-intel tenants reader ID` sets a new one.")


@tenants.command("reader")
@click.argument("tenant_id")
@click.pass_obj
def tenants_reader(settings: Settings, tenant_id: str) -> None:
    """Give TENANT_ID's read-only BI login a new password (PostgreSQL), printed once."""

    try:
        _registry(settings).require(tenant_id)
    except TenantError as error:
        fail(str(error), 2)
    _announce_reader(_own_settings(settings, tenant_id))


@tenants.command("list")
@click.option("--all", "include_archived", is_flag=True, help="Include archived tenants.")
@click.pass_obj
def tenants_list(settings: Settings, include_archived: bool) -> None:
    """Every tenant: status, engine state, last run and its champions, raw folder; then counts."""
    from retail_intel.switch import EngineSwitch

    registry = _registry(settings)
    listed = registry.list(include_archived=include_archived)
    if not listed:
        click.echo(f"No tenants registered in {settings.registry_path}; add one with `retail-intel tenants add`.")
        return
    last_runs = registry.last_runs()
    rows = [("tenant", "name", "status", "engine", "last run", "champions", "vs best baseline", "raw folder")]
    engines: Counter = Counter()
    outcomes: Counter = Counter()
    for tenant in listed:
        engine = EngineSwitch(settings.with_(tenant_id=tenant.tenant_id).engine_switch_path).state
        engines[engine] += 1
        run = last_runs.get(tenant.tenant_id)
        outcomes[run["status"] if run else "never run"] += 1
        served = (run or {}).get("champions", {})
        champions = ", ".join(f"{short} v{served[name]}" for name, short in _SHORT.items() if name in served)
        rows.append(
            (
                tenant.tenant_id,
                tenant.display_name,
                tenant.status,
                engine,
                f"{run['finished_at']} {run['status']}" if run else "never",
                champions or "-",
                _versus((run or {}).get("headlines", {})),
                str(tenant.raw_dir or "-"),
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    for row in rows:
        click.echo("  ".join(value.ljust(width) for value, width in zip(row, widths, strict=False)) + "  " + row[-1])
    engine_counts = ", ".join(f"{count} {state}" for state, count in sorted(engines.items()))
    run_counts = ", ".join(f"{count} {state}" for state, count in sorted(outcomes.items()))
    click.echo(f"{len(listed)} tenants; engine: {engine_counts}; last run: {run_counts}")


def _versus(headlines: dict[str, dict[str, object]]) -> str:
    """Each model's figure on its run's evaluation beside the best simple baseline's."""
    parts = []
    for name, short in _SHORT.items():
        figure = headlines.get(name)
        if figure and figure.get("value") is not None and figure.get("baseline_value") is not None:
            ours, theirs = f"{figure['value']:.3g}", f"{figure['baseline_value']:.3g}"
            parts.append(f"{short} {figure['metric']} {ours} vs {figure['baseline']} {theirs}")
    return ", ".join(parts) or "-"


# Model assets as `tenants list` names them.
_SHORT = {"ml/revenue_forecast": "forecast", "ml/customer_segments": "segments", "ml/recommendations": "recommender"}


@tenants.command("show")
@click.argument("tenant_id")
@click.pass_obj
def tenants_show(settings: Settings, tenant_id: str) -> None:
    """One tenant: its registry entry, engine state, champions and change history."""
    from retail_intel.switch import EngineSwitch
    from retail_intel.warehouse import warehouse_for

    try:
        tenant = _registry(settings).require(tenant_id)
    except TenantError as error:
        fail(str(error), 2)
    own = _own_settings(settings, tenant.tenant_id)
    switch = EngineSwitch(own.engine_switch_path).current()
    for label, value in (
        ("tenant", f"{tenant.tenant_id} ({tenant.display_name})"),
        ("status", tenant.status),
        ("raw folder", tenant.raw_dir or "-"),
        ("warehouse", warehouse_for(own).description),
        ("last published", f"{tenant.published_at or 'never'} from {tenant.published_raw_dir or '-'}"),
        ("engine", f"{switch.state} (by {switch.changed_by} at {switch.changed_at or '-'})"),
        ("created", f"{tenant.created_at} by {tenant.created_by}"),
        ("updated", f"{tenant.updated_at} by {tenant.updated_by}"),
        (
            "metrics label",
            f'tenant="{tenant_label(tenant.tenant_id, label_key(settings.registry_path))}" in the service\'s /metrics',
        ),
    ):
        click.echo(f"{label:<15} {value}")
    click.echo("champions      " + _champions(own))
    click.echo("changes:")
    for change in _registry(settings).changes(tenant.tenant_id):
        click.echo(f"  {change['changed_at']}  {change['changed_by']:<12} {change['action']}: {change['detail']}")


def _champions(settings: Settings) -> str:
    """'model vN, ...' from the tenant's own MLflow store; none before its first run."""
    if not settings.tenant_dir.exists():
        return "none yet"
    from apps.cli.models import MODELS
    from apps.cli.models import _registry as model_registry

    registry = model_registry(settings)
    versions = [
        f"{model} v{version}"
        for model in MODELS
        if (version := registry.version_for(settings.registered_model_name(model), "champion"))
    ]
    return ", ".join(versions) or "none yet"


@tenants.command("remove")
@click.argument("tenant_id")
@click.option("--purge", is_flag=True, help="Delete the tenant's data, models and history instead of archiving it.")
@click.option("--yes", is_flag=True, help="Do not ask before purging.")
@click.option("--by", default=None, help="Who (default: the user running the command).")
@click.pass_obj
def tenants_remove(settings: Settings, tenant_id: str, purge: bool, yes: bool, by: str | None) -> None:
    """Archive TENANT_ID (automation stops, its data stays); with --purge, delete everything of it."""
    from orchestration.lineage import registry_for
    from retail_intel.alerts import AlertLedger
    from retail_intel.warehouse import warehouse_for

    registry = _registry(settings)
    try:
        tenant = registry.require(tenant_id)
    except TenantError as error:
        fail(str(error), 2)
    if not purge:
        registry.set_status(tenant_id, ARCHIVED, by=_user(by))
        click.echo(f"tenant {tenant_id!r} archived: no automation runs for it; its data stays. --purge deletes it.")
        return
    if tenant_id == DEFAULT_TENANT:
        fail("the default tenant's data is not purged (its schemas on PostgreSQL are the unprefixed ones)", 2)
    own = _own_settings(settings, tenant_id)
    if not yes:
        click.confirm(
            f"Delete tenant {tenant_id!r}: {own.tenant_dir} (warehouse, models, runs) and its warehouse tables?",
            abort=True,
        )
    warehouse = warehouse_for(own)
    warehouse.destroy()
    warehouse.drop_reader()
    # Its registered models live in the store every tenant shares: only its own namespace goes.
    registry_for(own).delete_namespace()
    AlertLedger(own.alert_ledger_path).forget(tenant_id)
    if own.tenant_dir.exists():
        shutil.rmtree(own.tenant_dir)
    registry.delete(tenant_id, by=_user(by))
    click.echo(f"tenant {tenant_id!r} purged. Its raw folder {tenant.raw_dir or '-'} was left as it was.")


@tenants.group("key")
def key() -> None:
    """The tenant's API keys for the HTTP service (X-API-Key)."""


@key.command("create")
@click.argument("tenant_id")
@click.option("--label", default="", help="What the key is for (kept with it).")
@click.option("--by", default=None, help="Who (default: the user running the command).")
@click.pass_obj
def key_create(settings: Settings, tenant_id: str, label: str, by: str | None) -> None:
    """A new key for TENANT_ID, printed once (only its hash is kept)."""
    try:
        secret = _registry(settings).create_key(tenant_id, label=label, by=_user(by))
    except TenantError as error:
        fail(str(error), 2)
    click.echo(secret)
    click.echo(f"(the key for tenant {tenant_id!r} is shown once; send it as the X-API-Key header)", err=True)


@key.command("list")
@click.argument("tenant_id")
@click.pass_obj
def key_list(settings: Settings, tenant_id: str) -> None:
    """TENANT_ID's keys: id, label, created and revoked."""
    try:
        keys = _registry(settings).keys(tenant_id)
    except TenantError as error:
        fail(str(error), 2)
    if not keys:
        click.echo(f"tenant {tenant_id!r} has no API keys; `tenants key create {tenant_id}` makes one")
    for item in keys:
        revoked = f"revoked {item['revoked_at']} by {item['revoked_by']}" if item["revoked_at"] else "active"
        click.echo(f"{item['key_id']}  {item['created_at']} by {item['created_by']}  {revoked}  {item['label']}")


@key.command("revoke")
@click.argument("tenant_id")
@click.argument("key_id")
@click.option("--by", default=None, help="Who (default: the user running the command).")
@click.pass_obj
def key_revoke(settings: Settings, tenant_id: str, key_id: str, by: str | None) -> None:
    """Revoke TENANT_ID's key KEY_ID (the id `key list` shows): refused from the next request on."""
    try:
        _registry(settings).revoke_key(tenant_id, key_id, by=_user(by))
    except TenantError as error:
        fail(str(error), 2)
    click.echo(f"key {key_id} of tenant {tenant_id!r} revoked")
