"""``retail-intel serve``: the HTTP service (apps/api) on this tenant's warehouse and champions."""

from __future__ import annotations

import click

from apps.cli.options import fail, warehouse_options
from retail_intel.settings import Settings


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option(
    "--refresh-seconds",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    help="How often to look for a new champion or a newly published warehouse.",
)
@click.option(
    "--drain-seconds",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    help="On SIGTERM or SIGINT, how long requests in flight may take to finish before the service exits.",
)
@click.option(
    "--multi-tenant/--single-tenant",
    default=None,
    help="Every tenant, by API key (X-API-Key), or this tenant alone without keys. "
    "Default: by key when the tenant registry holds more than one active tenant.",
)
@click.pass_obj
@warehouse_options
def serve(
    settings: Settings, host: str, port: int, refresh_seconds: float, drain_seconds: float, multi_tenant: bool | None
) -> None:
    """Serve recommendations, similar products, segments and the forecast over HTTP (/docs for the schema)."""
    import uvicorn

    from apps.api.app import create_app
    from apps.rules import RulesError, load_rules

    app = create_app(settings, refresh_seconds=refresh_seconds, multi_tenant=multi_tenant)
    if not app.state.tenancy.multi_tenant:
        # Loaded again at start-up, inside uvicorn, where a malformed file ends in a traceback:
        # checked here first, so the command stops with the file and the key at fault.
        try:
            load_rules(settings.rules_path)
        except RulesError as error:
            fail(str(error), 2)
    if app.state.tenancy.multi_tenant:
        click.echo(f"Serving every tenant by API key (X-API-Key) on http://{host}:{port} (OpenAPI at /docs)")
    else:
        click.echo(f"Serving tenant {settings.tenant_id!r} on http://{host}:{port} (OpenAPI at /docs)")
    # On SIGTERM or SIGINT uvicorn stops accepting connections, lets requests in flight finish
    # (at most the bound below, so that one stuck client cannot hold a deploy), then exits by the
    # signal it received.
    uvicorn.run(
        app, host=host, port=port, log_level="warning", access_log=False, timeout_graceful_shutdown=drain_seconds
    )
